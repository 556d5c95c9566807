"""The audit page's filter form: persona id, who, what, and a date range (all optional)."""

from __future__ import annotations

import re

from django import forms

from ..audit_words import ACTION_GROUPS, AUDIT_ACTIONS
from ..selectors import AuditFilters

_ACTION_SHAPE = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")


def _action_choices(current: str = "") -> list[tuple[str, object]]:
    choices: list[tuple[str, object]] = [("", "Any action")]
    choices += [
        (title, [(a, label[:1].upper() + label[1:]) for a, label in items])
        for title, items in ACTION_GROUPS
    ]
    if current and current not in AUDIT_ACTIONS:
        choices.append((current, current))
    return choices


class AuditFilterForm(forms.Form):
    persona = forms.CharField(
        label="Persona id",
        required=False,
        max_length=64,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "e.g. p5317866", "class": "mono"}),
    )
    actor = forms.CharField(
        label="Who",
        required=False,
        max_length=150,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "e.g. alice", "list": "audit-actors"}),
    )
    action = forms.CharField(label="What", required=False, max_length=64, widget=forms.Select())
    date_from = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-01-31."},
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-01-31."},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        current = str(self.data.get("action", "")) if self.is_bound else ""
        self.fields["action"].widget.choices = _action_choices(current)  # type: ignore[attr-defined]

    def clean_action(self) -> str:
        action: str = self.cleaned_data.get("action", "")
        if action and not _ACTION_SHAPE.match(action):
            raise forms.ValidationError("Choose an action from the list.")
        return action

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> AuditFilters:
        """The valid part of what was typed (a bad field is ignored and shows its message)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        ok = {name: data.get(name) for name in self.fields if name not in self.errors}
        return AuditFilters(
            persona_id=str(ok.get("persona") or ""),
            actor=str(ok.get("actor") or ""),
            action=str(ok.get("action") or ""),
            date_from=ok.get("date_from"),  # type: ignore[arg-type]
            date_to=ok.get("date_to"),  # type: ignore[arg-type]
        )

    def query(self) -> dict[str, str]:
        """The filters as URL query parameters (for pagination and export links)."""
        f = self.filters()
        params = {
            "persona": f.persona_id,
            "actor": f.actor,
            "action": f.action,
            "date_from": f.date_from.isoformat() if f.date_from else "",
            "date_to": f.date_to.isoformat() if f.date_to else "",
        }
        return {k: v for k, v in params.items() if v}

"""The form that links a persona to its counterpart in another workspace.

It checks the shape of what was typed (a workspace of the user's, a persona id, "id = id" lines
for the replica and document mappings); whether the user may edit there and whether the persona
exists are decided by services/promotion.py. No models are written here.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ARROWS = ("→", "->", "=")


def parse_id_pairs(text: str) -> dict[str, str]:
    """{"r1": "r2"} from lines like "r1 = r2" (or "r1 -> r2", "r1 → r2"); blank lines ignored.
    Raises ValidationError naming the first line that is not a pair of ids."""
    pairs: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        for arrow in _ARROWS:
            if arrow in line:
                left, _, right = line.partition(arrow)
                break
        else:
            left, right = line, ""
        left, right = left.strip(), right.strip()
        if not (_ID.fullmatch(left) and _ID.fullmatch(right)):
            raise forms.ValidationError(
                f"Line {number} (“{line[:80]}”) is not a pair of ids. Write one pair per line: "
                "the id here = the id in the other workspace."
            )
        if left in pairs and pairs[left] != right:
            raise forms.ValidationError(
                f"Line {number}: {left} is already mapped to {pairs[left]}."
            )
        pairs[left] = right
    return pairs


_MAP_HELP = "One pair per line: the id in this workspace = the id in the other one."


class PersonaLinkForm(forms.Form):
    """Which persona of which workspace is the counterpart, and how ids translate."""

    workspace = forms.ChoiceField(
        label="Other workspace",
        error_messages={
            "required": "Choose the workspace of the counterpart.",
            "invalid_choice": "Choose one of your other workspaces.",
        },
    )
    persona_id = forms.CharField(
        label="Counterpart persona",
        max_length=64,
        error_messages={"required": "Choose the counterpart persona."},
    )
    replicas = forms.CharField(
        label="Replica ids",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_MAP_HELP,
    )
    documents = forms.CharField(
        label="Document ids",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_MAP_HELP,
    )

    def __init__(self, *args: Any, workspaces: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["workspace"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a workspace"), *workspaces]

    def clean_persona_id(self) -> str:
        value = str(self.cleaned_data["persona_id"]).strip()
        if not _ID.fullmatch(value):
            raise forms.ValidationError("That is not a persona id (like p5317866).")
        return value

    def clean_replicas(self) -> dict[str, str]:
        return parse_id_pairs(str(self.cleaned_data.get("replicas") or ""))

    def clean_documents(self) -> dict[str, str]:
        return parse_id_pairs(str(self.cleaned_data.get("documents") or ""))

"""The "Try it" form: which replica joins, the call's name, an optional greeting, test mode.

Field names are the keys of Tavus's create-conversation body. Shape checks only; the service
decides everything else.
"""

from __future__ import annotations

from typing import Any

from django import forms

from ..persona.jsontypes import JSONObject


def replica_choices(replicas: list[JSONObject]) -> list[tuple[str, str]]:
    """Stock replicas first, then the account's own, each labelled in plain words."""

    def label(replica: JSONObject) -> str:
        name = str(replica.get("replica_name") or replica.get("replica_id"))
        kind = "Tavus stock" if replica.get("replica_type") == "system" else "your replica"
        return f"{name} ({kind})"

    ordered = sorted(replicas, key=lambda r: (r.get("replica_type") != "system", label(r)))
    return [(str(r.get("replica_id")), label(r)) for r in ordered if r.get("replica_id")]


class TryPersonaForm(forms.Form):
    replica_id = forms.ChoiceField(
        label="Replica",
        required=False,
        widget=forms.RadioSelect,
        help_text="This persona has no default replica: choose the face and voice that joins the call.",
    )
    conversation_name = forms.CharField(
        label="Conversation name",
        max_length=255,
        required=False,
        help_text="Shown in the conversations list so teammates know whose test call it is.",
    )
    custom_greeting = forms.CharField(
        label="Custom greeting (optional)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the replica says first. Leave empty to use the persona's usual opening.",
    )
    conversational_context = forms.CharField(
        label="Context for this call (optional)",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Extra background for this one conversation, e.g. who you are pretending to be.",
    )
    test_mode = forms.BooleanField(
        label="Test mode (no replica joins, nothing is billed — for checking the setup)",
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        replicas: list[JSONObject] | None = None,
        needs_replica: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.needs_replica = needs_replica
        if needs_replica:
            field = self.fields["replica_id"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = replica_choices(replicas or [])
            field.required = True
            field.error_messages["required"] = "Choose which replica joins the call."
        else:
            del self.fields["replica_id"]

"""Forms of invitations: inviting an address with a role, and choosing an account when accepting.

They check the shape of what was typed; who may be invited (not a member, not invited twice) is
decided in services/invitations.py. Passwords go through Django's password validators.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from ..models import Role
from ..models.invitations import INVITATION_VALID_DAYS


class InvitationForm(forms.Form):
    """An email address and the role it will join with. Prefixed: the Members page also has the
    "Add a member" form, with a role field of its own."""

    prefix = "invitation"

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        help_text=f"They get a link, valid for {INVITATION_VALID_DAYS} days, to join with a new "
        "or an existing account.",
        error_messages={
            "required": "Type the email address to invite.",
            "invalid": "That is not an email address. Type it as name@example.com.",
        },
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.EDITOR)


class InvitationSignupForm(UserCreationForm):  # type: ignore[type-arg]
    """A username and a password for the account an invitation creates (its email is the invited
    address, so the password validators can tell a password too close to it)."""

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.email = email
        self.fields[
            "username"
        ].help_text = "The name you log in with: letters, digits and @ . + - _ only."
        self.fields["username"].widget.attrs["autocomplete"] = "username"

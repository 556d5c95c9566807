"""Forms of the workspace admin pages: API keys, members and workspace settings.

They check the shape of what was typed; the rules (one active key, at least one admin) live in
services/workspaces.py. Secret inputs are write-only: a PasswordInput that never renders its value
back, not even when the form comes back with errors. No models are written here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings

from ..models import Role, RuleRole
from ..persona.review_rules import rule_target_groups
from ..services.workspaces import tavus_address_allowed

_SECRET_MIN, _SECRET_MAX = 8, 200


def _secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        min_length=_SECRET_MIN,
        max_length=_SECRET_MAX,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "new-password", "spellcheck": "false"},
        ),
        help_text="Paste the key from the Tavus developer portal. "
        "After saving, only its last four characters are shown.",
        error_messages={
            "required": "Paste the API key here.",
            "min_length": "That does not look like a Tavus API key: it is too short.",
            "max_length": "That is too long for a Tavus API key.",
        },
    )


def _check_secret_shape(secret: str) -> str:
    if any(ch.isspace() for ch in secret):
        raise forms.ValidationError(
            "A Tavus API key has no spaces or line breaks. Copy it again from the Tavus portal."
        )
    return secret


class ApiKeyAddForm(forms.Form):
    """A new named key: its name, its secret, and whether it becomes the active key."""

    label = forms.CharField(
        label="Name",
        max_length=60,
        help_text="A name your team recognises, such as “production” or “backup”.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "production"}),
        error_messages={"required": "Give the key a name."},
    )
    secret = _secret_field("API key")
    activate = forms.BooleanField(
        label="Make this the active key",
        required=False,
        help_text="The active key is the one every page uses. "
        "The first key of a workspace always becomes active.",
    )

    def clean_secret(self) -> str:
        return _check_secret_shape(self.cleaned_data["secret"])


class ApiKeyRotateForm(forms.Form):
    """A new secret for an existing named key."""

    secret = _secret_field("New API key")

    def clean_secret(self) -> str:
        return _check_secret_shape(self.cleaned_data["secret"])


class MemberAddForm(forms.Form):
    """Invite an existing user by username or email, with a role."""

    username_or_email = forms.CharField(
        label="Username or email",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="They need an account on this dashboard already.",
        error_messages={"required": "Type the person's username or email address."},
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.EDITOR)


class MemberRoleForm(forms.Form):
    """A member's new role."""

    role = forms.ChoiceField(label="Role", choices=Role.choices)


class WorkspaceSettingsForm(forms.Form):
    """Name, Tavus address, review rule and test-conversation limit of a workspace."""

    name = forms.CharField(
        label="Name", max_length=100, error_messages={"required": "A workspace needs a name."}
    )
    tavus_base_url = forms.URLField(
        label="Tavus API address",
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="Leave empty to use Tavus itself. Change it only for a test server or a proxy.",
        error_messages={"invalid": "Type a full web address, such as https://tavusapi.com."},
    )
    requires_approval = forms.BooleanField(
        label="Changes need approval",
        required=False,
        help_text="When on, edits to personas wait for reviewers before they reach Tavus.",
    )
    approvals_required = forms.IntegerField(
        label="Approvals needed",
        min_value=1,
        max_value=10,
        help_text="How many reviewers (other than the author) must approve a change.",
        error_messages={"min_value": "At least one approval is needed."},
    )
    conversation_max_minutes = forms.IntegerField(
        label="End test conversations after (minutes)",
        min_value=1,
        max_value=24 * 60,
        help_text="Test conversations still running after this long are ended for you, "
        "so they stop counting against the account's limit.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["tavus_base_url"].widget.attrs["placeholder"] = settings.TAVUS_API_BASE_URL

    def clean_tavus_base_url(self) -> str:
        url: str = self.cleaned_data["tavus_base_url"].strip()
        if not url:
            return ""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise forms.ValidationError("The address must start with https:// (or http://).")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise forms.ValidationError(
                "Type only the server address, without a user name, ? or #."
            )
        if not tavus_address_allowed(url):
            allowed = ", ".join(settings.TAVUS_ALLOWED_BASE_URLS)
            raise forms.ValidationError(
                f"This server may only send keys to these Tavus addresses: {allowed}. "
                "Ask whoever runs it to add another (TAVUS_ALLOWED_BASE_URLS)."
            )
        return url.rstrip("/")


class ReviewRuleForm(forms.Form):
    """A required-reviewer rule: a part of the persona, and the members and/or role whose
    approval a change touching it needs. `reviewers` lists the members able to review."""

    pointer = forms.ChoiceField(
        label="Part of the persona",
        help_text="A change touching this part (or anything inside it) triggers the rule.",
        error_messages={"required": "Choose a part of the persona."},
    )
    reviewers = forms.MultipleChoiceField(
        label="Required reviewers",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Any one of them can approve. Only Reviewers and Admins can be chosen.",
    )
    role = forms.ChoiceField(
        label="Or anyone holding",
        required=False,
        choices=RuleRole.choices,
        help_text="An approval from anyone with this role also meets the rule.",
    )
    description = forms.CharField(
        label="Why (optional)",
        required=False,
        max_length=300,
        help_text="Shown on the review page, e.g. “Tools reach our order system”.",
    )

    def __init__(self, *args: object, reviewers: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        pointer = self.fields["pointer"]
        assert isinstance(pointer, forms.ChoiceField)
        pointer.choices = [("", "Choose…"), *rule_target_groups()]
        people = self.fields["reviewers"]
        assert isinstance(people, forms.MultipleChoiceField)
        people.choices = reviewers

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not data.get("reviewers") and not data.get("role") and "reviewers" not in self.errors:
            self.add_error(
                "reviewers",
                "Choose at least one member, or a role, whose approval the rule asks for.",
            )
        return data

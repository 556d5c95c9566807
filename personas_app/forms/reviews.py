"""Forms of the review pages: a change's title and description, comments, and a reviewer's decision.

They check shape only; who may do what is the service's job (services/reviews.py).
"""

from __future__ import annotations

from django import forms

from personas_app.models import ReviewDecision


class ChangeDetailsForm(forms.Form):
    """What the change is called and why it is made."""

    title = forms.CharField(
        label="Title",
        max_length=200,
        help_text="One line reviewers see in the queue, e.g. “Shorter greeting for the help desk”.",
        error_messages={"required": "Give the change a short title."},
    )
    description = forms.CharField(
        label="Why this change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What you changed and why, so a reviewer knows what to look for.",
    )


class CommentForm(forms.Form):
    """A comment on the whole change, or on one of its operations (op_index)."""

    body = forms.CharField(
        label="Comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write something before sending the comment."},
    )
    op_index = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("Write something before sending the comment.")
        return body


class DecisionForm(forms.Form):
    """A reviewer approves or asks for changes; asking for changes needs a reason."""

    decision = forms.ChoiceField(
        label="Decision",
        choices=ReviewDecision.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether you approve or ask for changes."},
    )
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional when approving; say what needs to change when asking for changes.",
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("decision") == ReviewDecision.REQUEST_CHANGES
            and not str(cleaned.get("comment", "")).strip()
        ):
            self.add_error("comment", "Say what needs to change, so the author knows what to do.")
        return cleaned

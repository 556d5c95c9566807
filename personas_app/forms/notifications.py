"""The notification preferences form: one choice per kind of notification, and the daily digest."""

from __future__ import annotations

from django import forms
from django.conf import settings

from ..models import Channel, NotificationKind


class NotificationPreferencesForm(forms.Form):
    """Field names are the notification kinds (NotificationKind values), plus daily_digest."""

    daily_digest = forms.BooleanField(
        label="Send me one email a day instead of one email per notification",
        required=False,
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["daily_digest"].help_text = (
            f"It comes every day at {settings.NOTIFICATIONS_DIGEST_HOUR}:00 "
            f"({settings.TIME_ZONE} time) and lists the notifications you chose to get by email "
            "that were not emailed yet."
        )
        for kind in NotificationKind:
            self.fields[kind.value] = forms.ChoiceField(
                label=kind.label, choices=Channel.choices, widget=forms.RadioSelect
            )
        # The digest after the kinds, as the page reads.
        self.order_fields([*NotificationKind.values, "daily_digest"])

    def channels(self) -> dict[str, str]:
        return {kind: self.cleaned_data[kind] for kind in NotificationKind.values}

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[kind] for kind in NotificationKind.values]

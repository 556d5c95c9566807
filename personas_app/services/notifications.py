"""Notifications: who hears about what, in the app and by email (sent by background tasks).

The review and persona services call one notify_* function at the moment something happens; the
notification is made once that transaction commits (transaction.on_commit, robust: a failure
here is logged and never undoes or fails the action itself). Recipients are members of the
workspace, never the person who acted. Each one's preference for the kind (NotificationPreference,
else DEFAULT_CHANNELS) decides: "in_app" makes an unread row; "email" makes a row that is never
shown in the app and queues the email; "both" does both; "off" makes nothing. Users who chose
the daily digest get no email at once: their first notification to email schedules their digest
task (notifications_digest_user_task, at NOTIFICATIONS_DIGEST_HOUR), which sends everything
pending in one email; `manage.py notifications_digest` does the same for everyone (cron).

Emails hold titles, names and an absolute link (settings.SITE_URL + the page): never a persona's
values, a patch or a comment's text, which could carry a secret. Membership is checked again
when an email is sent. Nothing here renders a page or reads a request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from ..models import (
    DEFAULT_CHANNELS,
    AuditEvent,
    ChangeRequest,
    ChangeSet,
    Channel,
    Membership,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationSettings,
    PersonaFollow,
    Role,
)
from .scheduling import schedule_once

__all__ = [
    "notification_email_send",
    "notification_email_task",
    "notification_mark_all_read",
    "notification_mark_read",
    "notification_preferences_save",
    "notifications_digest_send",
    "notifications_digest_task",
    "notifications_digest_user_task",
    "notify",
    "notify_change",
    "notify_persona_changed_outside",
]

logger = logging.getLogger(__name__)

# What happened to a change (request or set), and the kind of notification it makes.
CHANGE_EVENTS: dict[str, str] = {
    "submitted": NotificationKind.REVIEW_REQUESTED,
    "commented": NotificationKind.COMMENT,
    "approved": NotificationKind.APPROVED,
    "changes_requested": NotificationKind.CHANGES_REQUESTED,
    "applied": NotificationKind.APPLIED,
    "apply_failed": NotificationKind.APPLY_FAILED,
}

_TITLES: dict[str, str] = {
    NotificationKind.REVIEW_REQUESTED: "{actor} asked for a review of {what}",
    NotificationKind.COMMENT: "{actor} commented on {what}",
    NotificationKind.APPROVED: "{actor} approved {what}",
    NotificationKind.CHANGES_REQUESTED: "{actor} asked for changes to {what}",
    NotificationKind.APPLIED: "{What} was applied",
    NotificationKind.APPLY_FAILED: "{What} could not be applied",
}


# -- Making notifications -----------------------------------------------------------------------


def notify(
    *,
    workspace_id: int,
    kind: str,
    recipient_ids: Iterable[int],
    actor: AbstractBaseUser | None,
    title: str,
    link: str,
    text: str = "",
) -> None:
    """Notify these users once the current transaction commits (at once outside one)."""
    transaction.on_commit(
        partial(
            _deliver,
            workspace_id=workspace_id,
            kind=kind,
            recipient_ids=set(recipient_ids),
            actor_id=actor.pk if actor is not None else None,
            actor_name=actor.get_username() if actor is not None else "",
            title=title,
            link=link,
            text=text,
        ),
        robust=True,
    )


def _channels(user_ids: set[int], kind: str) -> dict[int, str]:
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=user_ids, kind=kind).values_list(
            "user_id", "channel"
        )
    )
    return {user_id: chosen.get(user_id, DEFAULT_CHANNELS[kind]) for user_id in user_ids}


def _digest_users(user_ids: Iterable[int]) -> set[int]:
    return set(
        NotificationSettings.objects.filter(user_id__in=user_ids, daily_digest=True).values_list(
            "user_id", flat=True
        )
    )


def _deliver(
    *,
    workspace_id: int,
    kind: str,
    recipient_ids: set[int],
    actor_id: int | None,
    actor_name: str,
    title: str,
    link: str,
    text: str,
) -> None:
    members = set(
        Membership.objects.filter(workspace_id=workspace_id, user_id__in=recipient_ids)
        .exclude(user_id=actor_id)
        .values_list("user_id", flat=True)
    )
    channels = {uid: ch for uid, ch in _channels(members, kind).items() if ch != Channel.OFF}
    if not channels:
        return
    digest = _digest_users(channels)
    with transaction.atomic():
        made = Notification.objects.bulk_create(
            Notification(
                recipient_id=user_id,
                workspace_id=workspace_id,
                kind=kind,
                title=title[:300],
                text=text[:500],
                link=link[:500],
                actor_name=actor_name,
                in_app=channel in {Channel.IN_APP, Channel.BOTH},
                by_email=channel in {Channel.EMAIL, Channel.BOTH},
            )
            for user_id, channel in sorted(channels.items())
        )
        for notification in made:
            if not notification.by_email:
                continue
            if notification.recipient_id in digest:
                _digest_schedule(user_id=notification.recipient_id)
            else:
                notification_email_task.enqueue(_id_of(notification, kind))


def _next_digest_time(now: datetime) -> datetime:
    """The next NOTIFICATIONS_DIGEST_HOUR o'clock after `now`, in the dashboard's TIME_ZONE."""
    local = timezone.localtime(now)
    due = local.replace(hour=settings.NOTIFICATIONS_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    # Adding a day to an aware time keeps the wall-clock hour across a DST change.
    return due if due > local else due + timedelta(days=1)


def _digest_schedule(*, user_id: int) -> None:
    """Make sure this digest user's digest task is scheduled at the next digest hour: one
    pending task per user (services.scheduling)."""
    _digest_at(user_id, _next_digest_time(timezone.now()))


def _digest_at(user_id: int, due: datetime) -> None:
    schedule_once(
        NotificationSettings.objects.filter(user_id=user_id),
        field="digest_due_at",
        due=due,
        lost_after=timedelta(days=1),
        task=notifications_digest_user_task,
        args=(user_id,),
    )


def _id_of(notification: Notification, kind: str) -> int:
    """The new row's id (bulk_create sets it on SQLite 3.35+ and PostgreSQL)."""
    if notification.pk is None:
        raise RuntimeError(f"A {kind} notification was saved without an id.")
    return int(notification.pk)


# -- What the services call ---------------------------------------------------------------------


def _reviewer_ids(workspace_id: int) -> list[int]:
    return list(
        Membership.objects.filter(
            workspace_id=workspace_id, role__in=[Role.REVIEWER, Role.ADMIN]
        ).values_list("user_id", flat=True)
    )


def notify_change(
    *, change: ChangeRequest | ChangeSet, event: str, actor: AbstractBaseUser | None
) -> None:
    """Something happened to a change request or a change set (`event` is a key of
    CHANGE_EVENTS): a submit asks the workspace's reviewers; the rest tell the author."""
    kind = CHANGE_EVENTS[event]
    if isinstance(change, ChangeRequest):
        what = f"change #{change.pk} “{change.title}”"
        link = reverse("personas:review_detail", args=[change.workspace.slug, change.pk])
    else:
        what = f"change set #{change.pk} “{change.title}”"
        link = reverse("personas:changeset_detail", args=[change.workspace.slug, change.pk])
    if kind == NotificationKind.REVIEW_REQUESTED:
        recipients = [uid for uid in _reviewer_ids(change.workspace_id) if uid != change.author_id]
    else:
        recipients = [change.author_id] if change.author_id is not None else []
    actor_name = actor.get_username() if actor is not None else "Someone"
    title = _TITLES[kind].format(actor=actor_name, what=what, What=what[0].upper() + what[1:])
    text = f"In {change.workspace.name}."
    if kind == NotificationKind.APPLY_FAILED:
        text += " Open it to see what went wrong and try again."
    notify(
        workspace_id=change.workspace_id,
        kind=kind,
        recipient_ids=recipients,
        actor=actor,
        title=title,
        link=link,
        text=text,
    )


def notify_persona_changed_outside(*, event: AuditEvent) -> None:
    """A persona was seen changed outside the dashboard (the audit record of that version):
    tell whoever follows it."""
    followers = PersonaFollow.objects.filter(
        workspace_id=event.workspace_id, persona_id=event.persona_id
    ).values_list("user_id", flat=True)
    name = event.persona_name or event.persona_id
    notify(
        workspace_id=event.workspace_id,
        kind=NotificationKind.PERSONA_CHANGED_OUTSIDE,
        recipient_ids=list(followers),
        actor=None,
        title=f"“{name}” was changed outside the dashboard",
        # The persona's history, at this version: what changed, and from what.
        link=reverse("personas:persona_history", args=[event.workspace.slug, event.persona_id])
        + f"#event-{event.pk}",
        text=f"In {event.workspace.name}: someone changed it in the Tavus portal or the API.",
    )


# -- Email --------------------------------------------------------------------------------------


def _site_url() -> str:
    """Where people open the dashboard: SITE_URL (a worker has no request to ask)."""
    return settings.SITE_URL.rstrip("/") or "http://localhost:8000"


def _absolute(link: str) -> str:
    return _site_url() + link


def _is_member(notification: Notification) -> bool:
    return Membership.objects.filter(
        workspace_id=notification.workspace_id, user_id=notification.recipient_id
    ).exists()


def _send(user: AbstractBaseUser, subject: str, template: str, context: dict[str, object]) -> None:
    context = {**context, "user": user, "site_url": _site_url()}
    send_mail(
        subject=f"[Persona Studio] {' '.join(subject.split())}",
        message=render_to_string(f"notifications/{template}.txt", context),
        html_message=render_to_string(f"notifications/{template}.html", context),
        from_email=None,
        recipient_list=[str(getattr(user, "email", ""))],
    )


def notification_email_send(*, notification_id: int) -> str:
    """Email one notification, once: skipped when it was already emailed, when its recipient
    left the workspace, has no address, or now takes the daily digest."""
    notification = (
        Notification.objects.select_related("recipient", "workspace")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or not notification.by_email or notification.emailed_at:
        return "nothing to send"
    if not _is_member(notification):
        return "not a member any more"
    if not getattr(notification.recipient, "email", ""):
        return "no email address"
    if _digest_users([notification.recipient_id]):
        # They switched the digest on after this was made: it goes in their next digest.
        _digest_schedule(user_id=notification.recipient_id)
        return "left for the daily digest"
    # Claim it with one conditional UPDATE, so two runs of the task send one email.
    now = timezone.now()
    claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=now
    )
    if not claimed:
        return "already sent"
    try:
        _send(
            notification.recipient,
            notification.title,
            "email",
            {"notification": notification, "url": _absolute(notification.link)},
        )
    except BaseException:
        Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
        raise
    return "sent"


@task()
def notification_email_task(notification_id: int) -> str:
    """Send one notification's email (notification_email_send)."""
    return notification_email_send(notification_id=notification_id)


def _digest_pending(now: datetime, user_ids: list[int] | None) -> QuerySet[Notification]:
    pending = Notification.objects.filter(
        by_email=True,
        emailed_at__isnull=True,
        created_at__lte=now,
        recipient__notification_settings__daily_digest=True,
    ).select_related("workspace")
    if user_ids is None:
        # The daily run for everyone (cron): the last day's.
        return pending.filter(created_at__gt=now - timedelta(days=1))
    # A user's own digest task: everything pending since their last digest, however old.
    return pending.filter(recipient_id__in=user_ids)


def _claimed(ids: list[int], now: datetime) -> set[int]:
    return set(Notification.objects.filter(pk__in=ids, emailed_at=now).values_list("pk", flat=True))


def notifications_digest_send(
    *, now: datetime | None = None, user_ids: Iterable[int] | None = None
) -> int:
    """Send each daily-digest user one email with the notifications not emailed yet (those of
    workspaces they still belong to): the last day's for everyone, or, for the given
    `user_ids`, all of theirs. Returns how many emails were sent."""
    now = now or timezone.now()
    only = None if user_ids is None else list(user_ids)
    User = get_user_model()
    sent = 0
    for user_id in sorted(set(_digest_pending(now, only).values_list("recipient_id", flat=True))):
        user = User.objects.get(pk=user_id)
        workspaces = Membership.objects.filter(user_id=user_id).values_list(
            "workspace_id", flat=True
        )
        items = list(
            _digest_pending(now, only)
            .filter(recipient_id=user_id, workspace_id__in=workspaces)
            .order_by("created_at", "id")
        )
        if not items or not getattr(user, "email", ""):
            continue
        ids = [n.pk for n in items]
        Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).update(emailed_at=now)
        # Only those this run claimed (another run at the same moment keeps the rest).
        items = [n for n in items if n.pk in _claimed(ids, now)]
        entries = [(n, _absolute(n.link)) for n in items]
        count = len(entries)
        subject = f"Your daily summary: {count} notification{'s' if count != 1 else ''}"
        try:
            _send(user, subject, "digest", {"entries": entries, "count": count})
        except BaseException:
            Notification.objects.filter(pk__in=[n.pk for n, _ in entries]).update(emailed_at=None)
            raise
        sent += 1
    return sent


@task()
def notifications_digest_task() -> int:
    """Send the daily digests of everyone (notifications_digest_send), for a scheduler."""
    return notifications_digest_send()


# A digest whose email could not be sent (the mail server down) is tried again this much later.
DIGEST_RETRY = timedelta(hours=1)


@task()
def notifications_digest_user_task(user_id: int) -> int:
    """One user's digest, scheduled by _digest_schedule: send what is pending in one email.

    The due time is cleared first, so a notification made while this runs schedules the next
    digest (this one takes only rows made before it starts). A user who switched the digest off
    meanwhile gets each pending notification at once, one email each, as they now chose. When
    the email cannot be sent, its rows stay pending and the digest is tried again an hour later
    (the task still fails, so the worker's log shows why). Returns how many emails were sent.
    """
    NotificationSettings.objects.filter(user_id=user_id).update(digest_due_at=None)
    try:
        if _digest_users([user_id]):
            return notifications_digest_send(user_ids=[user_id])
        pending = Notification.objects.filter(
            recipient_id=user_id, by_email=True, emailed_at__isnull=True
        ).order_by("created_at", "id")
        results = [
            notification_email_send(notification_id=pk)
            for pk in pending.values_list("pk", flat=True)
        ]
        return results.count("sent")
    except Exception:
        _digest_at(user_id, timezone.now() + DIGEST_RETRY)  # unless one is scheduled already
        raise


# -- The user's own choices ---------------------------------------------------------------------


def notification_mark_read(*, user: AbstractBaseUser, notification_id: int) -> bool:
    """Mark one of the user's notifications read; False when it is not theirs."""
    mine = Notification.objects.filter(pk=notification_id, recipient_id=user.pk)
    mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    return mine.exists()


def notification_open(*, user: AbstractBaseUser, notification_id: int) -> str | None:
    """Mark one of the user's notifications read and return the page it is about (None when the
    notification is not theirs)."""
    if not notification_mark_read(user=user, notification_id=notification_id):
        return None
    return Notification.objects.filter(pk=notification_id).values_list("link", flat=True).first()


def notification_mark_all_read(*, user: AbstractBaseUser) -> int:
    return Notification.objects.filter(
        recipient_id=user.pk, in_app=True, read_at__isnull=True
    ).update(read_at=timezone.now())


def notification_preferences_save(
    *, user: AbstractBaseUser, channels: dict[str, str], daily_digest: bool
) -> None:
    """Store the user's channel for each kind (a kind left out keeps its choice)."""
    with transaction.atomic():
        for kind, channel in channels.items():
            if kind not in NotificationKind.values or channel not in Channel.values:
                raise ValueError(f"Unknown notification choice: {kind}={channel}")
            NotificationPreference.objects.update_or_create(
                user_id=user.pk, kind=kind, defaults={"channel": channel}
            )
        NotificationSettings.objects.update_or_create(
            user_id=user.pk, defaults={"daily_digest": daily_digest}
        )

"""Notifications: each kind reaches the right people as each one chose (in the app, by email,
both, or not at all), never the person who acted, members only, and the daily digest.

Actions go through the real services against the emulator. Notifications are made when the
action's transaction commits (django_capture_on_commit_callbacks runs those callbacks here).
Emails are sent by a background task: here django-tasks' ImmediateBackend (its documented
backend for tests) runs it as it is enqueued, so mail.outbox holds what a worker would send;
tests/test_notifications_worker.py has a real `manage.py db_worker` process send one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from io import StringIO
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import (
    ChangeRequest,
    Channel,
    Membership,
    Notification,
    NotificationKind,
    NotificationSettings,
    Role,
    Workspace,
)
from personas_app.persona.redaction import redact
from personas_app.services import changesets, follows, reviews
from personas_app.services import notifications as service
from personas_app.services.personas import persona_fetch
from personas_app.services.workspaces import tavus_client_for
from tests.builders import make_member, make_user, persona_doc

SITE = "https://studio.example.com"
SECRET = "sk-live-do-not-leak-4242"


DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _site_and_tasks(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.TASKS = IMMEDIATE_TASKS


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc())


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """`with committed():` runs what the block leaves for after its commit (notifications)."""

    def capture() -> Any:
        return django_capture_on_commit_callbacks(execute=True)

    return capture


def _emails_to(user: Any) -> list[Any]:
    return [m for m in mail.outbox if user.email in m.to]


def _notifications(user: Any) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user).order_by("id"))


def _propose(workspace: Workspace, author: Any, persona_id: str, **kwargs: Any) -> ChangeRequest:
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    proposed = copy.deepcopy(base)
    proposed["system_prompt"] = "You help Acme customers, briefly and kindly."
    return reviews.change_request_create(
        workspace=workspace,
        actor=author,
        kind="edit",
        title="Kinder prompt",
        persona_id=persona_id,
        base=base,
        proposed=proposed,
        **kwargs,
    )


# -- The scenarios: one per kind, each returns who should hear of it ------------------------------


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _scenario(kind: str, ctx: dict[str, Any], committed: Callable[[], Any]) -> Any:
    """Make a notification of `kind` happen; returns its recipient. Only the step that makes
    the notification runs its after-commit callbacks, so earlier steps notify nobody."""
    workspace, alice, bob, erin, tavus = (
        ctx["workspace"],
        ctx["alice"],
        ctx["bob"],
        ctx["erin"],
        ctx["tavus"],
    )
    persona_id = ctx["persona_id"]
    if kind == NotificationKind.REVIEW_REQUESTED:
        cr = _propose(workspace, bob, persona_id)
        with committed():
            reviews.change_request_submit(change_request=cr, actor=bob)
        return erin
    if kind == NotificationKind.PERSONA_CHANGED_OUTSIDE:
        persona_fetch(workspace=workspace, persona_id=persona_id)  # the dashboard knows it
        follows.persona_follow_set(
            user=bob, workspace_id=workspace.pk, persona_id=persona_id, follow=True
        )
        tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "New"}])
        with committed():
            persona_fetch(workspace=workspace, persona_id=persona_id)
        return bob
    cr = _propose(workspace, bob, persona_id, submit=True)
    with committed():
        if kind == NotificationKind.COMMENT:
            reviews.change_request_comment(change_request=cr, actor=erin, body="Looks good")
        elif kind == NotificationKind.APPROVED:
            reviews.change_request_approve(change_request=cr, actor=erin)
        elif kind == NotificationKind.CHANGES_REQUESTED:
            reviews.change_request_request_changes(change_request=cr, actor=erin, comment="Why?")
        elif kind == NotificationKind.APPLIED:
            reviews.change_request_apply(change_request=cr, actor=alice)
        elif kind == NotificationKind.APPLY_FAILED:
            tavus.fail_next(1, 400, methods={"PATCH"}, body={"message": "Bad layer"})
            reviews.change_request_apply(change_request=cr, actor=alice)
    return bob


@pytest.fixture
def ctx(
    workspace: Workspace, alice: Any, bob: Any, erin: Any, tavus: EmulatorState, persona_id: str
) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "alice": alice,
        "bob": bob,
        "erin": erin,
        "tavus": tavus,
        "persona_id": persona_id,
    }


# -- Each kind with each preference ---------------------------------------------------------------


@pytest.mark.parametrize("kind", NotificationKind.values)
@pytest.mark.parametrize("channel", Channel.values)
def test_each_kind_reaches_its_recipient_as_they_chose(
    kind: str, channel: str, ctx: dict[str, Any], committed: Callable[[], Any]
) -> None:
    for user in (ctx["bob"], ctx["erin"]):
        service.notification_preferences_save(
            user=user, channels={kind: channel}, daily_digest=False
        )

    recipient = _scenario(kind, ctx, committed)

    rows = [n for n in _notifications(recipient) if n.kind == kind]
    emails = _emails_to(recipient)
    if channel == Channel.OFF:
        assert rows == [] and emails == []
        return
    [row] = rows
    assert row.workspace == ctx["workspace"]
    assert row.in_app is (channel in {Channel.IN_APP, Channel.BOTH})
    # An email-only notification is never shown in the app: it does not count as unread.
    shown_unread = Notification.objects.filter(recipient=recipient, in_app=True, read_at=None)
    assert shown_unread.count() == (1 if row.in_app else 0)
    if channel == Channel.IN_APP:
        assert emails == [] and row.emailed_at is None
        return
    [email] = emails
    row.refresh_from_db()
    assert row.emailed_at is not None
    assert row.title in email.subject
    assert SITE + row.link in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and f'href="{SITE}{row.link}"' in html


def test_defaults_are_both_for_review_requests_and_failures_and_in_app_for_the_rest() -> None:
    from personas_app.models import DEFAULT_CHANNELS

    assert DEFAULT_CHANNELS == {
        "review_requested": "both",
        "apply_failed": "both",
        "comment": "in_app",
        "approved": "in_app",
        "changes_requested": "in_app",
        "applied": "in_app",
        "persona_changed_outside": "in_app",
    }


def test_a_review_request_reaches_every_reviewer_and_admin_but_not_editors_or_viewers(
    ctx: dict[str, Any], committed: Callable[[], Any]
) -> None:
    workspace, alice, bob, erin = ctx["workspace"], ctx["alice"], ctx["bob"], ctx["erin"]
    vera, ed = make_user("vera"), make_user("ed")
    make_member(workspace, vera, Role.VIEWER)
    make_member(workspace, ed, Role.EDITOR)
    cr = _propose(workspace, bob, ctx["persona_id"])
    with committed():
        reviews.change_request_submit(change_request=cr, actor=bob)

    notified = Notification.objects.filter(kind=NotificationKind.REVIEW_REQUESTED)
    assert sorted(n.recipient.username for n in notified) == ["alice", "erin"]
    row = notified.get(recipient=erin)
    assert row.title == f"bob asked for a review of change #{cr.pk} “Kinder prompt”"
    assert row.link == f"/w/acme/reviews/{cr.pk}/"
    assert row.actor_name == "bob"
    # Both by default: an unread line and an email each.
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, erin.email]


# -- Never your own action ------------------------------------------------------------------------


def test_nobody_is_notified_of_their_own_action(
    ctx: dict[str, Any], committed: Callable[[], Any]
) -> None:
    workspace, alice, bob, erin = ctx["workspace"], ctx["alice"], ctx["bob"], ctx["erin"]
    with committed():
        # erin, a reviewer, proposes: the other reviewer (alice) is asked, erin is not.
        cr = _propose(workspace, erin, ctx["persona_id"], submit=True)
        # erin comments on her own change, then applies it herself.
        reviews.change_request_comment(change_request=cr, actor=erin, body="Note to self")
        reviews.change_request_apply(change_request=cr, actor=erin)

    assert _notifications(erin) == []
    assert [n.kind for n in _notifications(alice)] == [NotificationKind.REVIEW_REQUESTED]
    assert _notifications(bob) == []
    assert _emails_to(erin) == []


def test_the_author_is_not_notified_of_a_comment_by_themselves_but_is_of_others(
    ctx: dict[str, Any], committed: Callable[[], Any]
) -> None:
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    cr = _propose(workspace, bob, ctx["persona_id"], submit=True)
    with committed():
        reviews.change_request_comment(change_request=cr, actor=bob, body="Answering")
        reviews.change_request_comment(change_request=cr, actor=erin, body="Thanks")

    [row] = _notifications(bob)
    assert row.kind == NotificationKind.COMMENT and row.actor_name == "erin"


# -- Members only ---------------------------------------------------------------------------------


def test_a_follower_who_left_the_workspace_hears_nothing(
    ctx: dict[str, Any], committed: Callable[[], Any]
) -> None:
    workspace, bob, tavus, persona_id = (
        ctx["workspace"],
        ctx["bob"],
        ctx["tavus"],
        ctx["persona_id"],
    )
    persona_fetch(workspace=workspace, persona_id=persona_id)
    follows.persona_follow_set(
        user=bob, workspace_id=workspace.pk, persona_id=persona_id, follow=True
    )
    Membership.objects.filter(workspace=workspace, user=bob).delete()
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "New"}])
    with committed():
        persona_fetch(workspace=workspace, persona_id=persona_id)

    assert _notifications(bob) == []


def test_no_email_once_the_recipient_has_left_the_workspace(
    ctx: dict[str, Any], committed: Callable[[], Any], settings: Any
) -> None:
    settings.TASKS = DATABASE_TASKS  # the email waits in the queue
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    cr = _propose(workspace, bob, ctx["persona_id"])
    with committed():
        reviews.change_request_submit(change_request=cr, actor=bob)
    [row] = _notifications(erin)
    Membership.objects.filter(workspace=workspace, user=erin).delete()

    # What the queued task does when a worker takes it.
    assert service.notification_email_send(notification_id=row.pk) == "not a member any more"

    row.refresh_from_db()
    assert row.emailed_at is None
    assert _emails_to(erin) == []


def test_following_needs_membership(ctx: dict[str, Any], charlie: Any) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        follows.persona_follow_set(
            user=charlie, workspace_id=ctx["workspace"].pk, persona_id="p1", follow=True
        )


# -- What an email may say ------------------------------------------------------------------------


def test_emails_carry_titles_names_and_links_but_no_secret_or_comment_text(
    ctx: dict[str, Any], committed: Callable[[], Any]
) -> None:
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    service.notification_preferences_save(
        user=bob, channels={NotificationKind.COMMENT: Channel.EMAIL}, daily_digest=False
    )
    cr = _propose(
        workspace, bob, ctx["persona_id"], submit=True, secrets={"/layers/llm/api_key": SECRET}
    )
    with committed():
        reviews.change_request_comment(
            change_request=cr, actor=erin, body=f"Did you mean the key {SECRET}?"
        )

    [email] = _emails_to(bob)
    html = email.alternatives[0][0]
    for text in (email.subject, email.body, html):
        assert SECRET not in text
        assert "Did you mean" not in text
    assert "erin commented on change" in email.subject
    assert f"{SITE}/w/acme/reviews/{cr.pk}/" in email.body


def test_a_notification_is_emailed_once_however_often_its_task_runs(
    ctx: dict[str, Any], committed: Callable[[], Any]
) -> None:
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    cr = _propose(workspace, bob, ctx["persona_id"])
    with committed():
        reviews.change_request_submit(change_request=cr, actor=bob)
    [row] = _notifications(erin)

    assert row.emailed_at is not None  # the task ran
    assert service.notification_email_send(notification_id=row.pk) == "nothing to send"

    assert len(_emails_to(erin)) == 1


# -- The daily digest -----------------------------------------------------------------------------


def test_the_digest_gathers_the_days_emails_into_one(
    ctx: dict[str, Any], committed: Callable[[], Any], settings: Any
) -> None:
    settings.TASKS = DATABASE_TASKS  # a digest user's notification schedules their digest
    workspace, alice, bob, erin = ctx["workspace"], ctx["alice"], ctx["bob"], ctx["erin"]
    service.notification_preferences_save(
        user=bob,
        channels={
            NotificationKind.COMMENT: Channel.BOTH,
            NotificationKind.APPROVED: Channel.EMAIL,
            NotificationKind.APPLIED: Channel.IN_APP,
        },
        daily_digest=True,
    )
    cr = _propose(workspace, bob, ctx["persona_id"], submit=True)
    with committed():
        reviews.change_request_comment(change_request=cr, actor=erin, body="Nice")
        reviews.change_request_approve(change_request=cr, actor=erin)
        reviews.change_request_apply(change_request=cr, actor=alice)
    # Yesterday's unsent one is no longer "the day's".
    old = Notification.objects.create(
        recipient=bob,
        workspace=workspace,
        kind=NotificationKind.COMMENT,
        title="An old one",
        link="/",
        by_email=True,
        created_at=timezone.now() - timedelta(days=2),
    )
    assert _emails_to(bob) == []  # nothing at once

    out = StringIO()
    call_command("notifications_digest", stdout=out)

    assert "Sent 1 digest email." in out.getvalue()
    [digest] = _emails_to(bob)
    assert "2 notifications" in digest.subject
    assert f"erin commented on change #{cr.pk}" in digest.body
    assert f"erin approved change #{cr.pk}" in digest.body
    assert "was applied" not in digest.body  # in the app only
    assert "An old one" not in digest.body
    assert digest.body.count(f"{SITE}/w/acme/reviews/{cr.pk}/") == 2
    old.refresh_from_db()
    assert old.emailed_at is None
    # Sent once: a second run has nothing left.
    assert service.notifications_digest_send() == 0
    assert len(_emails_to(bob)) == 1


def test_the_digest_leaves_out_workspaces_the_user_has_left(
    ctx: dict[str, Any], committed: Callable[[], Any], settings: Any
) -> None:
    settings.TASKS = DATABASE_TASKS
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    service.notification_preferences_save(user=erin, channels={}, daily_digest=True)
    cr = _propose(workspace, bob, ctx["persona_id"])
    with committed():
        reviews.change_request_submit(change_request=cr, actor=bob)
    Membership.objects.filter(workspace=workspace, user=erin).delete()

    assert service.notifications_digest_send() == 0
    assert _emails_to(erin) == []


# -- The digest schedules itself (no cron) ---------------------------------------------------------

DIGEST_TASK = "personas_app.services.notifications.notifications_digest_user_task"


@pytest.fixture
def digest_queue(settings: Any) -> Any:
    """The database task queue (the immediate backend cannot hold a task until a time), at a
    digest hour of 7 in Paris; returns the queued digest tasks."""
    settings.TASKS = DATABASE_TASKS
    settings.TIME_ZONE = "Europe/Paris"
    settings.NOTIFICATIONS_DIGEST_HOUR = 7
    return DBTaskResult.objects.filter(task_path=DIGEST_TASK)


def _paris(days: int, hour: int, minute: int = 0) -> datetime:
    """A time `days` after today, in Paris (ahead of the real clock, which dates new rows)."""
    today = timezone.localtime(timezone.now(), ZoneInfo("Europe/Paris"))
    day = today.date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo("Europe/Paris"))


def _digest_user_with_two_emails(ctx: dict[str, Any], committed: Callable[[], Any]) -> Any:
    """Bob takes the daily digest and gets a comment and an approval by email; returns the
    change."""
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    service.notification_preferences_save(
        user=bob,
        channels={NotificationKind.COMMENT: Channel.EMAIL, NotificationKind.APPROVED: Channel.BOTH},
        daily_digest=True,
    )
    cr = _propose(workspace, bob, ctx["persona_id"], submit=True)
    with committed():
        reviews.change_request_comment(change_request=cr, actor=erin, body="Nice")
    with committed():
        reviews.change_request_approve(change_request=cr, actor=erin)
    return cr


@pytest.mark.parametrize(
    ("made_at", "due"),
    [((1, 5, 30), (1, 7)), ((1, 7, 0), (2, 7)), ((1, 9, 15), (2, 7))],
    ids=["before the hour: today", "at the hour: tomorrow", "after the hour: tomorrow"],
)
def test_a_digest_users_first_email_schedules_one_digest_at_the_next_digest_hour(
    ctx: dict[str, Any],
    committed: Callable[[], Any],
    digest_queue: Any,
    made_at: tuple[int, int, int],
    due: tuple[int, int],
) -> None:
    with mock.patch("django.utils.timezone.now", return_value=_paris(*made_at)):
        _digest_user_with_two_emails(ctx, committed)

    [queued] = digest_queue  # the approval found the digest already scheduled
    assert queued.run_after == _paris(*due)
    assert queued.args_kwargs["args"] == [ctx["bob"].pk]
    assert NotificationSettings.objects.get(user=ctx["bob"]).digest_due_at == _paris(*due)
    assert _emails_to(ctx["bob"]) == []


def test_an_in_app_notification_schedules_no_digest(
    ctx: dict[str, Any], committed: Callable[[], Any], digest_queue: Any
) -> None:
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    service.notification_preferences_save(
        user=bob, channels={NotificationKind.COMMENT: Channel.IN_APP}, daily_digest=True
    )
    cr = _propose(workspace, bob, ctx["persona_id"], submit=True)
    with committed():
        reviews.change_request_comment(change_request=cr, actor=erin, body="Nice")

    assert not digest_queue.exists()


def test_the_scheduled_digest_sends_everything_pending_in_one_email(
    ctx: dict[str, Any], committed: Callable[[], Any], digest_queue: Any
) -> None:
    workspace, bob = ctx["workspace"], ctx["bob"]
    cr = _digest_user_with_two_emails(ctx, committed)
    # Left from before the last digest (e.g. its send failed): older than a day, still pending.
    Notification.objects.create(
        recipient=bob,
        workspace=workspace,
        kind=NotificationKind.COMMENT,
        title="An older one",
        link="/",
        by_email=True,
        created_at=timezone.now() - timedelta(days=3),
    )
    [queued] = digest_queue

    # What a worker does when the task is due.
    with mock.patch("django.utils.timezone.now", return_value=queued.run_after):
        assert service.notifications_digest_user_task.call(bob.pk) == 1

    [digest] = _emails_to(bob)
    assert "3 notifications" in digest.subject
    assert f"erin commented on change #{cr.pk}" in digest.body
    assert f"erin approved change #{cr.pk}" in digest.body
    assert "An older one" in digest.body
    assert "Your notifications since the last summary (3):" in digest.body
    assert NotificationSettings.objects.get(user=bob).digest_due_at is None
    # Nothing twice: the task again, or the cron command, finds nothing left.
    assert service.notifications_digest_user_task.call(bob.pk) == 0
    call_command("notifications_digest", stdout=StringIO())
    assert len(_emails_to(bob)) == 1


def test_a_digest_the_mail_server_refused_is_tried_again_an_hour_later(
    ctx: dict[str, Any], committed: Callable[[], Any], digest_queue: Any, settings: Any
) -> None:
    bob = ctx["bob"]
    _digest_user_with_two_emails(ctx, committed)
    [queued] = digest_queue
    # A real SMTP backend, pointed at a port where nothing listens: the send fails.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    queued.delete()  # the worker took it

    with (
        mock.patch("django.utils.timezone.now", return_value=queued.run_after),
        pytest.raises(OSError),
    ):
        service.notifications_digest_user_task.call(bob.pk)

    [again] = digest_queue.all()
    assert again.run_after == queued.run_after + timedelta(hours=1)
    assert NotificationSettings.objects.get(user=bob).digest_due_at == again.run_after
    assert Notification.objects.filter(recipient=bob, emailed_at__isnull=True).count() == 2

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with mock.patch("django.utils.timezone.now", return_value=again.run_after):
        assert service.notifications_digest_user_task.call(bob.pk) == 1
    [digest] = _emails_to(bob)
    assert "2 notifications" in digest.subject


def test_the_next_notification_after_a_digest_schedules_the_next_one(
    ctx: dict[str, Any], committed: Callable[[], Any], digest_queue: Any
) -> None:
    bob, erin = ctx["bob"], ctx["erin"]
    cr = _digest_user_with_two_emails(ctx, committed)
    service.notifications_digest_user_task.call(bob.pk)
    DBTaskResult.objects.all().delete()  # the worker is done with it

    with committed():
        reviews.change_request_comment(change_request=cr, actor=erin, body="One more")

    assert digest_queue.count() == 1


def test_a_digest_user_who_left_the_workspace_gets_nothing(
    ctx: dict[str, Any], committed: Callable[[], Any], digest_queue: Any
) -> None:
    workspace, bob = ctx["workspace"], ctx["bob"]
    _digest_user_with_two_emails(ctx, committed)
    assert digest_queue.count() == 1
    Membership.objects.filter(workspace=workspace, user=bob).delete()

    assert service.notifications_digest_user_task.call(bob.pk) == 0

    assert _emails_to(bob) == []


def test_switching_the_digest_off_before_it_runs_sends_each_pending_email_at_once(
    ctx: dict[str, Any], committed: Callable[[], Any], digest_queue: Any
) -> None:
    bob = ctx["bob"]
    cr = _digest_user_with_two_emails(ctx, committed)
    assert digest_queue.count() == 1
    service.notification_preferences_save(user=bob, channels={}, daily_digest=False)

    assert service.notifications_digest_user_task.call(bob.pk) == 2

    comment, approval = _emails_to(bob)
    assert f"erin commented on change #{cr.pk}" in comment.subject
    assert f"erin approved change #{cr.pk}" in approval.subject
    assert "summary" not in comment.subject + approval.subject


def test_switching_the_digest_on_schedules_it_for_emails_not_sent_yet(
    ctx: dict[str, Any], committed: Callable[[], Any], digest_queue: Any
) -> None:
    workspace, bob, erin = ctx["workspace"], ctx["bob"], ctx["erin"]
    cr = _propose(workspace, bob, ctx["persona_id"])
    with committed():
        reviews.change_request_submit(change_request=cr, actor=bob)
    [row] = _notifications(erin)  # its email task waits in the queue
    service.notification_preferences_save(user=erin, channels={}, daily_digest=True)

    # The queued email task finds the digest chosen: the email goes in the digest.
    assert service.notification_email_send(notification_id=row.pk) == "left for the daily digest"
    assert digest_queue.count() == 1
    assert service.notifications_digest_user_task.call(erin.pk) == 1
    [digest] = _emails_to(erin)
    assert f"bob asked for a review of change #{cr.pk}" in digest.body


# -- Change sets ----------------------------------------------------------------------------------


def test_change_sets_ask_reviewers_and_tell_their_author_when_applied(
    ctx: dict[str, Any], committed: Callable[[], Any], settings: Any
) -> None:
    # Applying a change set queues a watcher for later, which the immediate backend cannot hold.
    settings.TASKS = DATABASE_TASKS
    workspace, alice, bob, erin = ctx["workspace"], ctx["alice"], ctx["bob"], ctx["erin"]
    with committed():
        cs = changesets.change_set_create(
            workspace=workspace,
            actor=bob,
            persona_ids=[ctx["persona_id"]],
            edit=[{"op": "add_item", "path": "/layers/stt/hotwords", "value": "Sparrow"}],
            title="Add Sparrow",
            submit=True,
        )
    with committed():
        changesets.change_set_apply(change_set=cs, actor=alice, background=False)

    [asked] = [n for n in _notifications(erin) if n.kind == NotificationKind.REVIEW_REQUESTED]
    assert asked.title == f"bob asked for a review of change set #{cs.pk} “Add Sparrow”"
    assert asked.link == f"/w/acme/change-sets/{cs.pk}/"
    [applied] = _notifications(bob)
    assert applied.kind == NotificationKind.APPLIED
    assert applied.title == f"Change set #{cs.pk} “Add Sparrow” was applied"

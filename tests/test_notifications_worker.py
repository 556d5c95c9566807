"""A notification's email is sent by a real `manage.py db_worker` process.

The worker is another process, so its email backend cannot be the test's in-memory outbox: it
writes emails as files (Django's filebased backend) into a folder of this test, read back here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import Channel, Notification, NotificationKind, Role, Workspace
from personas_app.persona.redaction import redact
from personas_app.services import notifications, reviews
from personas_app.services.workspaces import tavus_client_for
from tests.builders import make_member, make_user, persona_doc
from tests.workers import wait_until, worker_pool

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://studio.example.com"


def test_a_worker_process_emails_the_review_request_with_a_link_to_the_change(
    workspace: Workspace, bob: Any, tavus: EmulatorState, tmp_path: Path
) -> None:
    erin = make_user("erin")
    make_member(workspace, erin, Role.REVIEWER)
    persona_id = tavus.put_persona(persona_doc())
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    proposed = copy.deepcopy(base)
    proposed["context"] = "Acme sells garden tools and seeds."
    outbox = tmp_path / "emails"
    env = {
        "EMAIL_URL": f"file://{outbox}",
        "SITE_URL": SITE,
    }

    with worker_pool(tmp_path, env) as pool:
        pool.start()
        cr = reviews.change_request_create(
            workspace=workspace,
            actor=bob,
            kind="edit",
            title="Seeds too",
            persona_id=persona_id,
            base=base,
            proposed=proposed,
            submit=True,
        )
        sent = Notification.objects.filter(
            recipient=erin, kind=NotificationKind.REVIEW_REQUESTED, emailed_at__isnull=False
        )
        wait_until(sent.exists, timeout=30, what="the worker to send the email", pool=pool)

    emails = "".join(path.read_text() for path in sorted(outbox.glob("*.log")))
    to_erin = [part for part in emails.split("\n-----") if "To: erin@example.com" in part]
    assert len(to_erin) == 1
    assert f"bob asked for a review of change #{cr.pk}" in to_erin[0]
    assert f"{SITE}/w/acme/reviews/{cr.pk}/" in to_erin[0]
    # In the app too (both, by default), unread.
    assert sent.get().in_app and sent.get().read_at is None


def test_a_worker_sends_the_daily_digest_it_was_scheduled_for_without_cron(
    workspace: Workspace, bob: Any, erin: Any, tavus: EmulatorState, tmp_path: Path
) -> None:
    notifications.notification_preferences_save(
        user=bob, channels={NotificationKind.COMMENT: Channel.EMAIL}, daily_digest=True
    )
    persona_id = tavus.put_persona(persona_doc())
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    proposed = copy.deepcopy(base)
    proposed["context"] = "Acme sells garden tools and seeds."
    outbox = tmp_path / "emails"

    with worker_pool(tmp_path, {"EMAIL_URL": f"file://{outbox}", "SITE_URL": SITE}) as pool:
        pool.start()
        cr = reviews.change_request_create(
            workspace=workspace,
            actor=bob,
            kind="edit",
            title="Seeds too",
            persona_id=persona_id,
            base=base,
            proposed=proposed,
            submit=True,
        )
        reviews.change_request_comment(change_request=cr, actor=erin, body="Nice")
        queued = DBTaskResult.objects.filter(task_path__endswith=".notifications_digest_user_task")
        assert queued.get().run_after > timezone.now()  # waits for the digest hour
        queued.update(run_after=timezone.now())  # the morning comes
        sent = Notification.objects.filter(recipient=bob, emailed_at__isnull=False)
        wait_until(sent.exists, timeout=30, what="the worker to send the digest", pool=pool)

    emails = "".join(path.read_text() for path in sorted(outbox.glob("*.log")))
    to_bob = [part for part in emails.split("\n-----") if "To: bob@example.com" in part]
    assert len(to_bob) == 1
    assert "Your daily summary: 1 notification" in to_bob[0]
    assert f"erin commented on change #{cr.pk}" in to_bob[0]

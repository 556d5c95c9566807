"""`manage.py end_stale_conversations [--dry-run]`: the cron job that ends forgotten test calls."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any
from unittest.mock import patch

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Conversation, Outcome
from personas_app.services.conversations import conversation_start
from tests.builders import persona_doc


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc(persona_name="Front Desk"))


def _start(workspace: Any, persona_id: str, actor: Any, name: str) -> Conversation:
    return conversation_start(
        workspace=workspace, persona_id=persona_id, actor=actor, conversation_name=name
    )


def _run(*args: str) -> str:
    out = StringIO()
    call_command("end_stale_conversations", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_ends_conversations_older_than_the_limit_and_prints_the_count(
    workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    forgotten = _start(workspace, persona_id, alice, "Forgotten call")
    recent = _start(workspace, persona_id, alice, "Recent call")
    Conversation.objects.filter(pk=forgotten.pk).update(
        started_at=timezone.now() - timedelta(minutes=45)
    )

    output = _run()

    assert output.strip() == "Ended 1 stale conversation"
    assert not Conversation.objects.get(pk=forgotten.pk).is_active
    assert Conversation.objects.get(pk=recent.pk).is_active
    path = f"/v2/conversations/{forgotten.conversation_id}/end"
    assert tavus.count(method="POST", path_prefix=path) == 1
    event = AuditEvent.objects.get(action="conversation.ended")
    assert event.actor_name == "system" and event.note == "ended automatically after 30 minutes"


def test_with_time_moved_on_every_running_conversation_is_stale(
    workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    _start(workspace, persona_id, alice, "One")
    _start(workspace, persona_id, alice, "Two")
    later = timezone.now() + timedelta(hours=1)

    with patch("django.utils.timezone.now", return_value=later):
        output = _run()

    assert output.strip() == "Ended 2 stale conversations"
    assert Conversation.objects.filter(ended_at__isnull=True).count() == 0
    assert all(c.ended_at == later for c in Conversation.objects.all())


def test_dry_run_lists_them_and_ends_nothing(
    workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    forgotten = _start(workspace, persona_id, alice, "Forgotten call")
    Conversation.objects.filter(pk=forgotten.pk).update(
        started_at=timezone.now() - timedelta(minutes=90)
    )
    before = len(tavus.requests)

    output = _run("--dry-run")

    lines = output.strip().splitlines()
    assert len(lines) == 2
    assert "acme" in lines[0] and "Forgotten call" in lines[0]
    assert forgotten.conversation_id in lines[0] and "alice" in lines[0]
    assert "running 90 minutes" in lines[0]
    assert lines[1] == "Would end 1 stale conversation (dry run)"
    assert len(tavus.requests) == before
    assert Conversation.objects.get(pk=forgotten.pk).is_active
    assert not AuditEvent.objects.filter(action="conversation.ended").exists()


def test_nothing_stale_prints_zero(workspace: Any, alice: Any, persona_id: str) -> None:
    _start(workspace, persona_id, alice, "Fresh")

    assert _run().strip() == "Ended 0 stale conversations"


def test_failures_are_reported_audited_and_exit_non_zero(
    workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    stuck = _start(workspace, persona_id, alice, "Stuck")
    Conversation.objects.filter(pk=stuck.pk).update(
        started_at=timezone.now() - timedelta(minutes=45)
    )
    tavus.fail_next(1, 503, methods={"POST"})
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 conversation could not be ended"):
        call_command("end_stale_conversations", stdout=out, stderr=err)

    assert "Ended 0 stale conversations" in out.getvalue()
    assert "Stuck" in err.getvalue() and "could not be reached" in err.getvalue()
    assert Conversation.objects.get(pk=stuck.pk).is_active
    assert AuditEvent.objects.get(action="conversation.ended").outcome == Outcome.ERROR

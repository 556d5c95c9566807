"""Conversation services against the emulator: start, refresh, end, end all mine, end stale ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Conversation, Outcome
from personas_app.services.conversations import (
    conversation_end,
    conversation_end_all_mine,
    conversation_refresh,
    conversation_start,
    conversations_end_stale,
    conversations_refresh_active,
    conversations_stale,
)
from personas_app.services.workspaces import NoActiveKey
from personas_app.tavus import TavusConcurrencyLimit, TavusUnavailable
from tests.builders import make_member, make_user, make_workspace, persona_doc

DEFAULT_REPLICA = "r90bbd427f71"


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc(persona_name="Front Desk"))


@pytest.fixture
def faceless_persona_id(tavus: EmulatorState) -> str:
    doc = persona_doc(persona_name="No Face")
    del doc["default_replica_id"]
    return tavus.put_persona(doc)


def _posts(tavus: EmulatorState) -> list[Any]:
    return [r for r in tavus.requests if r.method == "POST" and r.path == "/v2/conversations"]


def _started(workspace: Any, persona_id: str, actor: Any, **kwargs: Any) -> Conversation:
    return conversation_start(workspace=workspace, persona_id=persona_id, actor=actor, **kwargs)


def test_start_sends_one_post_with_the_persona_and_its_default_replica(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice, request_id="req-1")

    posts = _posts(tavus)
    assert len(posts) == 1 and posts[0].status == 200
    assert posts[0].body["persona_id"] == persona_id
    assert posts[0].body["replica_id"] == DEFAULT_REPLICA
    assert "test_mode" not in posts[0].body
    assert conversation.conversation_id in tavus.conversations


def test_start_records_who_started_which_persona_and_the_join_link(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)

    row = Conversation.objects.get(workspace=workspace)
    assert row.pk == conversation.pk
    assert row.started_by == alice and row.started_by_name == "alice"
    assert row.persona_id == persona_id and row.persona_name == "Front Desk"
    assert row.replica_id == DEFAULT_REPLICA
    assert (
        row.conversation_url.startswith("https://") and row.conversation_id in row.conversation_url
    )
    assert row.status == "active" and row.is_active and row.ended_at is None
    assert row.conversation_name == "Test of Front Desk by alice"


def test_start_is_audited_with_the_request_id(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice, request_id="req-42")

    event = AuditEvent.objects.get(action="conversation.started")
    assert event.outcome == Outcome.OK and event.actor == alice
    assert event.persona_id == persona_id and event.persona_name == "Front Desk"
    assert event.target == conversation.conversation_id
    assert event.request_id == "req-42"
    assert event.payload["replica_id"] == DEFAULT_REPLICA


def test_start_sends_the_typed_name_and_greeting(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    _started(
        workspace,
        persona_id,
        alice,
        conversation_name="Pricing objections",
        custom_greeting="Hi, I'm testing you.",
        conversational_context="I am a buyer from Berlin.",
    )

    body = _posts(tavus)[0].body
    assert body["conversation_name"] == "Pricing objections"
    assert body["custom_greeting"] == "Hi, I'm testing you."
    assert body["conversational_context"] == "I am a buyer from Berlin."


def test_blank_name_falls_back_to_the_default_name(
    workspace: Any, bob: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, bob, conversation_name="  ", custom_greeting="")

    assert conversation.conversation_name == "Test of Front Desk by bob"
    assert "custom_greeting" not in _posts(tavus)[0].body


def test_start_with_a_picked_replica_when_the_persona_has_none(
    workspace: Any, alice: Any, tavus: EmulatorState, faceless_persona_id: str
) -> None:
    conversation = _started(workspace, faceless_persona_id, alice, replica_id="r79e1c033f")

    assert _posts(tavus)[0].body["replica_id"] == "r79e1c033f"
    assert conversation.replica_id == "r79e1c033f"


def test_start_with_an_already_fetched_persona_reads_nothing_more(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    persona = dict(tavus.personas[persona_id])

    _started(workspace, persona_id, alice, persona=persona)

    assert tavus.count(method="GET") == 0
    assert tavus.count(method="POST") == 1


def test_test_mode_conversation_is_ended_at_once(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice, test_mode=True)

    assert _posts(tavus)[0].body["test_mode"] is True
    assert conversation.test_mode and conversation.status == "ended"
    assert not conversation.is_active and conversation.ended_at is not None
    assert "test mode" in AuditEvent.objects.get(action="conversation.started").note


def test_concurrency_cap_is_raised_and_the_failed_attempt_audited(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    tavus.max_concurrent_conversations = 1
    _started(workspace, persona_id, alice)

    with pytest.raises(TavusConcurrencyLimit):
        _started(workspace, persona_id, alice, conversation_name="Second try")

    assert Conversation.objects.count() == 1
    failed = AuditEvent.objects.get(action="conversation.started", outcome=Outcome.ERROR)
    assert failed.http_status == 400 and failed.actor == alice
    assert failed.payload["conversation_name"] == "Second try"
    assert failed.error_message


def test_test_mode_still_works_when_the_cap_is_reached(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    tavus.max_concurrent_conversations = 1
    _started(workspace, persona_id, alice)

    conversation = _started(workspace, persona_id, alice, test_mode=True)

    assert conversation.status == "ended"


def test_start_without_an_api_key_raises_no_active_key(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    workspace.api_keys.all().delete()

    with pytest.raises(NoActiveKey):
        _started(workspace, persona_id, alice)

    assert tavus.requests == []


def test_refresh_marks_the_row_ended_when_tavus_says_ended(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)
    tavus.conversations[conversation.conversation_id]["status"] = "ended"

    conversation_refresh(workspace=workspace, conversation=conversation)

    row = Conversation.objects.get(pk=conversation.pk)
    assert row.status == "ended" and row.ended_at is not None and row.ended_by_name == "Tavus"
    assert tavus.count(method="GET", path_prefix=f"/v2/conversations/{row.conversation_id}") == 1
    event = AuditEvent.objects.get(action="conversation.ended")
    assert event.actor is None and event.actor_name == "system"


def test_refresh_keeps_a_running_conversation_active(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)

    conversation_refresh(workspace=workspace, conversation=conversation)

    assert Conversation.objects.get(pk=conversation.pk).is_active
    assert not AuditEvent.objects.filter(action="conversation.ended").exists()


def test_refresh_of_an_ended_conversation_asks_tavus_nothing(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice, test_mode=True)
    before = len(tavus.requests)

    conversation_refresh(workspace=workspace, conversation=conversation)

    assert len(tavus.requests) == before


def test_refresh_active_checks_all_running_with_one_list_request(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    gone = _started(workspace, persona_id, alice)
    running = _started(workspace, persona_id, alice)
    tavus.conversations[gone.conversation_id]["status"] = "ended"
    before = len(tavus.requests)

    ended = conversations_refresh_active(workspace=workspace)

    assert ended == 1
    assert len(tavus.requests) == before + 1
    assert tavus.requests[-1].query.get("status") == "active"
    assert not Conversation.objects.get(pk=gone.pk).is_active
    assert Conversation.objects.get(pk=running.pk).is_active


def test_end_posts_to_tavus_and_marks_the_row_ended(
    workspace: Any, alice: Any, bob: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)

    conversation_end(workspace=workspace, conversation=conversation, actor=bob, request_id="r-9")

    path = f"/v2/conversations/{conversation.conversation_id}/end"
    assert [r.status for r in tavus.requests if r.method == "POST" and r.path == path] == [200]
    assert tavus.conversations[conversation.conversation_id]["status"] == "ended"
    row = Conversation.objects.get(pk=conversation.pk)
    assert row.status == "ended" and row.ended_at is not None and row.ended_by_name == "bob"
    event = AuditEvent.objects.get(action="conversation.ended")
    assert event.actor == bob and event.outcome == Outcome.OK and event.request_id == "r-9"
    assert event.target == conversation.conversation_id and event.persona_name == "Front Desk"


def test_ending_an_already_ended_conversation_is_fine(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)
    conversation_end(workspace=workspace, conversation=conversation, actor=alice)
    before = len(tavus.requests)

    conversation_end(workspace=workspace, conversation=conversation, actor=alice)

    assert len(tavus.requests) == before
    assert AuditEvent.objects.filter(action="conversation.ended").count() == 1


def test_ending_a_conversation_tavus_no_longer_knows_marks_it_ended(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)
    del tavus.conversations[conversation.conversation_id]

    conversation_end(workspace=workspace, conversation=conversation, actor=alice)

    assert not Conversation.objects.get(pk=conversation.pk).is_active


def test_failed_end_is_audited_and_the_row_stays_running(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)
    tavus.fail_next(1, 503, methods={"POST"})

    with pytest.raises(TavusUnavailable):
        conversation_end(workspace=workspace, conversation=conversation, actor=alice)

    assert Conversation.objects.get(pk=conversation.pk).is_active
    failed = AuditEvent.objects.get(action="conversation.ended")
    assert failed.outcome == Outcome.ERROR and failed.http_status == 503


def test_end_all_mine_ends_only_my_running_conversations(
    workspace: Any, alice: Any, bob: Any, tavus: EmulatorState, persona_id: str
) -> None:
    mine = [_started(workspace, persona_id, bob) for _ in range(2)]
    already_over = _started(workspace, persona_id, bob, test_mode=True)
    alices = _started(workspace, persona_id, alice)

    count = conversation_end_all_mine(workspace=workspace, actor=bob)

    assert count == 2
    assert all(not Conversation.objects.get(pk=c.pk).is_active for c in mine)
    assert Conversation.objects.get(pk=alices.pk).is_active
    assert tavus.conversations[alices.conversation_id]["status"] == "active"
    assert (
        tavus.count(method="POST", path_prefix=f"/v2/conversations/{already_over.conversation_id}")
        == 0
    )
    assert AuditEvent.objects.filter(action="conversation.ended", actor=bob).count() == 2


def test_end_all_mine_with_nothing_running_sends_nothing(
    workspace: Any, alice: Any, tavus: EmulatorState
) -> None:
    assert conversation_end_all_mine(workspace=workspace, actor=alice) == 0
    assert tavus.requests == []


def _age(conversation: Conversation, minutes: int) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        started_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_end_stale_ends_only_conversations_older_than_the_workspace_limit(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    old = _started(workspace, persona_id, alice)
    fresh = _started(workspace, persona_id, alice)
    _age(old, 31)
    _age(fresh, 29)

    assert conversations_end_stale() == 1

    assert not Conversation.objects.get(pk=old.pk).is_active
    assert Conversation.objects.get(pk=fresh.pk).is_active
    assert tavus.conversations[old.conversation_id]["status"] == "ended"
    event = AuditEvent.objects.get(action="conversation.ended")
    assert event.actor is None and event.actor_name == "system"
    assert event.note == "ended automatically after 30 minutes"
    assert Conversation.objects.get(pk=old.pk).ended_by_name == "system"


def test_end_stale_uses_the_given_time(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)

    assert conversations_end_stale(now=timezone.now() + timedelta(minutes=10)) == 0
    assert conversations_end_stale(now=timezone.now() + timedelta(minutes=31)) == 1
    assert not Conversation.objects.get(pk=conversation.pk).is_active


def test_end_stale_covers_every_workspace_with_its_own_limit(
    workspace: Any, alice: Any, tavus: EmulatorState, tavus_server: Any, persona_id: str
) -> None:
    dave = make_user("dave")
    other = make_workspace(
        owner=dave, base_url=tavus_server.url, api_key=tavus.api_key, name="Beta", slug="beta"
    )
    other.conversation_max_minutes = 5
    other.save()
    make_member(other, alice)
    ours = _started(workspace, persona_id, alice)
    theirs = _started(other, persona_id, dave)
    _age(ours, 10)
    _age(theirs, 10)

    assert [c.pk for c in conversations_stale()] == [theirs.pk]
    assert conversations_end_stale() == 1
    assert AuditEvent.objects.get(action="conversation.ended").note == (
        "ended automatically after 5 minutes"
    )


def test_a_limit_of_zero_minutes_never_ends_conversations(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    workspace.conversation_max_minutes = 0
    workspace.save()
    conversation = _started(workspace, persona_id, alice)
    _age(conversation, 600)

    assert conversations_end_stale() == 0


def test_one_failure_does_not_stop_ending_the_other_stale_ones(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    first = _started(workspace, persona_id, alice)
    second = _started(workspace, persona_id, alice)
    _age(first, 60)
    _age(second, 50)
    tavus.fail_next(1, 503, methods={"POST"})
    failures: list[str] = []

    count = conversations_end_stale(on_error=lambda c, exc: failures.append(c.conversation_id))

    assert count == 1
    assert failures == [first.conversation_id]
    assert Conversation.objects.get(pk=first.pk).is_active
    assert not Conversation.objects.get(pk=second.pk).is_active


def test_a_join_link_that_is_not_a_web_address_is_not_kept(
    workspace: Any, alice: Any, tavus: EmulatorState, persona_id: str
) -> None:
    conversation = _started(workspace, persona_id, alice)
    tavus.fail_next(
        1,
        200,
        body={
            "conversation_id": "cbad",
            "conversation_url": "javascript:alert(1)",
            "status": "active",
        },
        methods={"POST"},
    )

    odd = _started(workspace, persona_id, alice)

    assert conversation.conversation_url.startswith("https://")
    assert odd.conversation_id == "cbad" and odd.conversation_url == ""

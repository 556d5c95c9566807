"""The audit log: one record per action, failures recorded, secrets never stored, append-only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AppendOnlyError, AuditEvent, Role
from personas_app.services import personas as persona_service
from personas_app.services import workspaces as workspace_service
from personas_app.tavus import TavusError
from tests.builders import make_user, persona_doc

LLM_KEY = "sk-live-SECRET123"
HEADER_TOKEN = "Bearer tok-SECRET"
TTS_KEY = "tts-voice-SECRET456"
TAVUS_KEY = "tvs-NEW-KEY-SECRET789"
SECRETS = (LLM_KEY, HEADER_TOKEN, "tok-SECRET", TTS_KEY, TAVUS_KEY)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


def _secret_doc() -> dict[str, Any]:
    return persona_doc(
        persona_name="Secret Keeper",
        layers={
            "llm": {
                "model": "my-own-model",
                "base_url": "https://llm.example.com/v1",
                "api_key": LLM_KEY,
                "headers": {"Authorization": HEADER_TOKEN},
            },
            "tts": {
                "tts_engine": "elevenlabs",
                "external_voice_id": "voice-1",
                "api_key": TTS_KEY,
            },
        },
    )


def _new_events(since: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=since).order_by("id"))


def _last_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _created(workspace: Any, alice: Any, doc: dict[str, Any] | None = None) -> str:
    return persona_service.persona_create(
        workspace=workspace, document=doc or persona_doc(), actor=alice
    )


def _live(workspace: Any, persona_id: str) -> dict[str, Any]:
    return workspace_service.tavus_client_for(workspace).get_persona(persona_id)


# -- One record per persona action ---------------------------------------------------------------


def test_persona_create_writes_exactly_one_record(workspace: Any, alice: Any) -> None:
    start = _last_id()

    persona_id = _created(workspace, alice, persona_doc(persona_name="Front Desk"))

    [event] = _new_events(start)
    assert event.action == "persona.created"
    assert event.outcome == "ok"
    assert event.actor == alice and event.actor_name == "alice"
    assert event.persona_id == persona_id and event.persona_name == "Front Desk"
    assert event.http_status == 200
    assert event.payload["persona_name"] == "Front Desk"
    assert event.before is None
    assert event.after["persona_id"] == persona_id
    assert event.workspace == workspace


def test_persona_patch_writes_one_record_with_ops_and_snapshots(workspace: Any, alice: Any) -> None:
    persona_id = _created(workspace, alice)
    before = _live(workspace, persona_id)
    ops = [{"op": "replace", "path": "/persona_name", "value": "Night Shift"}]
    start = _last_id()

    persona_service.persona_apply_patch(
        workspace=workspace,
        persona_id=persona_id,
        ops=ops,
        before=before,
        actor=alice,
        note="rename",
    )

    [event] = _new_events(start)
    assert event.action == "persona.patched" and event.outcome == "ok"
    assert event.payload == ops
    assert event.before["persona_name"] == "Support Agent"
    assert event.after["persona_name"] == "Night Shift"
    assert event.http_status == 200
    assert event.note == "rename"


def test_persona_delete_writes_one_record(workspace: Any, alice: Any) -> None:
    persona_id = _created(workspace, alice)
    before = _live(workspace, persona_id)
    start = _last_id()

    persona_service.persona_delete(
        workspace=workspace, persona_id=persona_id, before=before, actor=alice
    )

    [event] = _new_events(start)
    assert event.action == "persona.deleted" and event.outcome == "ok"
    assert event.http_status == 204
    assert event.before["persona_id"] == persona_id
    assert event.after is None


def test_fetch_records_first_seen_once_and_nothing_when_unchanged(
    workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    start = _last_id()

    persona_service.persona_fetch(workspace=workspace, persona_id=persona_id)
    persona_service.persona_fetch(workspace=workspace, persona_id=persona_id)

    [event] = _new_events(start)
    assert event.action == "persona.first_seen" and event.actor is None
    assert event.actor_name == "system"


# -- Failed upstream calls are recorded ----------------------------------------------------------


def test_failed_patch_is_recorded_with_tavus_status_and_message(
    workspace: Any, alice: Any, tavus: EmulatorState
) -> None:
    persona_id = _created(workspace, alice)
    before = _live(workspace, persona_id)
    ops = [{"op": "replace", "path": "/context", "value": "New context"}]
    tavus.fail_next(1, 400, body={"error": "Invalid layer configuration"}, methods={"PATCH"})
    start = _last_id()

    with pytest.raises(TavusError):
        persona_service.persona_apply_patch(
            workspace=workspace, persona_id=persona_id, ops=ops, before=before, actor=alice
        )

    [event] = _new_events(start)
    assert event.action == "persona.patched"
    assert event.outcome == "error"
    assert event.http_status == 400
    assert "Invalid layer configuration" in event.error_message
    assert event.payload == ops
    assert event.before["persona_id"] == persona_id and event.after is None


def test_failed_create_is_recorded(workspace: Any, alice: Any, tavus: EmulatorState) -> None:
    tavus.fail_next(1, 400, body={"error": "Invalid replica_uuid"}, methods={"POST"})
    start = _last_id()

    with pytest.raises(TavusError):
        _created(workspace, alice)

    [event] = _new_events(start)
    assert event.action == "persona.created" and event.outcome == "error"
    assert event.http_status == 400 and "Invalid replica_uuid" in event.error_message
    assert event.persona_id == "" and event.after is None


def test_failed_delete_is_recorded(workspace: Any, alice: Any, tavus: EmulatorState) -> None:
    persona_id = _created(workspace, alice)
    before = _live(workspace, persona_id)
    tavus.fail_next(1, 503, methods={"DELETE"})
    start = _last_id()

    with pytest.raises(TavusError):
        persona_service.persona_delete(
            workspace=workspace, persona_id=persona_id, before=before, actor=alice
        )

    [event] = _new_events(start)
    assert event.action == "persona.deleted" and event.outcome == "error"
    assert event.http_status == 503 and event.error_message


# -- Keys and members ----------------------------------------------------------------------------


def test_each_key_action_writes_one_record(workspace: Any, alice: Any) -> None:
    start = _last_id()
    key = workspace_service.api_key_add(
        workspace=workspace, label="spare", secret=TAVUS_KEY, actor=alice
    )
    assert [e.action for e in _new_events(start)] == ["key.added"]

    start = _last_id()
    workspace_service.api_key_rotate(
        workspace=workspace, key=key, secret=TAVUS_KEY + "x", actor=alice
    )
    assert [e.action for e in _new_events(start)] == ["key.rotated"]

    start = _last_id()
    workspace_service.api_key_activate(workspace=workspace, key=key, actor=alice)
    assert [e.action for e in _new_events(start)] == ["key.activated"]

    start = _last_id()
    workspace_service.api_key_revoke(workspace=workspace, key=key, actor=alice)
    [event] = _new_events(start)
    assert event.action == "key.revoked"
    assert event.target.startswith("spare") and event.actor_name == "alice"


def test_each_member_action_writes_one_record(workspace: Any, alice: Any) -> None:
    make_user("dave")
    start = _last_id()
    membership = workspace_service.member_add(
        workspace=workspace, username_or_email="dave", role=Role.VIEWER, actor=alice
    )
    [added] = _new_events(start)
    assert (added.action, added.target) == ("member.added", "dave")

    start = _last_id()
    workspace_service.member_change_role(
        workspace=workspace, membership=membership, role=Role.EDITOR, actor=alice
    )
    [changed] = _new_events(start)
    assert changed.action == "member.role_changed" and "editor" in changed.note

    start = _last_id()
    workspace_service.member_remove(workspace=workspace, membership=membership, actor=alice)
    [removed] = _new_events(start)
    assert (removed.action, removed.target) == ("member.removed", "dave")


# -- Secrets never stored ------------------------------------------------------------------------


def _whole_audit_table() -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuditEvent._meta.db_table}")
        return json.dumps(cursor.fetchall(), default=str, ensure_ascii=False)


def test_secrets_never_appear_in_any_audit_column(
    workspace: Any, alice: Any, tavus: EmulatorState
) -> None:
    persona_id = _created(workspace, alice, _secret_doc())
    live = _live(workspace, persona_id)
    persona_service.persona_apply_patch(
        workspace=workspace,
        persona_id=persona_id,
        ops=[
            {"op": "replace", "path": "/layers/llm/api_key", "value": LLM_KEY + "-v2"},
            {"op": "add", "path": "/layers/llm/headers/X-Extra", "value": HEADER_TOKEN + "-2"},
            {"op": "replace", "path": "/persona_name", "value": "Secret Keeper 2"},
        ],
        before=live,
        actor=alice,
    )
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/layers/tts/api_key", "value": TTS_KEY + "-v3"}]
    )
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/context", "value": "Edited in the portal"}]
    )
    persona_service.persona_fetch(workspace=workspace, persona_id=persona_id)
    tavus.fail_next(1, 400, methods={"PATCH"})
    with pytest.raises(TavusError):
        persona_service.persona_apply_patch(
            workspace=workspace,
            persona_id=persona_id,
            ops=[{"op": "replace", "path": "/layers/tts/api_key", "value": TTS_KEY + "-v4"}],
            before=_live(workspace, persona_id),
            actor=alice,
        )
    workspace_service.api_key_add(
        workspace=workspace, label="second", secret=TAVUS_KEY, actor=alice
    )

    table = _whole_audit_table()

    assert AuditEvent.objects.count() >= 6
    for secret in SECRETS:
        assert secret not in table
    assert "Edited in the portal" in table  # the table was really read


# -- Append-only ---------------------------------------------------------------------------------


@pytest.fixture
def event(workspace: Any, alice: Any) -> AuditEvent:
    _created(workspace, alice)
    return AuditEvent.objects.latest("id")


def test_saving_an_existing_record_is_refused(event: AuditEvent) -> None:
    event.note = "rewritten history"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).note == ""


def test_deleting_a_record_is_refused(event: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_and_delete_are_refused(event: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(note="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk, note="").exists()


@postgres_only
@pytest.mark.postgres
def test_postgres_trigger_refuses_raw_update(event: AuditEvent) -> None:
    table = AuditEvent._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET note = 'x' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).note == ""


@postgres_only
@pytest.mark.postgres
def test_postgres_trigger_refuses_raw_delete(event: AuditEvent) -> None:
    table = AuditEvent._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@postgres_only
@pytest.mark.postgres
def test_postgres_still_accepts_new_records(event: AuditEvent, workspace: Any) -> None:
    before = AuditEvent.objects.count()
    _created(workspace, event.actor)
    assert AuditEvent.objects.count() == before + 1


# -- Django admin is read-only -------------------------------------------------------------------


@pytest.fixture
def admin_client(event: AuditEvent) -> Client:
    root = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    return client


def test_admin_change_page_has_no_save_button(admin_client: Client, event: AuditEvent) -> None:
    response = admin_client.get(f"/admin/personas_app/auditevent/{event.pk}/change/")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="_save"' not in body and 'name="_continue"' not in body
    assert "deletelink" not in body


def test_admin_refuses_a_post_to_change_a_record(admin_client: Client, event: AuditEvent) -> None:
    response = admin_client.post(
        f"/admin/personas_app/auditevent/{event.pk}/change/", {"note": "rewritten", "action": "x"}
    )

    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).note == ""


def test_admin_refuses_deletion(admin_client: Client, event: AuditEvent) -> None:
    response = admin_client.post(
        f"/admin/personas_app/auditevent/{event.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()

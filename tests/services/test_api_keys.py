"""Tavus API keys: stored encrypted, one active, every event audited, tested against the emulator.

The plaintext key must never be in the database row, an audit record or a log line.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from personas_app.crypto import unseal
from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ApiKey, AuditEvent, Workspace
from personas_app.services.workspaces import (
    NoActiveKey,
    WorkspaceError,
    api_key_activate,
    api_key_add,
    api_key_revoke,
    api_key_rotate,
    api_key_test,
    tavus_client_for,
)
from tests.builders import make_workspace

WRONG = "tvs-wrong-key-0000-WXYZ"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _raw_rows(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return [" ".join(str(value) for value in row) for row in cursor.fetchall()]


def _audit_text() -> str:
    return " ".join(
        str(getattr(event, field.name))
        for event in AuditEvent.objects.all()
        for field in AuditEvent._meta.fields
    )


# -- Storage ------------------------------------------------------------------------------


def test_key_is_stored_encrypted_and_the_raw_row_has_no_plaintext(
    workspace: Workspace, alice: Any
) -> None:
    secret = "tvs-plaintext-key-7890"

    key = api_key_add(workspace=workspace, label="backup", secret=secret, actor=alice)

    rows = _raw_rows(ApiKey._meta.db_table)
    assert rows and not any(secret in row for row in rows)
    assert not any(secret[:-4] in row for row in rows)
    assert unseal(key.secret_sealed) == secret
    assert key.last4 == "7890"


def test_first_key_becomes_active_later_ones_only_when_asked(alice: Any, tavus_server: Any) -> None:
    ws = make_workspace(owner=alice, base_url=tavus_server.url, api_key=None)

    first = api_key_add(workspace=ws, label="one", secret="first-key-1111", actor=alice)
    second = api_key_add(workspace=ws, label="two", secret="second-key-2222", actor=alice)
    third = api_key_add(
        workspace=ws, label="three", secret="third-key-3333", actor=alice, activate=True
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_active, second.is_active, third.is_active) == (False, False, True)


def test_adding_a_key_is_audited_with_who_and_when(workspace: Workspace, alice: Any) -> None:
    key = api_key_add(workspace=workspace, label="backup", secret=WRONG, actor=alice)

    event = AuditEvent.objects.filter(action="key.added").latest("id")
    assert event.actor_name == "alice" and event.created_at is not None
    assert event.target == "backup (…WXYZ)"
    assert key.created_by_name == "alice"


def test_duplicate_name_is_refused(workspace: Workspace, alice: Any) -> None:
    with pytest.raises(WorkspaceError, match="already exists"):
        api_key_add(workspace=workspace, label="default", secret=WRONG, actor=alice)


def test_rotate_replaces_the_secret_keeps_the_name_and_is_audited(
    workspace: Workspace, alice: Any
) -> None:
    key = workspace.api_keys.get()

    api_key_rotate(workspace=workspace, key=key, secret=WRONG, actor=alice)

    key.refresh_from_db()
    assert unseal(key.secret_sealed) == WRONG
    assert (key.label, key.last4, key.is_active) == ("default", "WXYZ", True)
    assert key.rotated_at is not None
    event = AuditEvent.objects.get(action="key.rotated")
    assert event.actor_name == "alice" and event.target == "default (…WXYZ)"


def test_activate_leaves_exactly_one_active_key_and_is_audited(
    workspace: Workspace, alice: Any
) -> None:
    backup = api_key_add(workspace=workspace, label="backup", secret=WRONG, actor=alice)

    api_key_activate(workspace=workspace, key=backup, actor=alice)

    assert list(workspace.api_keys.filter(is_active=True)) == [backup]
    assert AuditEvent.objects.get(action="key.activated").actor_name == "alice"


def test_revoke_deletes_the_secret_and_is_audited(workspace: Workspace, alice: Any) -> None:
    key = workspace.api_keys.get()

    api_key_revoke(workspace=workspace, key=key, actor=alice)

    key.refresh_from_db()
    assert key.secret_sealed == "" and not key.is_active and key.revoked_at is not None
    assert AuditEvent.objects.get(action="key.revoked").actor_name == "alice"
    with pytest.raises(NoActiveKey):
        tavus_client_for(workspace)


def test_revoking_twice_is_refused(workspace: Workspace, alice: Any) -> None:
    key = workspace.api_keys.get()
    api_key_revoke(workspace=workspace, key=key, actor=alice)
    with pytest.raises(WorkspaceError, match="already revoked"):
        api_key_revoke(workspace=workspace, key=key, actor=alice)


def test_revoked_key_cannot_be_activated_until_rotated(workspace: Workspace, alice: Any) -> None:
    key = workspace.api_keys.get()
    api_key_revoke(workspace=workspace, key=key, actor=alice)

    with pytest.raises(WorkspaceError, match="revoked"):
        api_key_activate(workspace=workspace, key=key, actor=alice)

    api_key_rotate(workspace=workspace, key=key, secret=WRONG, actor=alice)
    api_key_activate(workspace=workspace, key=key, actor=alice)
    key.refresh_from_db()
    assert key.is_active and not key.is_revoked


def test_no_audit_record_holds_a_secret(
    workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    backup = api_key_add(workspace=workspace, label="backup", secret=WRONG, actor=alice)
    api_key_rotate(workspace=workspace, key=backup, secret="tvs-rotated-key-5555", actor=alice)
    api_key_activate(workspace=workspace, key=backup, actor=alice)
    api_key_revoke(workspace=workspace, key=backup, actor=alice)

    text = _audit_text()
    assert AuditEvent.objects.filter(action__startswith="key.").count() == 5
    for secret in (tavus.api_key, WRONG, "tvs-rotated-key-5555"):
        assert secret not in text
    assert not any(WRONG in row for row in _raw_rows(AuditEvent._meta.db_table))


# -- Test connection ----------------------------------------------------------------------


def test_connection_test_works_with_one_cheap_request(
    workspace: Workspace, tavus: EmulatorState
) -> None:
    result = api_key_test(workspace=workspace, key=workspace.api_keys.get())

    assert result.ok and result.outcome == "ok"
    assert result.message.startswith("Works")
    assert tavus.count() == 1
    assert tavus.requests[0].path == "/v2/personas"
    assert tavus.requests[0].query.get("limit") == "1"


def test_connection_test_reports_a_wrong_key(workspace: Workspace, alice: Any) -> None:
    backup = api_key_add(workspace=workspace, label="backup", secret=WRONG, actor=alice)

    result = api_key_test(workspace=workspace, key=backup)

    assert not result.ok and result.outcome == "rejected"
    assert result.message.startswith("Key rejected")


def test_connection_test_uses_that_key_not_the_active_one(
    workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    active = workspace.api_keys.get()
    api_key_rotate(workspace=workspace, key=active, secret=WRONG, actor=alice)
    good = api_key_add(workspace=workspace, label="good", secret=tavus.api_key, actor=alice)

    assert api_key_test(workspace=workspace, key=good).ok
    assert api_key_test(workspace=workspace, key=active).outcome == "rejected"


def test_connection_test_reports_unreachable_tavus(workspace: Workspace) -> None:
    workspace.tavus_base_url = f"http://127.0.0.1:{_closed_port()}"
    workspace.save()

    result = api_key_test(workspace=workspace, key=workspace.api_keys.get())

    assert not result.ok and result.outcome == "unreachable"
    assert result.message.startswith("Tavus could not be reached at http://127.0.0.1:")
    assert "refused" not in result.message  # one message: a closed port looks like any failure


def test_connection_test_reports_rate_limiting(workspace: Workspace, tavus: EmulatorState) -> None:
    tavus.fail_next(5, 429, retry_after=0.05)

    result = api_key_test(workspace=workspace, key=workspace.api_keys.get())

    assert not result.ok and result.outcome == "rate_limited"
    assert result.message.startswith("Rate limited")


def test_connection_test_of_a_revoked_key_asks_nothing_of_tavus(
    workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    key = workspace.api_keys.get()
    api_key_revoke(workspace=workspace, key=key, actor=alice)

    result = api_key_test(workspace=workspace, key=key)

    assert not result.ok and result.outcome == "revoked"
    assert tavus.count() == 0


def test_connection_test_refuses_a_key_of_another_workspace(
    workspace: Workspace, alice: Any
) -> None:
    other = make_workspace(owner=alice, base_url="", api_key="other-key-1234567", slug="other")
    with pytest.raises(WorkspaceError):
        api_key_test(workspace=workspace, key=other.api_keys.get())


# -- Logs ---------------------------------------------------------------------------------


def test_no_log_line_carries_a_key(
    workspace: Workspace,
    alice_client: Client,
    tavus: EmulatorState,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    added, rotated, from_env = WRONG, "tvs-rotated-key-5555", "tvs-from-env-key-4444"
    monkeypatch.setenv("PS_TEST_KEY", from_env)

    alice_client.post("/w/acme/keys/add/", {"label": "backup", "secret": added})
    backup = workspace.api_keys.get(label="backup")
    alice_client.post(f"/w/acme/keys/{backup.pk}/test/")  # rejected: 401 from Tavus
    alice_client.post(f"/w/acme/keys/{workspace.api_keys.get(label='default').pk}/test/")
    alice_client.post(f"/w/acme/keys/{backup.pk}/rotate/", {"secret": rotated})
    alice_client.post("/w/acme/keys/add/", {"label": "bad", "secret": "bad key with spaces"})
    alice_client.get("/w/acme/")
    call_command("workspace", "rotate-key", "acme", "--api-key-env", "PS_TEST_KEY")

    assert caplog.records, "expected the client's debug lines to be captured"
    text = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
    )
    for secret in (tavus.api_key, added, rotated, from_env, "bad key with spaces"):
        assert secret not in text

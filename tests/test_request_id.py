"""Request ids: a well-formed incoming X-Request-Id is kept; anything else is replaced, never echoed."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent
from tests.builders import persona_doc
from tests.formdata import form_data, with_values

HOSTILE = [
    "abcdefgh\r\nSet-Cookie: sessionid=stolen",
    "abcdefgh\nX-Injected: 1",
    "<script>alert(1)</script>",
    "x" * 10_240,
    "requëst-id-ünicode",
    "id with spaces",
    "short",
    "a" * 37,
]


def _generated(value: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{32}", value) is not None


def test_a_response_without_an_incoming_id_gets_a_generated_one(alice_client: Any) -> None:
    response = alice_client.get("/")

    assert _generated(response["X-Request-Id"])


@pytest.mark.parametrize("incoming", [str(uuid.uuid4()), "req-2026.12.02_abc", "a1b2c3d4"])
def test_a_well_formed_incoming_id_is_kept(alice_client: Any, incoming: str) -> None:
    response = alice_client.get("/", headers={"X-Request-Id": incoming})

    assert response["X-Request-Id"] == incoming


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_incoming_id_is_replaced_by_a_generated_one(
    alice_client: Any, hostile: str
) -> None:
    response = alice_client.get("/", headers={"X-Request-Id": hostile})

    assert _generated(response["X-Request-Id"])
    assert hostile not in response.content.decode()


@pytest.mark.parametrize("hostile", HOSTILE[:4], ids=range(4))
def test_the_audit_record_of_a_write_carries_the_generated_id_not_the_hostile_one(
    bob_client: Any, workspace: Any, tavus: EmulatorState, hostile: str
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    editor = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()
    data = with_values(form_data(editor), {"identity-persona_name": "Renamed", "submit": "apply"})

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/", data, headers={"X-Request-Id": hostile}
    )

    event = AuditEvent.objects.get(action="persona.patched")
    assert _generated(event.request_id)
    assert event.request_id == response["X-Request-Id"]

"""Tavus addresses come from an allow-list: a workspace pointed anywhere else sends its key
nowhere, and the settings form refuses such an address with a clear message."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState, RunningEmulator
from personas_app.models import Workspace


@pytest.fixture
def listener() -> Iterator[tuple[str, list[bytes]]]:
    """A TCP listener on a loopback port that records whatever reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    received.append(conn.recv(65536))
                except OSError:
                    received.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    stop.set()
    thread.join(timeout=5)
    server.close()


@pytest.fixture
def allow_only_the_emulator(settings: Any, tavus_server: RunningEmulator) -> None:
    settings.TAVUS_ALLOW_LOOPBACK = False
    settings.TAVUS_ALLOWED_BASE_URLS = [tavus_server.url]


def test_an_address_outside_the_allow_list_receives_nothing(
    alice_client: Any,
    workspace: Workspace,
    tavus: EmulatorState,
    listener: tuple[str, list[bytes]],
    allow_only_the_emulator: None,
) -> None:
    url, received = listener
    persona_id = tavus.put_persona({"persona_name": "Front desk", "system_prompt": "Hi."})
    Workspace.objects.filter(pk=workspace.pk).update(tavus_base_url=url)  # an old setting
    key = workspace.api_keys.get()

    pages = [
        alice_client.get("/w/acme/"),
        alice_client.get(f"/w/acme/personas/{persona_id}/"),
        alice_client.get(f"/w/acme/personas/{persona_id}/edit/"),
        alice_client.post(f"/w/acme/keys/{key.pk}/test/", HTTP_HX_REQUEST="true"),
    ]

    for response in pages:
        assert response.status_code == 200
        assert "not one this server may send keys to" in response.content.decode()
    assert received == []


def test_the_settings_form_refuses_an_address_outside_the_allow_list(
    alice_client: Any,
    workspace: Workspace,
    listener: tuple[str, list[bytes]],
    allow_only_the_emulator: None,
) -> None:
    url, received = listener
    form = {
        "name": "Acme",
        "tavus_base_url": url,
        "approvals_required": "1",
        "conversation_max_minutes": "30",
    }

    response = alice_client.post("/w/acme/settings/", form)

    body = response.content.decode()
    assert response.status_code == 200
    assert "This server may only send keys to these Tavus addresses" in body
    assert url in body  # what was typed is kept
    workspace.refresh_from_db()
    assert workspace.tavus_base_url != url
    assert received == []

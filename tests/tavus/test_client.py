"""TavusClient against the emulator over real HTTP: each method, each error class, retries."""

from __future__ import annotations

import contextlib
import json
import logging
import pickle
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from personas_app.devtools.emulator import EmulatorState, RunningEmulator
from personas_app.tavus import (
    TavusAuthError,
    TavusBadRequest,
    TavusClient,
    TavusConcurrencyLimit,
    TavusError,
    TavusNotFound,
    TavusRateLimited,
    TavusUnavailable,
)
from personas_app.tavus._types import JSON, JSONObject

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"
SECRET = "tvs-SECRET-4f1d9a7c2b"

MakeClient = Callable[..., TavusClient]


def seed(name: str) -> JSONObject:
    data: JSONObject = json.loads((SEEDS / name).read_text())
    return data


def minimal(**extra: JSON) -> JSONObject:
    return {"persona_name": "Minimal", "system_prompt": "Be brief.", **extra}


@pytest.fixture
def make_client(emulator_server: RunningEmulator, emu: EmulatorState) -> MakeClient:
    """Clients with tiny waits, so retry tests stay fast."""

    def make(
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: tuple[float, float] = (1.0, 2.0),
        max_retries: int = 2,
        backoff: float = 0.01,
        max_retry_after: float = 0.2,
    ) -> TavusClient:
        return TavusClient(
            api_key if api_key is not None else emu.api_key,
            base_url or emulator_server.url,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_retry_after=max_retry_after,
        )

    return make


@pytest.fixture
def client(make_client: MakeClient) -> TavusClient:
    return make_client()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- Personas ----------------------------------------------------------------------------------


def test_list_personas_returns_data_and_total_count(client: TavusClient) -> None:
    body = client.list_personas()
    assert body["total_count"] == 3
    assert isinstance(body["data"], list)
    assert len(body["data"]) == 3


def test_list_personas_sends_page_limit_and_type(client: TavusClient, emu: EmulatorState) -> None:
    client.create_persona(minimal())
    body = client.list_personas(page=1, limit=5, persona_type="user")
    assert body["total_count"] == 1
    assert emu.requests[-1].query == {"page": "1", "limit": "5", "persona_type": "user"}


def test_list_personas_sends_only_the_x_api_key_header(
    client: TavusClient, emu: EmulatorState
) -> None:
    client.list_personas()
    headers = emu.requests[-1].headers
    assert headers["x-api-key"] == "****"  # sent (the emulator masks it in its log)
    assert "authorization" not in headers and "cookie" not in headers


def test_create_persona_returns_the_documented_keys(client: TavusClient) -> None:
    created = client.create_persona(seed("create_life_coach.json"))
    assert set(created) == {"persona_id", "persona_name", "created_at"}
    assert created["persona_name"] == "Life Coach"


@pytest.mark.parametrize("name", ["create_life_coach.json", "create_raven1_openapi.json"])
def test_get_persona_reads_back_what_was_created(client: TavusClient, name: str) -> None:
    sent = seed(name)
    persona_id = str(client.create_persona(sent)["persona_id"])
    persona = client.get_persona(persona_id)
    assert persona["persona_id"] == persona_id
    assert {k: v for k, v in persona.items() if k in sent} == sent


def test_get_persona_accepts_the_flat_shape(client: TavusClient, emu: EmulatorState) -> None:
    persona_id = str(client.create_persona(minimal())["persona_id"])
    emu.get_one_shape = "flat"
    assert client.get_persona(persona_id)["persona_name"] == "Minimal"


def test_patch_persona_is_true_when_changed_and_false_on_304(client: TavusClient) -> None:
    persona_id = str(client.create_persona(seed("create_life_coach.json"))["persona_id"])
    ops = json.loads((SEEDS / "patch_hotwords.json").read_text())
    assert client.patch_persona(persona_id, ops) is True
    assert client.patch_persona(persona_id, ops) is False
    persona = json.loads(json.dumps(client.get_persona(persona_id)))
    assert persona["layers"]["stt"]["hotwords"] == "leadership"
    assert persona["layers"]["stt"]["stt_engine"] == "tavus-turbo"


def test_patch_persona_sends_a_json_array_as_application_json(
    client: TavusClient, emu: EmulatorState
) -> None:
    persona_id = str(client.create_persona(minimal())["persona_id"])
    client.patch_persona(persona_id, [{"op": "replace", "path": "/persona_name", "value": "B"}])
    assert emu.requests[-1].headers["content-type"] == "application/json"
    assert emu.requests[-1].body == [{"op": "replace", "path": "/persona_name", "value": "B"}]


def test_delete_persona_removes_it(client: TavusClient) -> None:
    persona_id = str(client.create_persona(minimal())["persona_id"])
    assert client.delete_persona(persona_id) is None
    with pytest.raises(TavusNotFound):
        client.get_persona(persona_id)


def test_persona_ids_are_quoted_into_the_path(client: TavusClient, emu: EmulatorState) -> None:
    with pytest.raises(TavusNotFound):
        client.get_persona("p1/../../replicas")
    assert emu.requests[-1].target == "/v2/personas/p1%2F..%2F..%2Freplicas"


# -- Replicas and documents --------------------------------------------------------------------


def test_list_replicas_is_verbose_by_default(client: TavusClient, emu: EmulatorState) -> None:
    body = client.list_replicas()
    data = body["data"]
    assert isinstance(data, list)
    assert all(isinstance(r, dict) and r["replica_type"] in {"user", "system"} for r in data)
    assert emu.requests[-1].query == {"page": "1", "limit": "100", "verbose": "true"}


def test_list_replicas_filters_by_type(client: TavusClient) -> None:
    body = client.list_replicas(replica_type="system", verbose=False)
    data = body["data"]
    assert isinstance(data, list)
    assert all(isinstance(r, dict) and "replica_type" not in r for r in data)
    assert body["total_count"] == 4


def test_list_documents_uses_zero_based_pages_and_comma_tags(
    client: TavusClient, emu: EmulatorState
) -> None:
    body = client.list_documents(tags=["product_info", "sales"], name_or_uuid="pricing")
    data = body["data"]
    assert isinstance(data, list)
    assert [d["document_id"] for d in data if isinstance(d, dict)] == ["d3579111315"]
    assert emu.requests[-1].query == {
        "page": "0",
        "limit": "100",
        "tags": "product_info,sales",
        "name_or_uuid": "pricing",
    }


# -- Objectives and guardrails -----------------------------------------------------------------


def test_list_objectives_reads_the_listing_from_page_one(
    client: TavusClient, emu: EmulatorState
) -> None:
    body = client.list_objectives()
    data = body["data"]
    assert isinstance(data, list) and body["total_count"] == len(data) == 3
    assert {"objectives_id", "objective_name", "objective_prompt"} <= set(data[0])
    assert emu.requests[-1].path == "/v2/objectives"
    assert emu.requests[-1].query == {"page": "1", "limit": "100"}


def test_list_guardrails_asks_for_individual_guardrails_from_page_zero(
    client: TavusClient, emu: EmulatorState
) -> None:
    body = client.list_guardrails()
    data = body["data"]
    assert isinstance(data, list) and body["total_count"] == len(data) == 4
    assert all(isinstance(g, dict) and str(g["uuid"]).startswith("g") for g in data)
    assert all(isinstance(g, dict) and isinstance(g["tags"], list) for g in data)
    assert emu.requests[-1].path == "/v2/guardrails"
    assert emu.requests[-1].query == {"legacy": "false", "page": "0", "limit": "100"}


def test_list_guardrails_pages_through_with_limit(client: TavusClient) -> None:
    first = client.list_guardrails(page=0, limit=3)["data"]
    second = client.list_guardrails(page=1, limit=3)["data"]
    assert isinstance(first, list) and isinstance(second, list)
    assert (len(first), len(second)) == (3, 1)


def test_list_objectives_on_an_odd_answer_raises_unavailable(
    client: TavusClient, emu: EmulatorState
) -> None:
    emu.fail_next(1, 200, body={"objectives": []}, methods={"GET"})
    with pytest.raises(TavusUnavailable) as caught:
        client.list_objectives()
    assert caught.value.reason == "bad_response"


# -- Conversations -----------------------------------------------------------------------------


def test_conversation_lifecycle_create_get_list_end(client: TavusClient) -> None:
    persona_id = str(client.create_persona(seed("create_interviewer.json"))["persona_id"])
    created = client.create_conversation(persona_id=persona_id, conversation_name="Interview User")
    assert created["status"] == "active"
    conversation_id = str(created["conversation_id"])
    assert client.get_conversation(conversation_id)["persona_id"] == persona_id
    assert client.list_conversations(status="active")["total_count"] == 1
    assert client.end_conversation(conversation_id) is None
    assert client.get_conversation(conversation_id)["status"] == "ended"
    assert client.list_conversations(status="active")["total_count"] == 0


def test_create_conversation_sends_only_the_given_fields(
    client: TavusClient, emu: EmulatorState
) -> None:
    persona_id = str(client.create_persona(seed("create_interviewer.json"))["persona_id"])
    created = client.create_conversation(
        persona_id=persona_id,
        replica_id="rf4e9d9790f0",
        test_mode=True,
        custom_greeting="Hi!",
        callback_url="https://example.com/hook",
    )
    assert created["status"] == "ended"
    assert created["callback_url"] == "https://example.com/hook"
    assert emu.requests[-1].body == {
        "persona_id": persona_id,
        "replica_id": "rf4e9d9790f0",
        "custom_greeting": "Hi!",
        "callback_url": "https://example.com/hook",
        "test_mode": True,
    }


def test_unknown_conversation_raises_not_found(client: TavusClient) -> None:
    with pytest.raises(TavusNotFound) as caught:
        client.end_conversation("cnope")
    assert caught.value.resource == "conversation"
    assert "conversation no longer exists on Tavus" in caught.value.user_message


# -- Error classes -----------------------------------------------------------------------------


def test_wrong_api_key_raises_auth_error(make_client: MakeClient) -> None:
    with pytest.raises(TavusAuthError) as caught:
        make_client(api_key="wrong").list_personas()
    assert caught.value.status == 401
    assert caught.value.tavus_message == "Invalid access token"
    assert caught.value.user_message == (
        "Tavus rejected the API key. Check the workspace's active key."
    )


def test_bad_request_keeps_tavus_message(client: TavusClient) -> None:
    with pytest.raises(TavusBadRequest) as caught:
        client.create_persona(minimal(default_replica_id="rnope"))
    assert caught.value.status == 400
    assert caught.value.tavus_message == "Invalid replica_uuid"
    assert caught.value.user_message == "Tavus refused the change: Invalid replica_uuid"


@pytest.mark.parametrize("action", ["get", "patch", "delete"])
def test_unknown_persona_raises_not_found(client: TavusClient, action: str) -> None:
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: client.get_persona("pgone"),
        "patch": lambda: client.patch_persona("pgone", [{"op": "remove", "path": "/context"}]),
        "delete": lambda: client.delete_persona("pgone"),
    }
    with pytest.raises(TavusNotFound) as caught:
        calls[action]()
    assert caught.value.status == 400
    assert caught.value.user_message == (
        "This persona no longer exists on Tavus (it may have been deleted)."
    )


def test_a_real_404_raises_not_found(client: TavusClient, emu: EmulatorState) -> None:
    emu.fail_next(1, 404, body={"message": "Not found"})
    with pytest.raises(TavusNotFound) as caught:
        client.get_persona("p123")
    assert caught.value.status == 404


def test_malformed_patch_raises_bad_request_for_422(client: TavusClient) -> None:
    persona_id = str(client.create_persona(minimal())["persona_id"])
    with pytest.raises(TavusBadRequest) as caught:
        client.patch_persona(persona_id, [{"op": "remove", "path": "/nope"}])
    assert caught.value.status == 422
    assert caught.value.user_message == "Tavus refused the change: Invalid JSON patch format"


def test_concurrency_cap_raises_concurrency_limit(client: TavusClient, emu: EmulatorState) -> None:
    persona_id = str(client.create_persona(seed("create_interviewer.json"))["persona_id"])
    emu.max_concurrent_conversations = 0
    with pytest.raises(TavusConcurrencyLimit) as caught:
        client.create_conversation(persona_id=persona_id)
    assert isinstance(caught.value, TavusBadRequest)
    assert caught.value.tavus_message == "User has reached maximum concurrent conversations"
    assert "End a conversation" in caught.value.user_message


def test_429_on_a_write_raises_rate_limited_with_retry_after(
    client: TavusClient, emu: EmulatorState
) -> None:
    emu.fail_next(1, 429, retry_after=7)
    with pytest.raises(TavusRateLimited) as caught:
        client.create_persona(minimal())
    assert caught.value.retry_after == 7.0
    assert "Wait 7 seconds" in caught.value.user_message
    assert emu.count() == 1


def test_5xx_raises_unavailable_naming_a_server_problem(
    client: TavusClient, emu: EmulatorState
) -> None:
    emu.fail_next(1, 500)
    with pytest.raises(TavusUnavailable) as caught:
        client.create_persona(minimal())
    assert (caught.value.status, caught.value.reason) == (500, "server_error")
    assert "problem on its side (HTTP 500)" in caught.value.user_message
    assert "may still have been saved" in caught.value.user_message


def test_a_non_json_answer_raises_unavailable_bad_response(
    client: TavusClient, emu: EmulatorState
) -> None:
    emu.fail_next(1, 200, raw_body="<html>captive portal</html>")
    with pytest.raises(TavusUnavailable) as caught:
        client.list_personas()
    assert caught.value.reason == "bad_response"


def test_read_timeout_raises_unavailable_timeout(
    make_client: MakeClient, emu: EmulatorState
) -> None:
    emu.hang_next(1, 0.6)
    client = make_client(timeout=(0.5, 0.3), max_retries=0)
    with pytest.raises(TavusUnavailable) as caught:
        client.list_personas()
    assert caught.value.reason == "read_timeout"
    assert "did not answer before the time limit" in caught.value.user_message


def test_connection_refused_raises_unavailable_refused(make_client: MakeClient) -> None:
    client = make_client(base_url=closed_port_url(), max_retries=0)
    with pytest.raises(TavusUnavailable) as caught:
        client.list_personas()
    assert caught.value.reason == "refused"
    assert "connection was refused" in caught.value.user_message


def test_a_server_that_never_accepts_raises_unavailable_connect_timeout(
    make_client: MakeClient,
) -> None:
    # A listening socket whose backlog is full: the kernel drops further SYNs, so the connection
    # is never made (no packet leaves the loopback interface).
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        host, port = server.getsockname()
        fillers: list[socket.socket] = []
        with contextlib.suppress(TimeoutError):
            while len(fillers) < 8:  # until the backlog is full and a connect hangs
                fillers.append(socket.create_connection((host, port), timeout=0.3))
        try:
            client = make_client(
                base_url=f"http://{host}:{port}", timeout=(0.3, 1.0), max_retries=0
            )
            with pytest.raises(TavusUnavailable) as caught:
                client.list_personas()
        finally:
            for filler in fillers:
                filler.close()
    assert caught.value.reason == "connect_timeout"


def test_unavailable_wording_differs_for_timeout_refused_and_5xx(
    make_client: MakeClient, emu: EmulatorState
) -> None:
    emu.hang_next(1, 0.6)
    messages = set()
    for client, prepare in (
        (make_client(timeout=(0.5, 0.3), max_retries=0), lambda: None),
        (make_client(base_url=closed_port_url(), max_retries=0), lambda: None),
        (make_client(max_retries=0), lambda: emu.fail_next(1, 503)),
    ):
        prepare()
        with pytest.raises(TavusUnavailable) as caught:
            client.list_personas()
        messages.add(caught.value.user_message)
    assert len(messages) == 3
    assert all(m.startswith("Tavus could not be reached") for m in messages)


def test_every_error_is_a_tavus_error_and_survives_pickling(
    make_client: MakeClient, emu: EmulatorState
) -> None:
    emu.fail_next(1, 429, retry_after=3)
    with pytest.raises(TavusError) as caught:
        make_client(max_retries=0).list_personas()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, TavusRateLimited)
    assert (copy.status, copy.retry_after, copy.user_message) == (
        429,
        3.0,
        caught.value.user_message,
    )


# -- Retry policy ------------------------------------------------------------------------------


def test_get_retries_after_503_then_succeeds(client: TavusClient, emu: EmulatorState) -> None:
    emu.fail_next(1, 503)
    assert client.list_personas()["total_count"] == 3
    assert [r.status for r in emu.requests] == [503, 200]


def test_get_retries_after_429_honouring_retry_after(
    client: TavusClient, emu: EmulatorState
) -> None:
    emu.fail_next(1, 429, retry_after=0.05)
    started = time.monotonic()
    assert client.list_replicas()["total_count"] == 7
    assert time.monotonic() - started >= 0.05
    assert [r.status for r in emu.requests] == [429, 200]


def test_retry_after_is_capped_by_max_retry_after(
    make_client: MakeClient, emu: EmulatorState
) -> None:
    emu.fail_next(1, 429, retry_after=60)
    started = time.monotonic()
    make_client(max_retry_after=0.05).list_personas()
    assert time.monotonic() - started < 2
    assert [r.status for r in emu.requests] == [429, 200]


def test_a_read_timeout_is_not_retried_so_a_hang_costs_one_timeout(
    make_client: MakeClient, emu: EmulatorState
) -> None:
    emu.hang_next(5, 0.6)
    client = make_client(timeout=(0.5, 0.3), max_retries=3)
    with pytest.raises(TavusUnavailable) as caught:
        client.list_personas()
    assert caught.value.reason == "read_timeout"
    assert emu.arrived() == 1  # the request went once; no retry followed the timeout


@pytest.mark.parametrize("status", [502, 504])
def test_get_retries_on_gateway_errors(
    client: TavusClient, emu: EmulatorState, status: int
) -> None:
    emu.fail_next(1, status)
    client.list_documents()
    assert [r.status for r in emu.requests] == [status, 200]


def test_get_gives_up_after_max_retries(client: TavusClient, emu: EmulatorState) -> None:
    emu.fail_next(10, 503)
    with pytest.raises(TavusUnavailable) as caught:
        client.list_personas()
    assert caught.value.status == 503
    assert emu.count() == 3


def test_get_gives_up_on_429_with_rate_limited(client: TavusClient, emu: EmulatorState) -> None:
    emu.fail_next(10, 429, retry_after=0.01)
    with pytest.raises(TavusRateLimited) as caught:
        client.list_personas()
    assert caught.value.retry_after == 0.01
    assert emu.count() == 3


def test_get_does_not_retry_a_400(client: TavusClient, emu: EmulatorState) -> None:
    with pytest.raises(TavusNotFound):
        client.get_persona("pgone")
    assert emu.count() == 1


@pytest.mark.parametrize("action", ["create", "patch", "delete", "start", "end"])
def test_writes_are_never_retried_on_503(
    client: TavusClient, emu: EmulatorState, action: str
) -> None:
    persona_id = emu.put_persona(minimal(default_replica_id="r79e1c033f"))
    calls: dict[str, Callable[[], object]] = {
        "create": lambda: client.create_persona(minimal()),
        "patch": lambda: client.patch_persona(
            persona_id, [{"op": "replace", "path": "/persona_name", "value": "B"}]
        ),
        "delete": lambda: client.delete_persona(persona_id),
        "start": lambda: client.create_conversation(persona_id=persona_id),
        "end": lambda: client.end_conversation("c0000000000000000"),
    }
    emu.fail_next(5, 503)
    with pytest.raises(TavusUnavailable):
        calls[action]()
    assert emu.count() == 1


def test_a_write_that_never_left_is_reported_as_refused(make_client: MakeClient) -> None:
    # Only a connection that could not be made is tried again for a write: nothing was sent.
    client = make_client(base_url=closed_port_url(), max_retries=3)
    with pytest.raises(TavusUnavailable) as caught:
        client.create_persona(minimal())
    assert caught.value.reason == "refused"


def test_a_write_whose_answer_timed_out_is_not_sent_again(
    make_client: MakeClient, emu: EmulatorState
) -> None:
    emu.hang_next(1, 0.6)
    client = make_client(timeout=(0.5, 0.3), max_retries=3)
    with pytest.raises(TavusUnavailable) as caught:
        client.create_persona(minimal())
    assert caught.value.reason == "read_timeout"
    assert emu.arrived() == 1


# -- The API key stays secret ------------------------------------------------------------------


def test_api_key_never_appears_in_errors_or_debug_logs(
    make_client: MakeClient, emu: EmulatorState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.api_key = SECRET
    client = make_client(api_key=SECRET)
    slow = make_client(api_key=SECRET, timeout=(0.5, 0.3), max_retries=0)
    dead = make_client(api_key=SECRET, base_url=closed_port_url(), max_retries=0)
    wrong = make_client(api_key=SECRET + "-old")
    persona_id = str(client.create_persona(minimal())["persona_id"])
    errors: list[TavusError] = []

    def collect(call: Callable[[], object]) -> None:
        with pytest.raises(TavusError) as caught:
            call()
        errors.append(caught.value)

    collect(lambda: wrong.list_personas())
    collect(lambda: client.create_persona(minimal(default_replica_id="rnope")))
    collect(lambda: client.get_persona("pgone"))
    collect(lambda: client.patch_persona(persona_id, [{"op": "remove", "path": "/x"}]))
    emu.fail_next(1, 400, body={"error": f"Key {SECRET} is not allowed from this address"})
    collect(lambda: client.create_persona(minimal()))
    emu.fail_next(3, 429, retry_after=0.01)
    collect(lambda: client.list_personas())
    emu.fail_next(3, 503)
    collect(lambda: client.list_personas())
    emu.hang_next(1, 0.6)
    collect(lambda: slow.list_personas())
    collect(lambda: dead.list_personas())

    assert len({type(e) for e in errors}) == 5
    for error in errors:
        for text in (str(error), repr(error), error.user_message, error.tavus_message or ""):
            assert SECRET not in text
    assert "****" in (errors[4].tavus_message or "")
    assert SECRET not in repr(client)
    assert "GET /v2/personas" in caplog.text
    assert SECRET not in caplog.text


# -- Kept-alive connections ----------------------------------------------------------------------


def test_clients_share_kept_connections_but_never_each_others_key(
    make_client: MakeClient, emu: EmulatorState
) -> None:
    good, revoked = make_client(), make_client(api_key="tvs-revoked-key")
    for _ in range(3):
        assert good.list_personas()["total_count"] == 3
        with pytest.raises(TavusAuthError):
            revoked.list_personas()
    keys_seen = [r.status for r in emu.requests]
    assert keys_seen == [200, 401] * 3


def test_consecutive_calls_reuse_one_connection(
    make_client: MakeClient, emulator_server: RunningEmulator
) -> None:
    client = make_client()
    client.list_personas()
    opened = emulator_server._server.connections_opened
    for _ in range(5):
        client.list_personas()
    assert emulator_server._server.connections_opened == opened

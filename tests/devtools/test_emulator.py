"""The emulator answers with Tavus's documented status codes and bodies, over real HTTP."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from personas_app.devtools.emulator import EmulatorState, RunningEmulator
from personas_app.tavus._types import JSON, JSONObject

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"
CREATE_SEEDS = sorted(p.name for p in SEEDS.glob("create_*.json"))
SERVER_FIELDS = {"persona_id", "persona_type", "created_at", "updated_at"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
STOCK_REPLICAS = ("r79e1c033f", "r90bbd427f71", "rf4e9d9790f0")


def seed(name: str) -> JSON:
    data: JSON = json.loads((SEEDS / name).read_text())
    return data


def dig(doc: JSON, *keys: str) -> JSON:
    for key in keys:
        assert isinstance(doc, dict)
        doc = doc.get(key)
    return doc


def minimal(**extra: JSON) -> JSONObject:
    return {"persona_name": "Minimal", "system_prompt": "Be brief.", **extra}


class Api:
    """Raw HTTP against the emulator, so tests see exact status codes and bodies."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key

    def call(
        self,
        method: str,
        path: str,
        *,
        json: JSON = None,
        params: dict[str, str] | None = None,
        data: str | None = None,
        key: str | None = "",
    ) -> requests.Response:
        headers = {}
        if key is not None:
            headers["x-api-key"] = key or self.api_key
        if data is not None:
            headers["Content-Type"] = "application/json"
        return requests.request(
            method,
            self.base_url + path,
            json=json,
            params=params,
            data=data,
            headers=headers,
            timeout=5,
        )

    def create(self, body: JSON) -> str:
        response = self.call("POST", "/v2/personas", json=body)
        assert response.status_code == 200, response.text
        persona_id: str = response.json()["persona_id"]
        return persona_id

    def persona(self, persona_id: str) -> JSONObject:
        response = self.call("GET", f"/v2/personas/{persona_id}")
        assert response.status_code == 200, response.text
        persona: JSONObject = response.json()["data"][0]
        return persona


@pytest.fixture
def api(emulator_server: RunningEmulator, emu: EmulatorState) -> Api:
    return Api(emulator_server.url, emu.api_key)


# -- Authentication ----------------------------------------------------------------------------


def test_request_without_api_key_is_401_invalid_access_token(api: Api) -> None:
    response = api.call("GET", "/v2/personas", key=None)
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid access token"}


def test_request_with_wrong_api_key_is_401_invalid_access_token(api: Api) -> None:
    response = api.call("GET", "/v2/personas", key="not-the-key")
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid access token"}


# -- Listing personas --------------------------------------------------------------------------


def test_list_personas_starts_with_system_personas_only(api: Api) -> None:
    body = api.call("GET", "/v2/personas").json()
    assert body["total_count"] == 3
    assert {p["persona_type"] for p in body["data"]} == {"system"}
    assert all(p["default_replica_id"] in STOCK_REPLICAS for p in body["data"])


def test_list_personas_filters_by_persona_type(api: Api) -> None:
    api.create(minimal())
    users = api.call("GET", "/v2/personas", params={"persona_type": "user"}).json()
    system = api.call("GET", "/v2/personas", params={"persona_type": "system"}).json()
    assert [p["persona_name"] for p in users["data"]] == ["Minimal"]
    assert users["total_count"] == 1
    assert system["total_count"] == 3


def test_list_personas_paginates_from_page_one_with_total_count(api: Api) -> None:
    for n in range(3):
        api.create(minimal(persona_name=f"P{n}"))
    first = api.call("GET", "/v2/personas", params={"limit": "2", "page": "1"}).json()
    third = api.call("GET", "/v2/personas", params={"limit": "2", "page": "3"}).json()
    beyond = api.call("GET", "/v2/personas", params={"limit": "2", "page": "9"}).json()
    assert len(first["data"]) == 2
    assert len(third["data"]) == 2
    assert beyond["data"] == []
    assert first["total_count"] == third["total_count"] == beyond["total_count"] == 6


def test_list_personas_defaults_to_ten_per_page(api: Api) -> None:
    for n in range(9):
        api.create(minimal(persona_name=f"P{n}"))
    body = api.call("GET", "/v2/personas").json()
    assert len(body["data"]) == 10
    assert body["total_count"] == 12


def test_list_personas_lists_newest_first(api: Api) -> None:
    api.create(minimal(persona_name="older"))
    api.create(minimal(persona_name="newer"))
    names = [p["persona_name"] for p in api.call("GET", "/v2/personas").json()["data"]]
    assert names[:2] == ["newer", "older"]


@pytest.mark.parametrize("limit", ["0", "-1", "ten", ""])
def test_list_personas_rejects_a_limit_that_is_not_a_positive_integer(api: Api, limit: str) -> None:
    response = api.call("GET", "/v2/personas", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]


def test_list_personas_rejects_an_unknown_persona_type(api: Api) -> None:
    response = api.call("GET", "/v2/personas", params={"persona_type": "robot"})
    assert response.status_code == 400
    assert "persona_type" in response.json()["error"]


# -- Creating personas -------------------------------------------------------------------------


def test_create_persona_answers_the_documented_three_keys(api: Api) -> None:
    response = api.call("POST", "/v2/personas", json=minimal())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"persona_id", "persona_name", "created_at"}
    assert re.fullmatch(r"p[0-9a-f]{11}", body["persona_id"])
    assert body["persona_name"] == "Minimal"
    assert TIMESTAMP.match(body["created_at"])


@pytest.mark.parametrize("name", CREATE_SEEDS)
def test_every_seed_create_body_reads_back_exactly_as_sent(api: Api, name: str) -> None:
    sent = seed(name)
    assert isinstance(sent, dict)
    persona = api.persona(api.create(sent))
    assert {k: v for k, v in persona.items() if k not in SERVER_FIELDS} == sent
    assert persona["persona_type"] == "user"
    assert persona["created_at"] == persona["updated_at"]
    assert TIMESTAMP.match(persona["created_at"])


def test_create_stores_tts_emotion_control_string_as_given(api: Api) -> None:
    persona_id = api.create(minimal(layers={"tts": {"tts_emotion_control": "false"}}))
    assert api.persona(persona_id)["layers"]["tts"]["tts_emotion_control"] == "false"


def test_create_keeps_unknown_fields_at_top_level_and_inside_layers(api: Api) -> None:
    body = minimal(
        brand_new_field={"nested": [1, 2.5, None, True]},
        layers={
            "llm": {"model": "tavus-gpt-oss", "future_knob": 3},
            "conversational_flow": {"voice_isolation": "near"},
            "hologram": {"enabled": True},
        },
    )
    persona = api.persona(api.create(body))
    assert {k: v for k, v in persona.items() if k not in SERVER_FIELDS} == body


def test_create_ignores_server_fields_sent_in_the_body(api: Api) -> None:
    body = minimal(
        persona_id="pchosen",
        created_at="1999-01-01T00:00:00Z",
        updated_at="1999-01-01T00:00:00Z",
        persona_type="system",
    )
    persona_id = api.create(body)
    persona = api.persona(persona_id)
    assert persona_id != "pchosen"
    assert persona["persona_id"] == persona_id
    assert persona["persona_type"] == "user"
    assert persona["created_at"] != "1999-01-01T00:00:00Z"


@pytest.mark.parametrize("spelling", ["time-based", "timebased", "sparrow-0", "sparrow-1"])
def test_create_accepts_every_turn_detection_model_spelling(api: Api, spelling: str) -> None:
    body = minimal(layers={"conversational_flow": {"turn_detection_model": spelling}})
    assert api.call("POST", "/v2/personas", json=body).status_code == 200


def test_create_with_unknown_replica_is_400_invalid_replica_uuid(api: Api) -> None:
    response = api.call("POST", "/v2/personas", json=minimal(default_replica_id="rnope"))
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid replica_uuid"}


@pytest.mark.parametrize(
    "body",
    [
        {"persona_name": "No prompt"},
        {"persona_name": "Empty prompt", "system_prompt": "  "},
        {"persona_name": "Full, no prompt", "pipeline_mode": "full"},
    ],
)
def test_create_without_system_prompt_in_full_mode_is_400(api: Api, body: JSONObject) -> None:
    response = api.call("POST", "/v2/personas", json=body)
    assert response.status_code == 400
    assert "system_prompt" in response.json()["error"]
    assert api.call("GET", "/v2/personas").json()["total_count"] == 3


def test_create_echo_persona_without_system_prompt_is_accepted(api: Api) -> None:
    body = {"pipeline_mode": "echo", "layers": {"transport": {"transport_type": "livekit"}}}
    assert api.call("POST", "/v2/personas", json=body).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (minimal(pipeline_mode="custom"), "pipeline_mode"),
        (minimal(persona_name=5), "persona_name"),
        (minimal(document_ids="d1234567890"), "document_ids"),
        (minimal(layers="llm"), "layers"),
        (minimal(layers={"llm": "tavus-gpt-oss"}), "layers.llm"),
        (minimal(layers={"tts": {"tts_engine": "speakit"}}), "layers.tts.tts_engine"),
        (minimal(layers={"tts": {"tts_emotion_control": "maybe"}}), "tts_emotion_control"),
        (minimal(layers={"tts": {"voice_settings": {"speed": [1]}}}), "voice_settings.speed"),
        (
            minimal(layers={"stt": {"participant_pause_sensitivity": "extreme"}}),
            "participant_pause_sensitivity",
        ),
        (minimal(layers={"stt": {"stt_engine": "tavus-magic"}}), "stt_engine"),
        (
            minimal(layers={"conversational_flow": {"replica_interruptibility": "verylow"}}),
            "replica_interruptibility",
        ),
        (minimal(layers={"perception": {"perception_model": "raven-9"}}), "perception_model"),
        (minimal(layers={"llm": {"headers": {"Authorization": 5}}}), "layers.llm.headers"),
        (minimal(layers={"llm": {"tools": [{"type": "tool"}]}}), "layers.llm.tools[0].type"),
        (
            minimal(layers={"llm": {"tools": [{"type": "function", "function": {}}]}}),
            "layers.llm.tools[0].function.name",
        ),
        (
            minimal(
                layers={
                    "perception": {
                        "visual_tools": [
                            {"type": "function", "function": {"name": "notifyIfIdShown"}}
                        ]
                    }
                }
            ),
            "snake_case",
        ),
    ],
)
def test_create_rejects_a_bad_field_with_an_error_naming_it(
    api: Api, body: JSONObject, field: str
) -> None:
    response = api.call("POST", "/v2/personas", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]


@pytest.mark.parametrize("payload", ["[]", '"persona"', "{not json"])
def test_create_with_a_body_that_is_not_a_json_object_is_400(api: Api, payload: str) -> None:
    response = api.call("POST", "/v2/personas", data=payload)
    assert response.status_code == 400
    assert "error" in response.json()


# -- Reading and deleting one persona ----------------------------------------------------------


def test_get_persona_is_wrapped_in_a_data_list_by_default(api: Api) -> None:
    persona_id = api.create(minimal())
    body = api.call("GET", f"/v2/personas/{persona_id}").json()
    assert list(body) == ["data"]
    assert body["data"][0]["persona_id"] == persona_id


def test_get_persona_is_flat_when_the_shape_knob_says_so(api: Api, emu: EmulatorState) -> None:
    persona_id = api.create(minimal())
    emu.get_one_shape = "flat"
    body = api.call("GET", f"/v2/personas/{persona_id}").json()
    assert body["persona_id"] == persona_id
    assert "data" not in body


def test_get_unknown_persona_is_400_invalid_persona_id(api: Api) -> None:
    response = api.call("GET", "/v2/personas/pdoesnotexist")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid persona_id"}


def test_secrets_are_echoed_by_default(api: Api) -> None:
    persona = api.persona(api.create(seed("create_raven1_openapi.json")))
    assert persona["layers"]["llm"]["api_key"] == "your-api-key"
    assert persona["layers"]["llm"]["headers"] == {"Authorization": "Bearer your-api-key"}


def test_mask_secrets_hides_keys_and_llm_headers_in_every_read(
    api: Api, emu: EmulatorState
) -> None:
    persona_id = api.create(seed("create_raven1_openapi.json"))
    emu.mask_secrets = True
    one = api.persona(persona_id)
    listed = api.call("GET", "/v2/personas", params={"persona_type": "user"}).json()["data"][0]
    patched = api.call(
        "PATCH",
        f"/v2/personas/{persona_id}",
        json=[{"op": "add", "path": "/context", "value": "x"}],
    ).json()
    for persona in (one, listed, patched):
        assert persona["layers"]["llm"]["api_key"] == "****"
        assert persona["layers"]["tts"]["api_key"] == "****"
        assert persona["layers"]["llm"]["headers"] == {"Authorization": "****"}
    assert dig(emu.personas[persona_id], "layers", "llm", "api_key") == "your-api-key"


def test_delete_persona_is_204_then_400_invalid_persona_id(api: Api) -> None:
    persona_id = api.create(minimal())
    first = api.call("DELETE", f"/v2/personas/{persona_id}")
    assert first.status_code == 204
    assert first.content == b""
    again = api.call("DELETE", f"/v2/personas/{persona_id}")
    assert again.status_code == 400
    assert again.json() == {"error": "Invalid persona_id"}
    assert api.call("GET", f"/v2/personas/{persona_id}").status_code == 400


def test_system_personas_cannot_be_patched_or_deleted(api: Api) -> None:
    system_id = api.call("GET", "/v2/personas").json()["data"][0]["persona_id"]
    patch = [{"op": "replace", "path": "/persona_name", "value": "Mine now"}]
    assert api.call("PATCH", f"/v2/personas/{system_id}", json=patch).status_code == 400
    assert api.call("DELETE", f"/v2/personas/{system_id}").status_code == 400
    assert api.persona(system_id)["persona_name"] != "Mine now"


# -- Patching personas -------------------------------------------------------------------------


def test_the_documented_patch_example_adds_hotwords(api: Api) -> None:
    persona_id = api.create(seed("create_life_coach.json"))
    response = api.call("PATCH", f"/v2/personas/{persona_id}", json=seed("patch_hotwords.json"))
    assert response.status_code == 200
    assert api.persona(persona_id)["layers"]["stt"]["hotwords"] == "leadership"


def test_patch_answers_the_full_persona(api: Api) -> None:
    persona_id = api.create(minimal())
    ops = [{"op": "replace", "path": "/persona_name", "value": "Renamed"}]
    body = api.call("PATCH", f"/v2/personas/{persona_id}", json=ops).json()
    assert body == api.persona(persona_id)
    assert body["persona_name"] == "Renamed"


def test_patch_body_is_sent_as_plain_application_json(api: Api) -> None:
    persona_id = api.create(minimal())
    payload = json.dumps([{"op": "add", "path": "/context", "value": "New"}])
    response = api.call("PATCH", f"/v2/personas/{persona_id}", data=payload)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("op", "check"),
    [
        (
            {"op": "add", "path": "/document_tags/-", "value": "faq"},
            ("document_tags", ["a", "faq"]),
        ),
        ({"op": "remove", "path": "/context"}, ("context", None)),
        ({"op": "replace", "path": "/persona_name", "value": "B"}, ("persona_name", "B")),
        ({"op": "move", "from": "/context", "path": "/persona_name"}, ("persona_name", "ctx")),
        ({"op": "copy", "from": "/persona_name", "path": "/context"}, ("context", "A")),
    ],
)
def test_patch_applies_each_rfc6902_operation(
    api: Api, op: JSONObject, check: tuple[str, JSON]
) -> None:
    persona_id = api.create(minimal(persona_name="A", context="ctx", document_tags=["a"]))
    response = api.call("PATCH", f"/v2/personas/{persona_id}", json=[op])
    assert response.status_code == 200, response.text
    field, expected = check
    assert api.persona(persona_id).get(field) == expected


def test_patch_test_operation_guards_the_following_ops(api: Api) -> None:
    persona_id = api.create(minimal(persona_name="A"))
    ops = [
        {"op": "test", "path": "/persona_name", "value": "A"},
        {"op": "replace", "path": "/persona_name", "value": "B"},
    ]
    assert api.call("PATCH", f"/v2/personas/{persona_id}", json=ops).status_code == 200
    assert api.persona(persona_id)["persona_name"] == "B"


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "replace", "path": "/persona_name", "value": "B"},
        [{"op": "rename", "path": "/persona_name", "value": "B"}],
        [{"op": "replace", "path": "/persona_name"}],
        [{"op": "replace", "path": "persona_name", "value": "B"}],
        [{"op": "move", "path": "/persona_name"}],
        [{"op": "add", "path": "/layers/conversational_flow/turn_taking_patience", "value": "low"}],
        [{"op": "test", "path": "/persona_name", "value": "not A"}],
        [{"op": "remove", "path": "/context"}],
        [{"op": "replace", "path": "/document_tags/5", "value": "x"}],
        ["replace /persona_name"],
    ],
)
def test_malformed_patch_is_422_invalid_json_patch_format(api: Api, ops: JSON) -> None:
    persona_id = api.create(minimal(persona_name="A", layers={}, document_tags=[]))
    before = api.persona(persona_id)
    response = api.call("PATCH", f"/v2/personas/{persona_id}", json=ops)
    assert response.status_code == 422
    assert response.json() == {"message": "Invalid JSON patch format"}
    assert api.persona(persona_id) == before


def test_patch_with_invalid_json_is_422(api: Api) -> None:
    persona_id = api.create(minimal())
    response = api.call("PATCH", f"/v2/personas/{persona_id}", data="[{oops")
    assert response.status_code == 422
    assert response.json() == {"message": "Invalid JSON patch format"}


def test_patch_is_all_or_nothing(api: Api) -> None:
    persona_id = api.create(minimal(persona_name="A"))
    ops = [
        {"op": "replace", "path": "/persona_name", "value": "B"},
        {"op": "remove", "path": "/does_not_exist"},
    ]
    assert api.call("PATCH", f"/v2/personas/{persona_id}", json=ops).status_code == 422
    assert api.persona(persona_id)["persona_name"] == "A"


@pytest.mark.parametrize(
    ("op", "field"),
    [
        ({"op": "replace", "path": "/persona_id", "value": "pmine"}, "persona_id"),
        ({"op": "remove", "path": "/created_at"}, "created_at"),
        ({"op": "add", "path": "/updated_at", "value": "2020-01-01T00:00:00Z"}, "updated_at"),
        ({"op": "replace", "path": "/persona_type", "value": "system"}, "persona_type"),
        ({"op": "move", "from": "/persona_id", "path": "/context"}, "persona_id"),
        ({"op": "copy", "from": "/created_at", "path": "/context"}, "created_at"),
        ({"op": "replace", "path": "", "value": {}}, "read-only"),
    ],
)
def test_patch_touching_a_read_only_field_is_400_and_saves_nothing(
    api: Api, op: JSONObject, field: str
) -> None:
    persona_id = api.create(minimal(context="ctx"))
    before = api.persona(persona_id)
    ops = [{"op": "replace", "path": "/persona_name", "value": "Changed"}, op]
    response = api.call("PATCH", f"/v2/personas/{persona_id}", json=ops)
    assert response.status_code == 400
    assert field in response.json()["error"]
    assert "read-only" in response.json()["error"]
    assert api.persona(persona_id) == before


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ({"op": "remove", "path": "/system_prompt"}, "system_prompt"),
        (
            {"op": "replace", "path": "/default_replica_id", "value": "rnope"},
            "Invalid replica_uuid",
        ),
        ({"op": "replace", "path": "/pipeline_mode", "value": "custom"}, "pipeline_mode"),
        ({"op": "add", "path": "/layers", "value": {"tts": {"tts_engine": "x"}}}, "tts_engine"),
    ],
)
def test_patch_producing_an_invalid_persona_is_400_and_saves_nothing(
    api: Api, op: JSONObject, expected: str
) -> None:
    persona_id = api.create(minimal(default_replica_id="r79e1c033f", pipeline_mode="full"))
    before = api.persona(persona_id)
    response = api.call("PATCH", f"/v2/personas/{persona_id}", json=[op])
    assert response.status_code == 400
    assert expected in response.json()["error"]
    assert api.persona(persona_id) == before


@pytest.mark.parametrize(
    "ops",
    [
        [],
        [{"op": "replace", "path": "/persona_name", "value": "A"}],
        [{"op": "test", "path": "/persona_name", "value": "A"}],
        [
            {"op": "replace", "path": "/persona_name", "value": "B"},
            {"op": "replace", "path": "/persona_name", "value": "A"},
        ],
    ],
)
def test_patch_that_changes_nothing_is_304_with_no_body(api: Api, ops: JSON) -> None:
    persona_id = api.create(minimal(persona_name="A"))
    before = api.persona(persona_id)
    response = api.call("PATCH", f"/v2/personas/{persona_id}", json=ops)
    assert response.status_code == 304
    assert response.content == b""
    assert api.persona(persona_id) == before


def test_patch_moves_updated_at_forward_every_time(api: Api) -> None:
    persona_id = api.create(minimal())
    stamps = [api.persona(persona_id)["updated_at"]]
    for n in range(3):
        ops = [{"op": "replace", "path": "/persona_name", "value": f"Name {n}"}]
        assert api.call("PATCH", f"/v2/personas/{persona_id}", json=ops).status_code == 200
        stamps.append(api.persona(persona_id)["updated_at"])
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 4
    assert all(TIMESTAMP.match(s) for s in stamps)
    assert api.persona(persona_id)["created_at"] == stamps[0]


def test_patch_unknown_persona_is_400_invalid_persona_id(api: Api) -> None:
    response = api.call("PATCH", "/v2/personas/pnope", json=seed("patch_hotwords.json"))
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid persona_id"}


def test_ten_concurrent_patches_all_apply(api: Api) -> None:
    persona_id = api.create(minimal(document_tags=[]))

    def add(n: int) -> int:
        ops = [{"op": "add", "path": "/document_tags/-", "value": f"t{n}"}]
        return api.call("PATCH", f"/v2/personas/{persona_id}", json=ops).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(add, range(10)))
    assert statuses == [200] * 10
    assert sorted(api.persona(persona_id)["document_tags"]) == sorted(f"t{n}" for n in range(10))


# -- Direct edits (the Tavus portal) -----------------------------------------------------------


def test_edit_persona_changes_it_without_a_logged_request(api: Api, emu: EmulatorState) -> None:
    persona_id = api.create(minimal(persona_name="A"))
    before = api.persona(persona_id)
    logged = emu.count()
    emu.edit_persona(persona_id, [{"op": "replace", "path": "/persona_name", "value": "Portal"}])
    assert emu.count() == logged
    after = api.persona(persona_id)
    assert after["persona_name"] == "Portal"
    assert after["updated_at"] > before["updated_at"]


def test_put_persona_stores_a_document_as_given(api: Api, emu: EmulatorState) -> None:
    persona_id = emu.put_persona({"persona_name": "Imported", "layers": {"vqa": {"x": "y"}}})
    persona = api.persona(persona_id)
    assert persona["persona_name"] == "Imported"
    assert persona["layers"] == {"vqa": {"x": "y"}}
    assert persona["persona_type"] == "user"
    assert emu.count(path_prefix="/v2/personas/") == 1


# -- Replicas ----------------------------------------------------------------------------------


def test_replicas_include_every_seed_replica_as_completed_stock(api: Api) -> None:
    params = {"verbose": "true", "limit": "100"}
    data = api.call("GET", "/v2/replicas", params=params).json()["data"]
    by_id = {r["replica_id"]: r for r in data}
    for replica_id in STOCK_REPLICAS:
        assert by_id[replica_id]["status"] == "completed"
        assert by_id[replica_id]["replica_type"] == "system"
        assert by_id[replica_id]["training_progress"] == "100/100"


def test_replicas_cover_completed_started_and_error_states(api: Api) -> None:
    data = api.call("GET", "/v2/replicas", params={"limit": "100"}).json()["data"]
    assert {r["status"] for r in data} == {"completed", "started", "error"}
    assert set(data[0]) == {
        "replica_id",
        "replica_name",
        "thumbnail_video_url",
        "training_progress",
        "status",
        "created_at",
    }


def test_replicas_carry_replica_type_only_when_verbose(api: Api) -> None:
    plain = api.call("GET", "/v2/replicas").json()["data"]
    verbose = api.call("GET", "/v2/replicas", params={"verbose": "true"}).json()["data"]
    assert all("replica_type" not in r for r in plain)
    assert all(r["replica_type"] in {"user", "system"} for r in verbose)


def test_replicas_filter_by_type_and_ids(api: Api) -> None:
    users = api.call("GET", "/v2/replicas", params={"replica_type": "user"}).json()
    picked = api.call(
        "GET", "/v2/replicas", params={"replica_ids": "r79e1c033f,rf4e9d9790f0"}
    ).json()
    assert users["total_count"] == 3
    assert {r["replica_id"] for r in picked["data"]} == {"r79e1c033f", "rf4e9d9790f0"}


def test_replicas_paginate_from_page_one(api: Api) -> None:
    page1 = api.call("GET", "/v2/replicas", params={"limit": "4", "page": "1"}).json()
    page2 = api.call("GET", "/v2/replicas", params={"limit": "4", "page": "2"}).json()
    assert len(page1["data"]) == 4
    assert len(page2["data"]) == page1["total_count"] - 4


# -- Documents ---------------------------------------------------------------------------------


def test_documents_pages_are_zero_based(api: Api) -> None:
    first = api.call("GET", "/v2/documents", params={"limit": "2"}).json()
    again = api.call("GET", "/v2/documents", params={"limit": "2", "page": "0"}).json()
    second = api.call("GET", "/v2/documents", params={"limit": "2", "page": "1"}).json()
    assert first == again
    assert (first["page"], first["limit"], first["total_count"]) == (0, 2, 5)
    assert first["data"][0]["document_id"] == "d1234567890"
    assert {d["document_id"] for d in first["data"]}.isdisjoint(
        d["document_id"] for d in second["data"]
    )


def test_documents_filter_by_any_of_the_tags(api: Api) -> None:
    body = api.call("GET", "/v2/documents", params={"tags": "company_policies,sales"}).json()
    assert body["total_count"] == 3
    assert "d2468101214" in {d["document_id"] for d in body["data"]}


def test_documents_search_by_name_or_uuid(api: Api) -> None:
    by_name = api.call("GET", "/v2/documents", params={"name_or_uuid": "handbook"}).json()
    by_id = api.call("GET", "/v2/documents", params={"name_or_uuid": "d1234567890"}).json()
    assert [d["document_id"] for d in by_name["data"]] == ["d2468101214"]
    assert [d["document_id"] for d in by_id["data"]] == ["d1234567890"]


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_documents_non_positive_limit_is_400_with_documented_text(api: Api, limit: str) -> None:
    response = api.call("GET", "/v2/documents", params={"limit": limit})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid request: limit must be a positive integer"}


# -- Objectives and guardrails -----------------------------------------------------------------


def test_objectives_list_the_seeds_with_the_documented_fields(api: Api) -> None:
    body = api.call("GET", "/v2/objectives", params={"limit": "100"}).json()
    assert body["total_count"] == len(body["data"]) == 3
    first = body["data"][0]
    assert first["objectives_id"].startswith("o")
    assert set(first) == {
        "objectives_id",
        "objective_name",
        "objective_prompt",
        "confirmation_mode",
        "output_variables",
        "modality",
        "next_conditional_objectives",
        "next_required_objective",
        "callback_url",
        "created_at",
        "updated_at",
    }


def test_objectives_paginate_from_page_one_ten_per_page_by_default(api: Api) -> None:
    page1 = api.call("GET", "/v2/objectives", params={"limit": "2", "page": "1"}).json()
    page2 = api.call("GET", "/v2/objectives", params={"limit": "2", "page": "2"}).json()
    default = api.call("GET", "/v2/objectives").json()
    assert [len(page1["data"]), len(page2["data"])] == [2, 1]
    assert len(default["data"]) == 3
    assert api.call("GET", "/v2/objectives", params={"page": "0"}).status_code == 400


def test_get_one_objective_is_wrapped_in_data(api: Api) -> None:
    listed = api.call("GET", "/v2/objectives").json()["data"][0]
    response = api.call("GET", f"/v2/objectives/{listed['objectives_id']}")
    assert response.status_code == 200
    assert response.json() == {"data": listed}


def test_get_unknown_objective_is_400(api: Api) -> None:
    response = api.call("GET", "/v2/objectives/o0000missing")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid objectives_id"}


def test_guardrails_list_legacy_sets_unless_legacy_is_false(api: Api) -> None:
    sets = api.call("GET", "/v2/guardrails").json()
    individual = api.call("GET", "/v2/guardrails", params={"legacy": "false"}).json()
    assert [s["guardrails_id"] for s in sets["data"]] == ["g12345"]
    assert sets["data"][0]["guardrails_name"] == "Healthcare Compliance Guardrails"
    assert individual["total_count"] == len(individual["data"]) == 4
    assert all(g["uuid"].startswith("g") for g in individual["data"])
    assert set(individual["data"][0]) == {
        "uuid",
        "guardrail_name",
        "guardrail_prompt",
        "modality",
        "callback_url",
        "tags",
        "app_message",
        "created_at",
        "updated_at",
    }


def test_individual_guardrail_pages_are_zero_based(api: Api) -> None:
    params = {"legacy": "false", "limit": "3"}
    first = api.call("GET", "/v2/guardrails", params=params).json()
    second = api.call("GET", "/v2/guardrails", params={**params, "page": "1"}).json()
    assert (first["page"], first["limit"], first["total_count"]) == (0, 3, 4)
    assert len(first["data"]) == 3 and len(second["data"]) == 1
    assert {g["uuid"] for g in first["data"]}.isdisjoint(g["uuid"] for g in second["data"])


def test_individual_guardrails_filter_by_any_tag_and_by_name(api: Api) -> None:
    by_tag = api.call(
        "GET", "/v2/guardrails", params={"legacy": "false", "tags": "healthcare,sales"}
    ).json()
    by_name = api.call(
        "GET", "/v2/guardrails", params={"legacy": "false", "name_or_uuid": "competitor"}
    ).json()
    assert {g["guardrail_name"] for g in by_tag["data"]} == {
        "no_medical_advice",
        "no_competitors",
        "no_pricing_promises",
    }
    assert [g["guardrail_name"] for g in by_name["data"]] == ["no_competitors"]


def test_guardrails_refuse_an_unknown_legacy_value(api: Api) -> None:
    response = api.call("GET", "/v2/guardrails", params={"legacy": "maybe"})
    assert response.status_code == 400
    assert "legacy" in response.json()["error"]


def test_get_one_guardrail_is_flat_and_a_legacy_set_wrapped(api: Api) -> None:
    listed = api.call("GET", "/v2/guardrails", params={"legacy": "false"}).json()["data"][0]
    one = api.call("GET", f"/v2/guardrails/{listed['uuid']}")
    legacy_set = api.call("GET", "/v2/guardrails/g12345")
    assert one.status_code == 200 and one.json() == listed
    assert legacy_set.status_code == 200
    assert legacy_set.json()["data"]["guardrails_name"] == "Healthcare Compliance Guardrails"
    assert api.call("GET", "/v2/guardrails/g0000missing").status_code == 400


def test_reset_restores_the_objective_and_guardrail_seeds(api: Api, emu: EmulatorState) -> None:
    emu.objectives.clear()
    emu.guardrails.clear()
    emu.guardrail_sets.clear()
    emu.reset()
    assert api.call("GET", "/v2/objectives").json()["total_count"] == 3
    assert api.call("GET", "/v2/guardrails", params={"legacy": "false"}).json()["total_count"] == 4
    assert api.call("GET", "/v2/guardrails").json()["total_count"] == 1


def test_personas_accept_objectives_and_guardrails_fields(api: Api) -> None:
    persona_id = api.create(
        minimal(
            objectives_id="o5e1d9c7a2b4",
            guardrails_id="g12345",
            guardrail_ids=["g1f4a8c2e9b0", "g7d2b5e1a0c3"],
            guardrail_tags=["compliance"],
        )
    )
    ops = [{"op": "replace", "path": "/guardrail_ids", "value": ["g3e9c6f2b8d1"]}]
    patched = api.call("PATCH", f"/v2/personas/{persona_id}", json=ops)
    persona = api.persona(persona_id)
    assert patched.status_code == 200
    assert persona["objectives_id"] == "o5e1d9c7a2b4"
    assert persona["guardrails_id"] == "g12345"
    assert persona["guardrail_ids"] == ["g3e9c6f2b8d1"]
    assert persona["guardrail_tags"] == ["compliance"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("objectives_id", ["o5e1d9c7a2b4"]),
        ("guardrails_id", 12345),
        ("guardrail_ids", "g1f4a8c2e9b0"),
        ("guardrail_tags", [1, 2]),
    ],
)
def test_personas_refuse_objective_and_guardrail_fields_of_the_wrong_type(
    api: Api, field: str, value: JSON
) -> None:
    response = api.call("POST", "/v2/personas", json=minimal(**{field: value}))
    assert response.status_code == 400
    assert field in response.json()["error"]


# -- Conversations -----------------------------------------------------------------------------


def start(api: Api, **body: JSON) -> requests.Response:
    return api.call("POST", "/v2/conversations", json=body)


def test_create_conversation_answers_the_documented_fields(api: Api) -> None:
    persona_id = api.create(seed("create_interviewer.json"))
    response = start(api, persona_id=persona_id, conversation_name="Interview User")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "conversation_id",
        "conversation_name",
        "conversation_url",
        "status",
        "callback_url",
        "created_at",
    }
    assert re.fullmatch(r"c[0-9a-f]{16}", body["conversation_id"])
    assert body["conversation_name"] == "Interview User"
    assert body["conversation_url"].endswith(body["conversation_id"])
    assert (body["status"], body["callback_url"]) == ("active", "")
    assert TIMESTAMP.match(body["created_at"])


def test_get_conversation_includes_persona_replica_and_updated_at(api: Api) -> None:
    persona_id = api.create(seed("create_interviewer.json"))
    conversation_id = start(api, persona_id=persona_id).json()["conversation_id"]
    body = api.call("GET", f"/v2/conversations/{conversation_id}").json()
    assert body["persona_id"] == persona_id
    assert body["replica_id"] == "r90bbd427f71"
    assert TIMESTAMP.match(body["updated_at"])


def test_create_conversation_needs_a_replica_when_the_persona_has_no_default(api: Api) -> None:
    persona_id = api.create(minimal())
    without = start(api, persona_id=persona_id)
    with_replica = start(api, persona_id=persona_id, replica_id="rf4e9d9790f0")
    assert without.status_code == 400
    assert "replica_id" in without.json()["error"]
    assert with_replica.status_code == 200


def test_create_conversation_with_unknown_persona_is_400(api: Api) -> None:
    response = start(api, persona_id="pnope", replica_id="r79e1c033f")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid persona_id"}


def test_create_conversation_with_unknown_replica_is_400(api: Api) -> None:
    response = start(api, persona_id=api.create(minimal()), replica_id="rnope")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid replica_uuid"}


def test_concurrency_cap_is_400_with_the_documented_message(api: Api, emu: EmulatorState) -> None:
    persona_id = api.create(seed("create_interviewer.json"))
    emu.max_concurrent_conversations = 1
    assert start(api, persona_id=persona_id).status_code == 200
    refused = start(api, persona_id=persona_id)
    assert refused.status_code == 400
    assert refused.json() == {"message": "User has reached maximum concurrent conversations"}


def test_test_mode_conversation_is_ended_and_ignores_the_cap(api: Api, emu: EmulatorState) -> None:
    persona_id = api.create(seed("create_interviewer.json"))
    emu.max_concurrent_conversations = 0
    response = start(api, persona_id=persona_id, test_mode=True)
    assert response.status_code == 200
    assert response.json()["status"] == "ended"


def test_ending_a_conversation_frees_its_slot_and_can_be_repeated(
    api: Api, emu: EmulatorState
) -> None:
    persona_id = api.create(seed("create_interviewer.json"))
    emu.max_concurrent_conversations = 1
    conversation_id = start(api, persona_id=persona_id).json()["conversation_id"]
    assert api.call("POST", f"/v2/conversations/{conversation_id}/end").status_code == 200
    assert api.call("POST", f"/v2/conversations/{conversation_id}/end").status_code == 200
    ended = api.call("GET", f"/v2/conversations/{conversation_id}").json()
    assert ended["status"] == "ended"
    assert start(api, persona_id=persona_id).status_code == 200


def test_unknown_conversation_is_400_invalid_conversation_id(api: Api) -> None:
    for method, path in (
        ("GET", "/v2/conversations/cnope"),
        ("POST", "/v2/conversations/cnope/end"),
    ):
        response = api.call(method, path)
        assert response.status_code == 400
        assert response.json() == {"error": "Invalid conversation_id"}


def test_list_conversations_filters_by_status_and_paginates(api: Api) -> None:
    persona_id = api.create(seed("create_interviewer.json"))
    start(api, persona_id=persona_id)
    start(api, persona_id=persona_id, test_mode=True)
    start(api, persona_id=persona_id, test_mode=True)
    active = api.call("GET", "/v2/conversations", params={"status": "active"}).json()
    ended = api.call("GET", "/v2/conversations", params={"status": "ended", "limit": "1"}).json()
    assert active["total_count"] == 1
    assert (len(ended["data"]), ended["total_count"]) == (1, 2)


# -- Routing -----------------------------------------------------------------------------------


def test_unknown_route_is_404_not_found(api: Api) -> None:
    response = api.call("GET", "/v2/holograms")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found"}


def test_wrong_method_is_405(api: Api) -> None:
    response = api.call("PUT", "/v2/personas")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


# -- Knobs and the request log -----------------------------------------------------------------


def test_fail_next_answers_before_touching_state_and_is_logged(
    api: Api, emu: EmulatorState
) -> None:
    emu.fail_next(1, 503)
    response = api.call("POST", "/v2/personas", json=minimal())
    assert response.status_code == 503
    assert response.json() == {"message": "Injected failure"}
    assert api.call("GET", "/v2/personas").json()["total_count"] == 3
    assert [(r.method, r.status) for r in emu.requests] == [("POST", 503), ("GET", 200)]


def test_fail_next_counts_down_and_only_matches_the_given_methods(
    api: Api, emu: EmulatorState
) -> None:
    emu.fail_next(2, 500, methods={"post"}, body={"error": "boom"})
    assert api.call("GET", "/v2/personas").status_code == 200
    first = api.call("POST", "/v2/personas", json=minimal())
    second = api.call("POST", "/v2/personas", json=minimal())
    third = api.call("POST", "/v2/personas", json=minimal())
    assert (first.status_code, second.status_code, third.status_code) == (500, 500, 200)
    assert first.json() == {"error": "boom"}


def test_fail_next_sends_retry_after(api: Api, emu: EmulatorState) -> None:
    emu.fail_next(1, 429, retry_after=0.05)
    response = api.call("GET", "/v2/personas")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0.05"


def test_fail_next_can_send_a_non_json_page(api: Api, emu: EmulatorState) -> None:
    emu.fail_next(1, 502, raw_body="<html>Bad gateway</html>")
    response = api.call("GET", "/v2/personas")
    assert response.status_code == 502
    assert response.text == "<html>Bad gateway</html>"


def test_rate_limit_answers_a_share_429_with_retry_after_and_saves_nothing(
    api: Api, emu: EmulatorState
) -> None:
    emu.rate_limit(0.5, retry_after=1, seed=19, methods={"post"})
    answers = [api.call("POST", "/v2/personas", json=minimal()) for _ in range(40)]
    api.call("GET", "/v2/personas")

    limited = [a for a in answers if a.status_code == 429]
    created = [a for a in answers if a.status_code == 200]
    assert 8 <= len(limited) <= 32 and len(limited) + len(created) == 40
    assert {a.headers["Retry-After"] for a in limited} == {"1"}
    assert api.call("GET", "/v2/personas").json()["total_count"] == 3 + len(created)
    assert emu.requests[-1].status == 200  # GET is not among the limited methods


def test_rate_limit_picks_the_same_requests_for_the_same_seed(api: Api, emu: EmulatorState) -> None:
    def statuses() -> list[int]:
        return [api.call("GET", "/v2/replicas").status_code for _ in range(30)]

    emu.rate_limit(0.3, seed=7)
    first = statuses()
    emu.rate_limit(0.3, seed=7)
    second = statuses()
    emu.rate_limit(0)
    after = statuses()

    assert first == second and 429 in first
    assert set(after) == {200}


def test_latency_delays_every_request(api: Api, emu: EmulatorState) -> None:
    emu.set_latency(120)
    started = time.monotonic()
    api.call("GET", "/v2/replicas")
    assert time.monotonic() - started >= 0.12


def test_a_hanging_request_does_not_block_others(api: Api, emu: EmulatorState) -> None:
    emu.hang_next(1, 1.0)
    slow = threading.Thread(target=api.call, args=("GET", "/v2/personas"))
    slow.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert api.call("GET", "/v2/replicas").status_code == 200
    assert time.monotonic() - started < 0.5
    slow.join()


def test_request_log_records_method_path_query_body_and_status(
    api: Api, emu: EmulatorState
) -> None:
    api.call("GET", "/v2/personas", params={"limit": "2"})
    api.call("POST", "/v2/personas", json={"persona_name": "x"})
    api.call("GET", "/v2/personas", key="wrong")
    first, second, third = emu.requests
    assert (first.method, first.path, first.query, first.body, first.status) == (
        "GET",
        "/v2/personas",
        {"limit": "2"},
        None,
        200,
    )
    assert (second.body, second.status) == ({"persona_name": "x"}, 400)
    assert third.status == 401
    assert emu.count(method="GET") == 2
    assert emu.count(method="POST", path_prefix="/v2/personas") == 1


def test_reset_restores_seeds_and_clears_knobs_and_log(api: Api, emu: EmulatorState) -> None:
    seeded = copy.deepcopy(emu.personas)
    api.create(minimal())
    emu.set_latency(5)
    emu.fail_next(3, 500)
    emu.mask_secrets = True
    emu.get_one_shape = "flat"
    emu.max_concurrent_conversations = 0
    emu.rate_limit(1.0)
    emu.reset()
    assert emu.personas == seeded
    assert emu.requests == []
    assert (emu.latency_ms, emu.mask_secrets, emu.get_one_shape) == (0, False, "wrapped")
    assert emu.max_concurrent_conversations is None
    assert api.call("GET", "/v2/personas").status_code == 200


def test_module_entry_point_documents_its_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "personas_app.devtools.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0
    for flag in ("--port", "--api-key", "--latency-ms", "--host"):
        assert flag in result.stdout

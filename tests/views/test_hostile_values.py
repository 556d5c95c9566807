"""Values JSON allows but a database or encoder refuses never reach a 500.

Typed or uploaded, they are refused next to the field with everything else kept and nothing sent
to Tavus: JSON nested thousands of levels deep, NaN / Infinity / 1e400, an unpaired surrogate
("\\ud800") and a NUL character. Given to a persona through the Tavus API directly, they are shown
safely and every page of that persona still opens.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from tests.builders import persona_doc, seed
from tests.formdata import form_data, with_values

DEEP = "[" * 10_000 + "]" * 10_000
TOOL = '{"type": "function", "function": {"name": "lookup", "description": %s}}'
HOSTILE_JSON = {
    "deep": DEEP,
    "nan": TOOL % "NaN",
    "infinity": TOOL % "-Infinity",
    "huge": TOOL % "1e400",
    "surrogate": TOOL % '"\\ud800"',
    "nul": TOOL % '"a\\u0000b"',
}
EXPECTED = {
    "deep": "nested more than",
    "nan": "NaN is not a number",
    "infinity": "-Infinity is not a number",
    "huge": "too large",
    "surrogate": "broken character",
    "nul": "NUL character",
}


def _open_editor(client: Any, persona_id: str) -> Any:
    response = client.get(f"/w/acme/personas/{persona_id}/edit/")
    assert response.status_code == 200
    return form_data(response.content.decode())


@pytest.mark.parametrize("kind", HOSTILE_JSON)
def test_the_import_box_refuses_hostile_json_and_keeps_it(
    bob_client: Any, workspace: Any, tavus: EmulatorState, kind: str
) -> None:
    text = HOSTILE_JSON[kind] if kind == "deep" else json.dumps({"persona_name": "x"})[:-1]
    if kind != "deep":
        text += ', "layers": {"llm": {"tools": [' + HOSTILE_JSON[kind] + "]}}}"

    response = bob_client.post("/w/acme/personas/new/", {"import": "1", "import_json": text})

    body = response.content.decode()
    assert response.status_code == 200
    assert EXPECTED[kind] in body
    assert tavus.count() == 0


@pytest.mark.parametrize("kind", HOSTILE_JSON)
def test_the_tools_json_editor_refuses_hostile_json_before_anything_is_sent(
    bob_client: Any, workspace: Any, tavus: EmulatorState, kind: str
) -> None:
    persona_id = tavus.put_persona(seed("create_raven1_openapi"))
    data = _open_editor(bob_client, persona_id)
    hostile = {"llm-tools-0-mode": "json", "llm-tools-0-json": HOSTILE_JSON[kind]}
    before = tavus.count()

    preview = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/preview/", with_values(data, hostile)
    )
    applied = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/", with_values(data, {**hostile, "submit": "apply"})
    )

    assert preview.status_code == 200 and applied.status_code == 200
    assert EXPECTED[kind] in applied.content.decode()
    assert tavus.count("PATCH") == 0
    assert tavus.count() == before  # not even a re-read: the form was refused first


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("llm-extra_body__temperature", "NaN"),
        ("llm-extra_body__temperature", "1e400"),
        ("llm-extra_body__top_p", "inf"),
        ("tts-voice_settings__speed", "-Infinity"),
    ],
)
def test_non_finite_numbers_in_number_fields_are_refused(
    bob_client: Any, workspace: Any, tavus: EmulatorState, field: str, value: str
) -> None:
    persona_id = tavus.put_persona(seed("create_raven1_openapi"))
    data = _open_editor(bob_client, persona_id)

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/", with_values(data, {field: value, "submit": "apply"})
    )

    assert response.status_code == 200
    assert "Some settings need your attention" in response.content.decode()
    assert tavus.count("PATCH") == 0


def test_a_nul_in_a_field_read_straight_from_the_request_is_refused(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_raven1_openapi"))
    data = _open_editor(bob_client, persona_id)
    queries = [name for name in data if "awareness_queries" in name]
    assert queries, "the perception form shows its awareness queries"

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {queries[0]: "Is the user smiling?\x00", "submit": "apply"}),
    )

    assert response.status_code == 200
    assert tavus.count("PATCH") == 0


@pytest.mark.parametrize(
    "value",
    ["lone \ud800 surrogate", "a NUL \x00 inside", float("nan"), float("inf")],
    ids=["surrogate", "nul", "nan", "infinity"],
)
def test_a_persona_tavus_holds_with_such_values_still_opens_everywhere(
    bob_client: Any, workspace: Any, tavus: EmulatorState, value: Any
) -> None:
    doc = persona_doc(context=value) if isinstance(value, str) else persona_doc()
    doc["layers"]["llm"]["extra_body"] = {"note": value}  # free-form: Tavus keeps what it gets
    persona_id = tavus.put_persona(doc)

    pages = [
        "/w/acme/",
        f"/w/acme/personas/{persona_id}/",
        f"/w/acme/personas/{persona_id}/edit/",
        f"/w/acme/personas/{persona_id}/history/",
        f"/w/acme/personas/{persona_id}/export/",
        "/w/acme/audit/",
        "/w/acme/audit/export/?format=jsonl",
        "/w/acme/audit/export/?format=csv",
    ]
    for url in pages:
        response = bob_client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200, url
        body.decode("utf-8")  # every page is valid UTF-8

    # Editing another field of it works: the odd value is not part of the patch.
    data = _open_editor(bob_client, persona_id)
    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-persona_name": "Renamed", "submit": "apply"}),
    )
    assert response.status_code == 302
    assert tavus.personas[persona_id]["persona_name"] == "Renamed"

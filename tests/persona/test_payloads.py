"""create_payload: what POST /v2/personas sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from personas_app.persona.jsontypes import JSON, JSONObject
from personas_app.persona.payloads import READ_ONLY_FIELDS, create_payload
from personas_app.persona.redaction import SECRET_MARKER
from tests import strategies as s

SEEDS = Path(__file__).parent.parent / "data" / "seeds"


def seed(name: str) -> JSONObject:
    loaded: JSONObject = json.loads((SEEDS / name).read_text(encoding="utf-8"))
    return loaded


def test_seed_create_body_goes_out_unchanged() -> None:
    assert create_payload(seed("create_interviewer.json")) == seed("create_interviewer.json")


def test_read_only_fields_are_dropped() -> None:
    [item] = seed("list_response.json")["data"]  # type: ignore[misc]
    item["persona_type"] = "user"
    payload = create_payload(item)
    assert not READ_ONLY_FIELDS & payload.keys()
    assert payload["persona_name"] == "Life Coach"


def test_empty_values_are_left_out_at_every_depth() -> None:
    doc: JSONObject = {
        "system_prompt": "Hi",
        "context": "",
        "document_ids": [],
        "objectives_id": None,
        "layers": {
            "llm": {"model": "", "tools": [], "headers": {}},
            "tts": {"tts_engine": "cartesia", "voice_settings": {"speed": None, "emotion": []}},
            "perception": {"visual_awareness_queries": ["", "ID?"]},
        },
    }
    assert create_payload(doc) == {
        "system_prompt": "Hi",
        "layers": {
            "tts": {"tts_engine": "cartesia"},
            "perception": {"visual_awareness_queries": ["ID?"]},
        },
    }


def test_an_empty_layer_disappears() -> None:
    doc: JSONObject = {"system_prompt": "Hi", "layers": {"stt": {"hotwords": ""}}}
    assert create_payload(doc) == {"system_prompt": "Hi"}


def test_false_and_zero_are_kept() -> None:
    doc: JSONObject = {
        "system_prompt": "Hi",
        "layers": {
            "tts": {"tts_emotion_control": False, "voice_settings": {"stability": 0, "style": 0.0}},
            "llm": {"speculative_inference": False},
        },
    }
    assert create_payload(doc) == doc


def test_input_is_not_mutated_and_output_shares_nothing() -> None:
    doc = seed("create_life_coach.json")
    doc["persona_id"] = "p1"
    doc["layers"]["stt"]["hotwords"] = ""
    before = copy.deepcopy(doc)
    payload = create_payload(doc)
    assert doc == before
    payload["layers"]["llm"]["tools"][0]["function"]["name"] = "changed"
    assert doc == before


def _has_empty(value: JSON) -> bool:
    if isinstance(value, dict):
        return any(v in (None, "", [], {}) or _has_empty(v) for v in value.values())
    if isinstance(value, list):
        return any(v in (None, "", [], {}) or _has_empty(v) for v in value)
    return False


@settings(max_examples=100, deadline=None)
@given(s.documents)
def test_payload_never_holds_empty_values_or_read_only_fields(doc: JSONObject) -> None:
    before = copy.deepcopy(doc)
    payload = create_payload(doc)
    assert not _has_empty(payload)
    assert not READ_ONLY_FIELDS & payload.keys()
    assert json.dumps(doc, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_readable_json_is_the_same_json_indented_at_the_top() -> None:
    import json

    from personas_app.persona.jsontypes import dumps_readable

    doc = {
        "a": [1, {"b": [True, None, 1.5, "x/y"]}],
        "layers": {"llm": {"tools": [{"k": "é"}]}},
        "e": {},
    }

    text = dumps_readable(doc, depth=2)

    assert json.loads(text) == doc
    assert text.startswith('{\n  "a": [\n    1,\n    {"b": [true, null, 1.5, "x/y"]}')


# Secret places (and markers) that documents from s.documents rarely hold.
_secret_spots = st.sampled_from(
    [
        ("layers", "llm", "api_key"),
        ("layers", "llm", "headers", "Authorization"),
        ("layers", "llm", "extra_body", "api_token"),
        ("layers", "tts", "api_key"),
        ("layers", "tts", "playht_user_id"),
    ]
)
_secret_values = st.one_of(st.sampled_from([SECRET_MARKER, "sk-live-1", "", None]), s.json_values)


@st.composite
def _docs_with_secrets(draw: st.DrawFn) -> JSONObject:
    doc = copy.deepcopy(draw(s.documents))
    for path in draw(st.lists(_secret_spots, max_size=3)):
        node = doc
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1]] = draw(_secret_values)
    return doc


@settings(max_examples=200, deadline=None)
@given(_docs_with_secrets())
def test_create_preview_shows_the_payload_create_would_send(doc: JSONObject) -> None:
    from personas_app.editor import PAYLOAD_DEPTH, drop_markers, payload_preview
    from personas_app.persona.jsontypes import dumps_readable
    from personas_app.persona.redaction import redact, secret_paths_present

    before = copy.deepcopy(doc)
    payload, dropped = drop_markers(create_payload(doc))
    shown = redact(payload) if secret_paths_present(payload) else payload

    assert payload_preview(doc) == (dumps_readable(shown, depth=PAYLOAD_DEPTH), dropped)
    assert json.dumps(doc, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_the_create_preview_masks_a_secret_at_any_depth() -> None:
    from personas_app.editor import payload_preview

    doc: JSONObject = {
        "persona_name": "Deep",
        "layers": {"llm": {"extra_body": {"metadata": {"vendor": {"api_key": "sk-deep-1"}}}}},
    }

    shown, _ = payload_preview(doc)

    assert "sk-deep-1" not in shown

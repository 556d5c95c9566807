"""The editor's hidden state: the persona it started from comes back with its secrets masked, and
only on the page it was made for (workspace, persona, user), for a limited time; anything else
is refused with a plain message."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from hypothesis import given, settings

from personas_app.editor import EditorPlace, EditorStateError, pack_state, unpack_state
from personas_app.persona.jsontypes import JSONObject
from personas_app.persona.redaction import redact
from tests import strategies as s

HERE = EditorPlace(workspace_id=1, persona_id="p1", user_id=7)


@settings(max_examples=100, deadline=None)
@given(s.documents)
def test_the_starting_persona_comes_back_with_its_secrets_masked(doc: JSONObject) -> None:
    assert unpack_state(pack_state(doc, HERE), HERE) == redact(doc)


def test_no_secret_travels_in_the_state_sealed_or_not() -> None:
    doc: JSONObject = {
        "persona_name": "Front desk",
        "layers": {"llm": {"api_key": "sk-live-123456", "extra_body": {"meta": {"token": "t-99"}}}},
    }

    token = pack_state(doc, HERE)

    inside = signing.loads(token, salt="persona-studio.editor-state")
    assert "sk-live-123456" not in str(inside) and "t-99" not in str(inside)


def test_unicode_and_a_large_persona_come_back_exactly() -> None:
    doc: JSONObject = {"persona_name": "Café ≈ 5 • ok", "system_prompt": "Règle. " * 5000}

    assert unpack_state(pack_state(doc, HERE), HERE) == doc


@pytest.mark.parametrize(
    "elsewhere",
    [
        EditorPlace(workspace_id=2, persona_id="p1", user_id=7),
        EditorPlace(workspace_id=1, persona_id="p2", user_id=7),
        EditorPlace(workspace_id=1, persona_id="new", user_id=7),
        EditorPlace(workspace_id=1, persona_id="p1", user_id=8),
    ],
    ids=["another workspace", "another persona", "the create page", "another user"],
)
def test_a_state_is_refused_anywhere_but_its_own_page(elsewhere: EditorPlace) -> None:
    token = pack_state({"persona_name": "x"}, HERE)

    with pytest.raises(EditorStateError, match="belongs to another page"):
        unpack_state(token, elsewhere)


def test_an_old_state_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = pack_state({"persona_name": "x"}, HERE)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 13 * 3600)  # 13 hours later

    with pytest.raises(EditorStateError, match="more than 12 hours old"):
        unpack_state(token, HERE)


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 2_000_000])
def test_a_state_that_cannot_be_read_says_to_reload(token: str) -> None:
    with pytest.raises(EditorStateError, match="Reload the page"):
        unpack_state(token, HERE)


def test_an_altered_state_is_refused() -> None:
    token = pack_state({"persona_name": "x"}, HERE)
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    with pytest.raises(EditorStateError, match="could not be read"):
        unpack_state(altered, HERE)

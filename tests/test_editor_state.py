"""The editor's hidden state: the persona it started from comes back exactly, or a plain message."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings

from personas_app.crypto import seal_bytes
from personas_app.editor import EditorStateError, pack_state, unpack_state
from personas_app.persona.jsontypes import JSONObject
from tests import strategies as s


@settings(max_examples=100, deadline=None)
@given(s.documents)
def test_the_starting_persona_comes_back_exactly(doc: JSONObject) -> None:
    assert unpack_state(pack_state(doc)) == doc


def test_unicode_and_a_large_persona_come_back_exactly() -> None:
    doc: JSONObject = {"persona_name": "Café ≈ 5 • ok", "system_prompt": "Règle. " * 5000}

    assert unpack_state(pack_state(doc)) == doc


@pytest.mark.parametrize(
    "payload",
    [
        b"not compressed at all",
        zlib.compress(b'{"persona_name": "x"}')[:-8],  # cut short
        zlib.compress(b"[1, 2]"),  # not a persona
        zlib.compress(b"{not json"),
    ],
)
def test_a_state_that_cannot_be_read_says_to_reload(payload: bytes) -> None:
    with pytest.raises(EditorStateError, match=r"Reload the page|not a persona"):
        unpack_state(seal_bytes(payload))


def test_a_state_from_elsewhere_says_to_reload() -> None:
    with pytest.raises(EditorStateError, match="Reload the page"):
        unpack_state("gAAAAABnot-a-token")

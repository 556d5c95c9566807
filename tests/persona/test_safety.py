"""persona.safety: what JSON allows but the dashboard cannot store or show is refused or replaced."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personas_app.persona.safety import (
    REPLACEMENT,
    UnsafeJSON,
    loads_checked,
    storable,
    unsafe_values,
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than 32 levels"),
        ('{"a": NaN}', "NaN is not a number"),
        ('{"a": Infinity}', "Infinity is not a number"),
        ('{"a": 1e400}', "too large"),
        ('{"a": "\\ud800"}', "broken character"),
        ('{"a\\u0000": 1}', "NUL character"),
    ],
)
def test_loads_checked_refuses_what_cannot_be_stored(text: str, message: str) -> None:
    with pytest.raises(UnsafeJSON, match=message):
        loads_checked(text)


def test_loads_checked_reads_nesting_inside_strings_as_text() -> None:
    text = json.dumps({"prompt": "[" * 1000 + "{" * 1000})
    assert loads_checked(text) == {"prompt": "[" * 1000 + "{" * 1000}


def test_unsafe_values_names_where_each_one_is() -> None:
    doc = {"layers": {"llm": {"tools": [{"x": float("nan")}], "note": "a\x00b"}}}
    found = dict(unsafe_values(doc))
    assert set(found) == {("layers", "llm", "tools", 0, "x"), ("layers", "llm", "note")}


def test_storable_replaces_odd_characters_and_non_finite_numbers() -> None:
    doc = {"a\ud800": ["x\x00y", float("inf"), 1.5], "b": {"c": "fine"}}
    assert storable(doc) == {f"a{REPLACEMENT}": [f"x{REPLACEMENT}y", None, 1.5], "b": {"c": "fine"}}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_storable_values_survive_a_strict_utf8_json_round_trip(value: object) -> None:
    safe = storable(value)  # type: ignore[arg-type]
    assert list(unsafe_values(safe)) == []
    text = json.dumps(safe, ensure_ascii=False, allow_nan=False)
    assert json.loads(text.encode("utf-8").decode("utf-8")) == safe

"""The tools editor for non-developers: plain types, nested rows, names from plain words, and rows and JSON
that round-trip exactly (through the real template, as a browser posts it)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.utils.datastructures import MultiValueDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personas_app.forms.tools import (
    ITEM_TYPES,
    MAX_NESTING,
    PARAM_TYPES,
    ParamRow,
    ToolsEditor,
    same_json,
    suggest_name,
)
from tests.formdata import form_data, with_values

PREFIX = "llm-tools"


def _render(editor: ToolsEditor) -> str:
    html = render_to_string(
        "personas/_tools_editor.html",
        {
            "ed": editor,
            "editor_url": "/w/acme/personas/new/",
            "param_types": PARAM_TYPES,
            "item_types": ITEM_TYPES,
        },
    )
    return f'<form id="editor">{html}</form>'


def _posted(editor: ToolsEditor) -> MultiValueDict:
    """What a browser posts from the editor as rendered."""
    return form_data(_render(editor))


def _act(tools: list[Any], data: MultiValueDict | None, action: str) -> ToolsEditor:
    editor = ToolsEditor(prefix=PREFIX, label="Tools", base_tools=tools, data=data)
    editor.handle(action)
    return editor


def _json_of(editor: ToolsEditor, i: int = 0) -> Any:
    return json.loads(editor.tools[i].json_text)


# -- representable tools ---------------------------------------------------------------------------
_TEXT = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
names = st.text(_TEXT, min_size=1, max_size=6).filter(lambda s: s == s.strip())
descriptions = st.text(_TEXT, max_size=12)
words = st.text(_TEXT, min_size=1, max_size=5).filter(lambda s: s == s.strip() and "," not in s)
ENUMS = {
    "string": st.lists(words, min_size=1, max_size=3),
    "number": st.lists(
        st.one_of(st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=3,
    ),
    "integer": st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=3),
}


@st.composite
def scalar_schema(draw: Any, described: bool = True) -> Any:
    kind = draw(st.sampled_from(("string", "number", "integer", "boolean")))
    schema: dict[str, Any] = {"type": kind}
    if described and draw(st.booleans()):
        schema["description"] = draw(descriptions)
    if kind in ENUMS and draw(st.booleans()):
        schema["enum"] = draw(ENUMS[kind])
    return schema


@st.composite
def group(draw: Any, depth: int) -> Any:
    """{"properties": ..., "required": ...} of a group whose fields sit at `depth`."""
    properties = draw(st.dictionaries(names, param_schema(depth), max_size=3))
    out: dict[str, Any] = {}
    if properties or draw(st.booleans()):
        out["properties"] = properties
    required = [n for n in properties if draw(st.booleans())]
    if required or draw(st.booleans()):
        out["required"] = draw(st.permutations(required))
    return out


def param_schema(depth: int) -> Any:
    """A parameter schema the rows can show, its fields at most MAX_NESTING levels deep."""
    options = [scalar_schema()]
    if depth + 1 < MAX_NESTING:
        options.append(
            st.builds(lambda d, g: {"type": "object", **d, **g}, st.just({}), group(depth + 1))
        )
        options.append(
            st.builds(
                lambda d, g: {"type": "array", "items": {"type": "object", **g}},
                st.just({}),
                group(depth + 1),
            )
        )
    list_of = st.builds(lambda items: {"type": "array", "items": items}, scalar_schema(False))
    options.append(
        st.builds(
            lambda d, s: {**s, **d},
            st.fixed_dictionaries({}, optional={"description": descriptions}),
            list_of,
        )
    )
    return st.one_of(*options)


@st.composite
def tools(draw: Any) -> Any:
    function: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True))
    }
    if draw(st.booleans()):
        function["description"] = draw(
            st.text(_TEXT, max_size=20).map(lambda s: s.replace("\r", ""))
        )
    if draw(st.booleans()):
        function["parameters"] = {"type": "object", **draw(group(0))}
    return {"type": "function", "function": function}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool=tools())
def test_form_then_json_then_form_gives_the_same_tool(tool: Any) -> None:
    opened = _act([tool], None, f"{PREFIX}:0:edit")
    assert opened.tools[0].mode == "rows", opened.tools[0].note
    rows = opened.tools[0].params

    as_json = _act([tool], _posted(opened), f"{PREFIX}:0:json")
    back = _act([tool], _posted(as_json), f"{PREFIX}:0:rows")

    assert same_json(_json_of(as_json), tool)
    assert back.tools[0].mode == "rows" and back.tools[0].params == rows
    assert back.value() == [tool]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool=tools())
def test_a_tool_opened_as_rows_and_posted_untouched_is_the_same_object(tool: Any) -> None:
    opened = _act([tool], None, f"{PREFIX}:0:edit")

    posted = ToolsEditor(prefix=PREFIX, label="Tools", base_tools=[tool], data=_posted(opened))

    assert posted.value()[0] is tool  # type: ignore[index]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool=tools(), description=descriptions.filter(lambda s: "\n" not in s))
def test_changing_one_parameter_leaves_the_others_as_they_were(tool: Any, description: str) -> None:
    properties = tool["function"].get("parameters", {}).get("properties", {})
    if not properties:
        return
    opened = _act([tool], None, f"{PREFIX}:0:edit")
    first = opened.tools[0].params[0]

    edited = ToolsEditor(
        prefix=PREFIX,
        label="Tools",
        base_tools=[tool],
        data=with_values(_posted(opened), {f"{first.key}-description": description}),
    )

    new_properties = edited.value()[0]["function"]["parameters"]["properties"]  # type: ignore[index]
    assert new_properties[first.name].get("description", "") == description
    for name, schema in properties.items():
        if name != first.name:
            assert new_properties[name] is schema


# -- tables ----------------------------------------------------------------------------------------
NESTED_LIST_TOOL = {
    "type": "function",
    "function": {
        "name": "book_rooms",
        "description": "Book rooms for a group.",
        "parameters": {
            "type": "object",
            "properties": {
                "rooms": {
                    "type": "array",
                    "description": "One entry per room",
                    "items": {
                        "type": "object",
                        "properties": {
                            "beds": {"type": "integer", "enum": [1, 2]},
                            "view": {"type": "string", "enum": ["sea", "garden"]},
                            "guests": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["beds"],
                    },
                },
                "tags": {"type": "array", "items": {"type": "string", "enum": ["vip", "late"]}},
            },
            "required": ["rooms"],
        },
    },
}


def test_a_list_of_groups_shows_as_nested_rows_in_plain_words() -> None:
    opened = _act([NESTED_LIST_TOOL], None, f"{PREFIX}:0:edit")
    html = _render(opened)
    rooms, tags = opened.tools[0].params

    assert (rooms.type, rooms.items_type, [f.name for f in rooms.fields]) == (
        "array",
        "object",
        ["beds", "view", "guests"],
    )
    assert (tags.items_type, tags.items_enum) == ("string", "vip, late")
    assert rooms.fields[0].enum == "1, 2" and rooms.fields[0].required
    assert 'name="llm-tools-0-p0-f2-items_type"' in html  # a list inside a list's groups
    for words in ("whole number", "yes/no", "list of…", "group of fields", "Each item is"):
        assert words in html
    assert ">integer<" not in html and ">boolean<" not in html


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Look up order", "look_up_order"),
        ("  Send an e-mail!  ", "send_an_e_mail"),
        ("Réserver un café", "reserver_un_cafe"),
        ("3D print a part", "tool_3d_print_a_part"),
        ("", ""),
    ],
)
def test_a_tool_name_is_suggested_from_plain_words(label: str, name: str) -> None:
    assert suggest_name(label) == name


def test_the_name_follows_the_label_until_the_person_types_their_own() -> None:
    added = _act([], MultiValueDict({f"{PREFIX}-count": ["0"]}), f"{PREFIX}:add")
    data = _posted(added)

    suggested = ToolsEditor(
        prefix=PREFIX,
        label="Tools",
        base_tools=[],
        data=with_values(data, {f"{PREFIX}-0-label": "Look up order"}),
    )
    data = _posted(suggested)
    relabelled = ToolsEditor(
        prefix=PREFIX,
        label="Tools",
        base_tools=[],
        data=with_values(data, {f"{PREFIX}-0-label": "Find order"}),
    )
    own = ToolsEditor(
        prefix=PREFIX,
        label="Tools",
        base_tools=[],
        data=with_values(
            _posted(relabelled), {f"{PREFIX}-0-name": "orders_get", f"{PREFIX}-0-label": "Fetch"}
        ),
    )

    assert suggested.tools[0].name == "look_up_order"
    assert relabelled.tools[0].name == "find_order"
    assert own.tools[0].name == "orders_get"


def test_allowed_values_go_only_where_the_schema_allows_them() -> None:
    added = _act([], MultiValueDict({f"{PREFIX}-count": ["0"]}), f"{PREFIX}:add")
    p = f"{PREFIX}-0-p0"
    base = with_values(
        _posted(added), {f"{PREFIX}-0-name": "pick", f"{p}-name": "x", f"{p}-enum": "a, b"}
    )

    def schema(**values: str) -> Any:
        editor = ToolsEditor(
            prefix=PREFIX, label="Tools", base_tools=[], data=with_values(base, values)
        )
        return editor.value()[0]["function"]["parameters"]["properties"]["x"]  # type: ignore[index]

    assert schema() == {"type": "string", "enum": ["a", "b"]}
    assert schema(**{f"{p}-type": "integer", f"{p}-enum": "1, 2"}) == {
        "type": "integer",
        "enum": [1, 2],
    }
    assert schema(**{f"{p}-type": "array"}) == {"type": "array", "items": {"type": "string"}}
    assert schema(**{f"{p}-type": "array", f"{p}-items_enum": "red, blue"}) == {
        "type": "array",
        "items": {"type": "string", "enum": ["red", "blue"]},
    }
    assert schema(**{f"{p}-type": "object"}) == {"type": "object"}
    assert schema(**{f"{p}-type": "boolean"}) == {"type": "boolean"}


def test_a_wrong_allowed_number_is_named_on_its_row() -> None:
    added = _act([], MultiValueDict({f"{PREFIX}-count": ["0"]}), f"{PREFIX}:add")
    p = f"{PREFIX}-0-p0"
    data = with_values(
        _posted(added),
        {
            f"{PREFIX}-0-name": "pick",
            f"{p}-name": "size",
            f"{p}-type": "integer",
            f"{p}-enum": "1, big",
        },
    )

    editor = ToolsEditor(prefix=PREFIX, label="Tools", base_tools=[], data=data)

    assert editor.value() is None
    assert editor.tools[0].params[0].lines == [
        "Parameter “size”: “big” is not a whole number: list whole numbers only."
    ]


def test_a_brand_new_empty_tool_is_left_out_not_refused() -> None:
    added = _act([], MultiValueDict({f"{PREFIX}-count": ["0"]}), f"{PREFIX}:add")

    editor = ToolsEditor(prefix=PREFIX, label="Tools", base_tools=[], data=_posted(added))

    assert editor.value() == [] and not editor.has_errors


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "properties": {"m": {"type": "array", "items": {"type": "array"}}}},
        {"type": "object", "properties": {"r": {"$ref": "#/$defs/x"}}},
        {"type": "object", "properties": {"s": {"type": "string", "pattern": "^a"}}},
        {"type": "object", "properties": {"s": {"type": ["string", "null"]}}},
        {"type": "object", "properties": {"s": {"type": "string", "description": "two\nlines"}}},
        {"type": "object", "properties": {"a": {"type": "array"}}},
        {"type": "object", "properties": {"b": {"type": "boolean", "enum": [True]}}},
        {"type": "object", "additionalProperties": False},
    ],
)
def test_what_rows_cannot_show_opens_as_json_and_stays_exactly_as_it_was(parameters: Any) -> None:
    tool = {"type": "function", "function": {"name": "t", "parameters": parameters}}

    opened = _act([tool], None, f"{PREFIX}:0:edit")
    posted = ToolsEditor(prefix=PREFIX, label="Tools", base_tools=[tool], data=_posted(opened))

    assert opened.tools[0].mode == "json" and "nothing is lost" in opened.tools[0].note
    assert posted.value() == [tool]


def test_nested_rows_add_and_remove_fields_and_keep_their_names_in_order() -> None:
    opened = _act([NESTED_LIST_TOOL], None, f"{PREFIX}:0:edit")
    added = _act([NESTED_LIST_TOOL], _posted(opened), f"{PREFIX}:0:p0:addfield")
    data = with_values(
        _posted(added),
        {f"{PREFIX}-0-p0-f3-name": "smoking", f"{PREFIX}-0-p0-f3-type": "boolean"},
    )
    removed = _act([NESTED_LIST_TOOL], data, f"{PREFIX}:0:p0-f1:remove")

    rooms = removed.value()[0]["function"]["parameters"]["properties"]["rooms"]  # type: ignore[index]
    assert added.tools[0].params[0].fields[-1].focus
    assert list(rooms["items"]["properties"]) == ["beds", "guests", "smoking"]
    assert rooms["items"]["properties"]["smoking"] == {"type": "boolean"}
    assert removed.tools[0].params[0].fields[1].focus  # the next field takes the focus
    assert ParamRow(name="x") == ParamRow(name="x", focus=True)  # the focus is not the value


def test_an_empty_new_tool_is_not_folded_into_a_nameless_one() -> None:
    added = _act([], MultiValueDict({f"{PREFIX}-count": ["0"]}), f"{PREFIX}:add")

    done = _act([], _posted(added), f"{PREFIX}:0:collapse")

    assert done.tools[0].mode == "rows" and "empty" in done.tools[0].note
    assert done.value() == [] and not done.has_errors

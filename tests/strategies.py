"""Hypothesis strategies for persona documents, arbitrary JSON and edits of them.

Keys include "/", "~", "" and digit strings on purpose: they are what breaks JSON pointers.
"""

from __future__ import annotations

import copy

from hypothesis import assume
from hypothesis import strategies as st

from personas_app.persona.jsontypes import JSON, JSONObject
from personas_app.persona.payloads import READ_ONLY_FIELDS

Path = tuple[str | int, ...]

TRICKY_KEYS = ["a/b", "a~b", "~1", "~0", "~01", "", "-", "0", "X/Y", "~", "/", "é"]
keys = st.one_of(st.sampled_from(TRICKY_KEYS), st.text(alphabet="ab/~_-0", max_size=4))
# No floats among replacement scalars: -0.0 == 0.0 would make "a change" that is no change.
plain_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.text(alphabet="xyz /~", max_size=4)
)
# Floats elsewhere never hold -0.0 either (x + 0.0 turns it into 0.0): JSON numbers -0.0 and 0.0
# are the same value, and a list that differs only by it is no change.
floats = st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda x: x + 0.0)
scalars = st.one_of(plain_scalars, floats)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=12,
)
# Cheaper values for edits: a scalar or one flat container.
edit_values = st.one_of(
    plain_scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(keys, plain_scalars, max_size=3),
)
json_objects = st.dictionaries(keys, json_values, max_size=5)

# --- persona-like documents ---------------------------------------------------------------

levels = st.sampled_from(["low", "medium", "high"])
short_text = st.text(alphabet="abc xyz_", max_size=12)
# Valid snake_case names; plain text() is much cheaper to generate than from_regex().
tool_names = st.text(alphabet="abcxyz_", min_size=1, max_size=8)


def _tool(name: str, description: str, params: list[str]) -> JSONObject:
    properties: JSONObject = {p: {"type": "string", "description": p} for p in params}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": params[:1]},
        },
    }


tools = st.builds(_tool, tool_names, short_text, st.lists(tool_names, max_size=3, unique=True))
tool_lists = st.lists(tools, max_size=4, unique_by=lambda t: t["function"]["name"])  # type: ignore[index]
queries = st.lists(short_text, max_size=5)

llm_layers = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["tavus-gpt-oss", "tavus-gemini-2.5-flash", "my-model"]),
        "base_url": st.just("https://llm.example.test/v1"),
        "api_key": st.text(alphabet="sk-abc123", min_size=1, max_size=8),
        "tools": tool_lists,
        "headers": st.dictionaries(keys, st.text(alphabet="Bearer xyz", max_size=8), max_size=3),
        "extra_body": st.fixed_dictionaries(
            {}, optional={"temperature": st.floats(0, 2), "api_key": st.just("sk-x")}
        ),
    },
)
tts_layers = st.fixed_dictionaries(
    {},
    optional={
        "tts_engine": st.sampled_from(["cartesia", "elevenlabs"]),
        "api_key": st.text(alphabet="tts123", max_size=6),
        "external_voice_id": short_text,
        "tts_emotion_control": st.sampled_from([True, False, "true", "false"]),
        "voice_settings": st.fixed_dictionaries(
            {}, optional={"speed": st.sampled_from([0.8, 1.0, "normal"]), "emotion": queries}
        ),
    },
)
stt_layers = st.fixed_dictionaries(
    {},
    optional={
        "stt_engine": st.sampled_from(["tavus-auto", "tavus-parakeet", "tavus-turbo"]),
        "hotwords": short_text,
        "participant_pause_sensitivity": levels,
        "participant_interrupt_sensitivity": levels,
        "smart_turn_detection": st.booleans(),
    },
)
perception_layers = st.fixed_dictionaries(
    {},
    optional={
        "perception_model": st.sampled_from(["raven-1", "raven-0", "off"]),
        "visual_awareness_queries": queries,
        "visual_tools": tool_lists,
        "audio_awareness_queries": queries,
        "ambient_awareness_queries": queries,
        "perception_tool_prompt": short_text,
        "perception_tools": tool_lists,
    },
)
flow_layers = st.fixed_dictionaries(
    {},
    optional={
        "turn_detection_model": st.sampled_from(["sparrow-1", "sparrow-0", "time-based"]),
        "turn_taking_patience": levels,
        "replica_interruptibility": levels,
    },
)
layer_groups = st.fixed_dictionaries(
    {},
    optional={
        "llm": llm_layers,
        "tts": tts_layers,
        "stt": stt_layers,
        "perception": perception_layers,
        "conversational_flow": flow_layers,
        "transport": st.just({"transport_type": "livekit"}),
        "a/b~c": json_values,
    },
)
persona_docs = st.fixed_dictionaries(
    {"system_prompt": short_text, "pipeline_mode": st.sampled_from(["full", "echo"])},
    optional={
        "persona_name": short_text,
        "context": short_text,
        "default_replica_id": st.just("r90bbd427f71"),
        "document_ids": st.lists(st.text(alphabet="d0123", max_size=4), max_size=4),
        "layers": layer_groups,
        "persona_id": st.just("p5317866"),
        "created_at": st.just("2025-05-13T06:42:58Z"),
        "X/Y": json_values,
    },
)
documents = st.one_of(persona_docs, json_objects)

# --- edits --------------------------------------------------------------------------------


def _walk(node: JSON, path: Path = ()) -> list[tuple[Path, JSON]]:
    found: list[tuple[Path, JSON]] = [(path, node)]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _walk(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _walk(child, (*path, index))
    return found


def _editable(path: Path) -> bool:
    # Read-only top-level fields are never patched, so edits there are out of scope.
    return not path or path[0] not in READ_ONLY_FIELDS


def _at(doc: JSON, path: Path) -> JSON:
    for segment in path:
        doc = doc[segment]  # type: ignore[index,call-overload]
    return doc


def _edit(draw: st.DrawFn, doc: JSONObject, single: bool) -> JSONObject:
    """One random edit. `single` keeps to edits that must give exactly one op."""
    doc = copy.deepcopy(doc)
    places = [(p, n) for p, n in _walk(doc) if _editable(p)]
    dicts = [(p, n) for p, n in places if isinstance(n, dict)]
    lists = [(p, n) for p, n in places if isinstance(n, list)]
    children = [(p, n) for p, n in places if p]
    kinds = ["add_key"]
    if children:
        kinds += ["set", "delete"]
    if lists:
        kinds += ["insert"]
    if not single and lists:
        kinds += ["shuffle"]
    kind = draw(st.sampled_from(kinds))
    new_value = draw(plain_scalars if single else edit_values)
    if kind == "add_key":
        path, target = draw(st.sampled_from(dicts))
        key = draw(keys)
        assume(key not in target and (path or key not in READ_ONLY_FIELDS))
        target[key] = new_value
    elif kind == "insert":
        path, target = draw(st.sampled_from(lists))
        target.insert(draw(st.integers(0, len(target))), new_value)  # type: ignore[union-attr]
    elif kind == "shuffle":
        path, target = draw(st.sampled_from(lists))
        target[:] = draw(st.permutations(target))  # type: ignore[index]
    else:
        path, old = draw(st.sampled_from(children))
        parent = _at(doc, path[:-1])
        if kind == "delete":
            del parent[path[-1]]  # type: ignore[arg-type,union-attr]
        else:
            # The new value is a scalar, so this is one replace unless nothing changes.
            assume(_fingerprint(old) != _fingerprint(new_value))
            parent[path[-1]] = new_value  # type: ignore[index,call-overload]
    return doc


def _fingerprint(value: JSON) -> tuple[str, str]:
    return type(value).__name__, repr(value)


@st.composite
def single_edits(draw: st.DrawFn, base: JSONObject) -> JSONObject:
    """`base` after one edit that minimal_patch must express as exactly one op."""
    return _edit(draw, base, single=True)


@st.composite
def edits(draw: st.DrawFn, base: JSONObject, max_edits: int = 3) -> JSONObject:
    """`base` after up to `max_edits` random edits (set, delete, add, insert, shuffle)."""
    doc = base
    for _ in range(draw(st.integers(0, max_edits))):
        doc = _edit(draw, doc, single=False)
    return doc


def related_pairs(
    base_strategy: st.SearchStrategy[JSONObject] = documents,
) -> st.SearchStrategy[tuple[JSONObject, JSONObject]]:
    """(base, edited) where edited is base after a few random edits."""
    return base_strategy.flatmap(lambda base: edits(base).map(lambda e: (base, e)))


def unrelated_pairs() -> st.SearchStrategy[tuple[JSONObject, JSONObject]]:
    """(base, edited) drawn independently."""
    return st.tuples(documents, documents)

"""Required-reviewer rules, as plain data: which parts of a persona a rule covers, and which rules
a change triggers (like CODEOWNERS, by JSON pointer instead of by file path).

A rule covers one place of the persona document (`/layers/llm/tools`, `/system_prompt`,
`/layers/tts`...). A change triggers it when one of the places the change touches is that place,
inside it (`/layers/llm/tools/0/function/name`) or around it (replacing the whole `/layers/llm`).
Matching is by whole pointer segments, so `/layers/llm/tools` never matches `/layers/llm/toolsx`.

Pure module: imports only the standard library and the persona package; never Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from .jsontypes import JSON, Op, from_pointer, to_pointer
from .layers import LAYERS, label_for, layer_for

__all__ = [
    "RULE_TARGETS",
    "changed_pointers",
    "document_pointers",
    "rule_target_groups",
    "rule_target_label",
    "touches",
    "triggered_rules",
]

# The places a rule can cover, in the order the settings page lists them: every editor layer and
# the fields teams most often want a second pair of eyes on.
RULE_TARGETS: tuple[str, ...] = (
    "/persona_name",
    "/system_prompt",
    "/context",
    "/default_replica_id",
    "/document_ids",
    "/objectives_id",
    "/guardrail_ids",
    "/pipeline_mode",
    "/layers/llm",
    "/layers/llm/model",
    "/layers/llm/tools",
    "/layers/llm/base_url",
    "/layers/tts",
    "/layers/tts/external_voice_id",
    "/layers/stt",
    "/layers/perception",
    "/layers/perception/visual_tools",
    "/layers/perception/audio_tools",
    "/layers/conversational_flow",
    "/layers/transport",
)

_LAYER_POINTERS = frozenset(layer.pointer for layer in LAYERS if layer.key not in {"identity"})


def rule_target_label(pointer: str) -> str:
    """Plain words for a rule's place: "LLM tools", "Voice (the whole layer)"."""
    if pointer in _LAYER_POINTERS and pointer != "/layers":
        return f"{label_for(pointer)} (the whole layer)"
    return label_for(pointer)


def rule_target_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """RULE_TARGETS grouped under their editor section's title, for a picker with groups."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for pointer in RULE_TARGETS:
        groups.setdefault(layer_for(pointer).title, []).append(
            (pointer, rule_target_label(pointer))
        )
    return list(groups.items())


def touches(rule_pointer: str, pointer: str) -> bool:
    """Whether a change at `pointer` touches the place `rule_pointer`: one pointer's segments
    start with the other's (the same place, a place inside it, or a place around it)."""
    rule, changed = from_pointer(rule_pointer), from_pointer(pointer)
    shorter = min(len(rule), len(changed))
    return rule[:shorter] == changed[:shorter]


K = TypeVar("K")


def triggered_rules(changed: Iterable[str], rules: Mapping[K, str]) -> list[K]:
    """The keys of `rules` ({key: pointer}) that a change touching `changed` triggers, in the
    order of `rules`."""
    pointers = list(changed)
    return [
        key
        for key, rule_pointer in rules.items()
        if any(touches(rule_pointer, pointer) for pointer in pointers)
    ]


def _leaves(value: JSON, prefix: tuple[str, ...]) -> Iterable[str]:
    """The pointer of every scalar (and every empty object or list) inside `value`."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*prefix, key))
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from _leaves(child, (*prefix, str(index)))
    else:
        yield to_pointer(prefix)


def document_pointers(document: JSON) -> set[str]:
    """Every place a whole document holds something: what a new (or deleted) persona touches."""
    if not isinstance(document, dict) or not document:
        return set()
    return set(_leaves(document, ()))


def changed_pointers(ops: Iterable[Op]) -> set[str]:
    """The places a JSON Patch touches: each op's path (and `from`), plus every place inside a
    value it adds, so adding a whole layer touches exactly the fields that layer holds."""
    found: set[str] = set()
    for op in ops:
        path = op.get("path")
        if not isinstance(path, str):
            continue
        found.add(path)
        source = op.get("from")
        if isinstance(source, str):
            found.add(source)
        if op.get("op") in {"add", "replace"} and "value" in op:
            found.update(_leaves(op["value"], from_pointer(path)))
    return found

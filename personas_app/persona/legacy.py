"""Find legacy persona fields and migrate them to current names (api-notes 2.8).

The editor keeps legacy fields untouched until the author runs "Migrate legacy fields", which
shows `describe_migration` and the resulting patch first. Existing conversational_flow values
win over migrated ones, because Tavus says conversational_flow overrides the old STT settings.
Legacy fields without a current equivalent (`UNMAPPED_LEGACY`) are only explained, never migrated.
Pure module: imports only the standard library and this package's pure modules; never Django,
never requests. Never mutates its input.
"""

from __future__ import annotations

import copy

from .jsontypes import JSON, JSONObject, to_pointer

__all__ = [
    "UNMAPPED_LEGACY",
    "describe_migration",
    "invert_level",
    "legacy_fields",
    "migrate_legacy",
]

# Legacy fields with no current field to move to: pages show them read-only with this
# explanation, and migrate_legacy leaves them alone. A legacy guardrail set groups guardrails
# that Tavus also lists one by one, but the set does not say which individual ids it maps to,
# so guardrails_id is never turned into guardrail_ids.
UNMAPPED_LEGACY: dict[str, str] = {
    "/guardrails_id": "A legacy guardrail set; new personas use individual guardrails.",
}

_LEVELS = ("low", "medium", "high")
_OLD_STT_ENGINES = ("tavus-turbo", "tavus-advanced")
_OLD_PERCEPTION_MODELS = ("raven-0", "basic")
# Old STT turn-taking field -> (conversational_flow field, words for both in messages).
_STT_TO_FLOW = {
    "participant_pause_sensitivity": (
        "turn_taking_patience",
        "Pause sensitivity",
        "turn-taking patience",
    ),
    "participant_interrupt_sensitivity": (
        "replica_interruptibility",
        "Interrupt sensitivity",
        "replica interruptibility",
    ),
}
_PERCEPTION_RENAMES = {
    "ambient_awareness_queries": "visual_awareness_queries",
    "perception_tool_prompt": "visual_tool_prompt",
    "perception_tools": "visual_tools",
}


def invert_level(level: str) -> str:
    """low <-> high, medium stays: the old sensitivity scales run opposite to the new ones."""
    return {"low": "high", "high": "low"}.get(level, level)


def _group(parent: JSONObject, key: str) -> JSONObject | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def legacy_fields(doc: JSONObject) -> list[str]:
    """JSON pointers of the legacy fields `doc` holds that migrate_legacy would change."""
    layers = _group(doc, "layers") or {}
    found: list[tuple[str, ...]] = []
    stt = _group(layers, "stt") or {}
    for field in ("smart_turn_detection", *_STT_TO_FLOW):
        if field in stt:
            found.append(("layers", "stt", field))
    if stt.get("stt_engine") in _OLD_STT_ENGINES:
        found.append(("layers", "stt", "stt_engine"))
    perception = _group(layers, "perception") or {}
    if perception.get("perception_model") in _OLD_PERCEPTION_MODELS:
        found.append(("layers", "perception", "perception_model"))
    found += [("layers", "perception", f) for f in _PERCEPTION_RENAMES if f in perception]
    if "playht_user_id" in (_group(layers, "tts") or {}):
        found.append(("layers", "tts", "playht_user_id"))
    if "vqa" in layers:
        found.append(("layers", "vqa"))
    return [to_pointer(p) for p in found]


def _count(items: JSON, noun: str) -> str:
    n = len(items) if isinstance(items, list) else 0
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _tool_name(tool: JSON) -> str | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else None


def _migrate_turn_taking(layers: JSONObject, lines: list[str]) -> None:
    stt = _group(layers, "stt")
    if stt is None:
        return
    had_turn_taking = any(field in stt for field in ("smart_turn_detection", *_STT_TO_FLOW))
    flow = _group(layers, "conversational_flow")
    had_flow = flow is not None
    flow = dict(flow) if flow is not None else {}
    if "smart_turn_detection" in stt:
        on = stt.pop("smart_turn_detection")
        if on is True and flow.get("turn_detection_model") is None:
            flow["turn_detection_model"] = "sparrow-1"
            lines.append("Smart turn detection (on) becomes turn detection model 'sparrow-1'.")
        elif on is True:
            lines.append(
                "Smart turn detection is removed: turn-taking already uses "
                f"'{flow['turn_detection_model']}', and that setting wins."
            )
        else:
            lines.append("Smart turn detection (off) is removed.")
    for old, (new, old_words, new_words) in _STT_TO_FLOW.items():
        if old not in stt:
            continue
        value = stt.pop(old)
        if flow.get(new) is not None:
            lines.append(
                f"{old_words} {value!r} is removed: {new_words} is already {flow[new]!r}, and "
                "that setting wins."
            )
        elif value in _LEVELS:
            flow[new] = invert_level(str(value))
            why = " (the old scale ran the other way)" if value != "medium" else ""
            lines.append(f"{old_words} {value!r} becomes {new_words} {flow[new]!r}{why}.")
        else:
            lines.append(f"{old_words} {value!r} is removed (not a level Tavus knows).")
    if flow or had_flow:
        layers["conversational_flow"] = flow
    engine = stt.get("stt_engine")
    if engine in _OLD_STT_ENGINES:
        stt["stt_engine"] = "tavus-auto"
        lines.append(
            f"Transcription engine {engine!r} becomes 'tavus-auto' (Tavus picks the best engine "
            "for the conversation's language)."
        )
    if not stt and had_turn_taking:
        # Only legacy fields were there; an empty layer means the same as no layer.
        del layers["stt"]


def _migrate_perception(layers: JSONObject, lines: list[str]) -> None:
    perception = _group(layers, "perception")
    if perception is None:
        return
    model = perception.get("perception_model")
    if model in _OLD_PERCEPTION_MODELS:
        perception["perception_model"] = "raven-1"
        lines.append(
            f"Perception model {model!r} becomes 'raven-1' (the same visual features, plus "
            "understanding of the participant's tone of voice)."
        )
    if "ambient_awareness_queries" in perception:
        old = perception.pop("ambient_awareness_queries")
        current = perception.get("visual_awareness_queries")
        merged = list(current) if isinstance(current, list) else []
        merged += [q for q in old if q not in merged] if isinstance(old, list) else []
        if merged or current is not None:
            perception["visual_awareness_queries"] = merged
        lines.append(
            f"Ambient awareness questions ({_count(old, 'question')}) move to visual awareness "
            "questions."
        )
    if "perception_tool_prompt" in perception:
        old = perception.pop("perception_tool_prompt")
        current = perception.get("visual_tool_prompt")
        old_text = old.strip() if isinstance(old, str) else ""
        current_text = current.strip() if isinstance(current, str) else ""
        if old_text and current_text and old_text not in current_text:
            perception["visual_tool_prompt"] = f"{current}\n\n{old}"
            lines.append(
                "The perception tool prompt is added to the end of the visual tool prompt."
            )
        elif old_text and not current_text:
            perception["visual_tool_prompt"] = old
            lines.append("The perception tool prompt becomes the visual tool prompt.")
        else:
            lines.append(
                "The perception tool prompt is removed (it was empty or already in the visual "
                "tool prompt)."
            )
    if "perception_tools" in perception:
        old = perception.pop("perception_tools")
        current = perception.get("visual_tools")
        merged = list(current) if isinstance(current, list) else []
        names = {_tool_name(t) for t in merged}
        merged += [t for t in old if _tool_name(t) not in names] if isinstance(old, list) else []
        if merged or current is not None:
            perception["visual_tools"] = merged
        lines.append(f"Perception tools ({_count(old, 'tool')}) become visual tools.")


def _migrate(doc: JSONObject) -> tuple[JSONObject, list[str]]:
    migrated = copy.deepcopy(doc)
    lines: list[str] = []
    layers = _group(migrated, "layers")
    if layers is None:
        return migrated, lines
    _migrate_turn_taking(layers, lines)
    _migrate_perception(layers, lines)
    tts = _group(layers, "tts")
    if tts is not None and "playht_user_id" in tts:
        del tts["playht_user_id"]
        lines.append("The PlayHT user ID is removed (Tavus no longer offers PlayHT voices).")
    if "vqa" in layers:
        del layers["vqa"]
        lines.append("The old 'vqa' vision switch is removed (the perception layer replaced it).")
    return migrated, lines


def migrate_legacy(doc: JSONObject) -> JSONObject:
    """A copy of `doc` with every legacy field moved to its current name (api-notes 2.8).

    Unrelated and unknown fields are untouched; a document without legacy fields comes back
    equal to the input.
    """
    return _migrate(doc)[0]


def describe_migration(doc: JSONObject) -> list[str]:
    """What migrate_legacy would do, one plain-language line per change."""
    return _migrate(doc)[1]

"""Build the body of POST /v2/personas from an edited persona document.

Pure module: imports only the standard library and this package's pure modules; never Django,
never requests. Never mutates its input.
"""

from __future__ import annotations

from .jsontypes import JSON, JSONObject, dumps_line

__all__ = ["READ_ONLY_FIELDS", "create_payload", "dumps_line_pruned", "payload_outline"]

# Set by Tavus, never sent (api-notes 2.1); persona_type is a list filter, not a create field.
READ_ONLY_FIELDS = frozenset({"persona_id", "created_at", "updated_at", "persona_type"})


# Exact types only: a dict or list subclass must take the general walk below.
_SCALARS = frozenset({str, int, float, bool})


def _pruned(value: JSON) -> JSON:
    # Empty values are None, "", [] and {}; False and 0 are real choices (e.g.
    # tts_emotion_control: false), so they are kept. Returns fresh containers, so the payload
    # shares nothing mutable with the input. A large persona has hundreds of small containers
    # holding only scalars (tool parameters, awareness queries); those are recognised and copied
    # by C loops (type check, `in`), and only the others are walked item by item.
    if isinstance(value, dict):
        items = value.values()
        if _SCALARS.issuperset(map(type, items)):
            if "" in items:
                return {k: v for k, v in value.items() if v != ""}
            return dict(value)
        kept: JSONObject = {}
        for key, item in value.items():
            if isinstance(item, dict | list):
                item = _pruned(item)
                if not item:
                    continue
            elif item is None or item == "":
                continue
            kept[key] = item
        return kept
    if isinstance(value, list):
        if _SCALARS.issuperset(map(type, value)):
            return [v for v in value if v != ""] if "" in value else list(value)
        pruned: list[JSON] = []
        for item in value:
            if isinstance(item, dict | list):
                item = _pruned(item)
                if not item:
                    continue
            elif item is None or item == "":
                continue
            pruned.append(item)
        return pruned
    return value


def create_payload(doc: JSONObject) -> JSONObject:
    """What POST sends: a copy without read-only fields and without empty values.

    Empty values (None, "", [], {}) are left out at every depth so that Tavus applies its own
    defaults; a layer that ends up empty disappears with them.
    """
    body = {k: v for k, v in doc.items() if k not in READ_ONLY_FIELDS}
    pruned = _pruned(body)
    assert isinstance(pruned, dict)
    return pruned


# ---------------------------------------------------------------------------------------------
# The payload as the create preview prints it, without copying the document


def _prunes_away(value: JSON) -> bool:
    # True when _pruned would leave nothing of `value`; stops at the first value that stays.
    if isinstance(value, dict):
        return all(_prunes_away(item) for item in value.values())
    if isinstance(value, list):
        return all(_prunes_away(item) for item in value)
    return value is None or value == ""


_GONE = object()  # an item that pruning removes


def _outlined(item: JSON, depth: int) -> object:
    if isinstance(item, dict | list):
        if depth > 1:
            item = _outline(item, depth - 1)
            return item if item else _GONE
        return _GONE if _prunes_away(item) else item
    return _GONE if item is None or item == "" else item


def _outline(value: JSON, depth: int) -> JSON:
    # `value` is a container `depth` levels above the printer's limit: pruned here, and child
    # containers at the limit kept as they are (shared) unless nothing of them would stay.
    if isinstance(value, dict):
        if _SCALARS.issuperset(map(type, value.values())) and "" not in value.values():
            return value
        kept = {k: o for k, v in value.items() if (o := _outlined(v, depth)) is not _GONE}
        return kept  # type: ignore[return-value]
    if isinstance(value, list):
        if _SCALARS.issuperset(map(type, value)) and "" not in value:
            return value
        return [o for v in value if (o := _outlined(v, depth)) is not _GONE]  # type: ignore[misc]
    return value


def payload_outline(doc: JSONObject, depth: int) -> JSONObject:
    """create_payload(doc) for printing only: the same down to `depth` levels; deeper containers
    are `doc`'s own objects, not yet pruned (dumps_line_pruned prunes them as it prints).

    So `dumps_readable(payload_outline(doc, d), depth=d, leaf=dumps_line_pruned)` is
    `dumps_readable(create_payload(doc), depth=d)`, without copying the ~800 containers of a large
    persona on every create preview. Read-only: the result shares objects with `doc`.
    """
    body = {k: v for k, v in doc.items() if k not in READ_ONLY_FIELDS}
    if depth <= 0:
        return create_payload(doc)
    outline = _outline(body, depth)
    assert isinstance(outline, dict)
    return outline


def dumps_line_pruned(value: JSON) -> str:
    """dumps_line(value) with empty values left out at every depth, as create_payload does."""
    text = dumps_line(value)
    # An empty value shows as null, "", [] or {} in compact JSON, so text without them has none;
    # text with one may only quote it inside a string, and is then pruned and printed again.
    if "null" in text or '""' in text or "[]" in text or "{}" in text:
        return dumps_line(_pruned(value))
    return text

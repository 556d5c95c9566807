"""Build the body of POST /v2/personas from an edited persona document.

Pure module: imports only the standard library and this package's pure modules; never Django,
never requests. Never mutates its input.
"""

from __future__ import annotations

from .jsontypes import JSON, JSONObject

__all__ = ["READ_ONLY_FIELDS", "create_payload"]

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

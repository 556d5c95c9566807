"""Mask secrets in persona documents and JSON Patch operations, and put them back for a revert.

Secrets (api-notes 2.9): the custom LLM's api_key, every header value sent to it, the voice
provider's api_key and the legacy PlayHT user id. Provider parameters under extra_body or
default_query whose names look like credentials (api_key, token, secret, password,
authorization) are masked too, since the notes warn they may carry keys. Pure module: imports
only the standard library and jsontypes; never Django, never requests. Never mutates its input.
"""

from __future__ import annotations

import copy
import functools
import re

from .jsontypes import JSON, JSONObject, Op, Pointer, clone, from_pointer, to_pointer

__all__ = [
    "SECRET_KEY_CONTAINERS",
    "SECRET_MARKER",
    "SECRET_POINTERS",
    "contains_marker",
    "is_secret_pointer",
    "redact",
    "redact_ops",
    "redact_value",
    "restore_secrets",
    "secret_paths_present",
]

SECRET_MARKER = "••••••"
# "*" stands for any one key: every header value is secret.
SECRET_POINTERS: tuple[str, ...] = (
    "/layers/llm/api_key",
    "/layers/llm/headers/*",
    "/layers/tts/api_key",
    "/layers/tts/playht_user_id",
)
# Inside these, only keys that look like credentials are secret.
SECRET_KEY_CONTAINERS: tuple[str, ...] = ("/layers/llm/extra_body", "/layers/llm/default_query")
_CREDENTIAL_NAME = re.compile(r"api[_-]?key|secret|token|password|authori[sz]ation", re.IGNORECASE)

_PATTERNS: tuple[Pointer, ...] = tuple(from_pointer(p) for p in SECRET_POINTERS)
_CONTAINERS: tuple[Pointer, ...] = tuple(from_pointer(p) for p in SECRET_KEY_CONTAINERS)
# Every place a secret can sit, as patterns: the container rules become "container/*".
_ALL_PATTERNS: tuple[Pointer, ...] = (*_PATTERNS, *((*c, "*") for c in _CONTAINERS))


def _matches(segments: Pointer, pattern: Pointer) -> bool:
    return len(segments) == len(pattern) and all(
        p in ("*", s) for s, p in zip(segments, pattern, strict=True)
    )


# Both tests below are asked about the same few paths (/layers, /layers/llm, ...) on every
# preview, each time matching them against every pattern; the answers depend on the path alone.
@functools.lru_cache(maxsize=4096)
def _is_secret(segments: Pointer) -> bool:
    if any(_matches(segments, p) for p in _PATTERNS):
        return True
    return bool(
        segments
        and segments[:-1] in _CONTAINERS
        and _CREDENTIAL_NAME.search(segments[-1]) is not None
    )


@functools.lru_cache(maxsize=4096)
def _may_hold_secret(segments: Pointer) -> bool:
    # True when something below `segments` could be secret; keeps walks out of tools, prompts...
    return any(
        len(segments) < len(p) and _matches(segments, p[: len(segments)]) for p in _ALL_PATTERNS
    )


def _has_value(value: JSON) -> bool:
    return value not in (None, "", [], {})


def is_secret_pointer(pointer: str) -> bool:
    """True when the value at `pointer` is a secret (not when it merely contains one)."""
    return _is_secret(from_pointer(pointer))


def _masked(segments: Pointer, value: JSON) -> JSON:
    if _is_secret(segments):
        return SECRET_MARKER if _has_value(value) else clone(value)
    if isinstance(value, dict) and _may_hold_secret(segments):
        return {k: _masked((*segments, k), v) for k, v in value.items()}
    return clone(value)


def redact_value(pointer: str, value: JSON) -> JSON:
    """`value` as if it sat at `pointer`, with every secret in it replaced by SECRET_MARKER."""
    return _masked(from_pointer(pointer), value)


def redact(doc: JSONObject) -> JSONObject:
    """A deep copy of `doc` with every present, non-empty secret replaced by SECRET_MARKER."""
    masked = _masked((), doc)
    assert isinstance(masked, dict)
    return masked


def redact_ops(ops: list[Op]) -> list[Op]:
    """Copies of `ops` whose values hold no secret: a value at a secret path, or a whole layer
    (or headers object) that contains secrets, is masked; paths stay as they are."""
    out: list[Op] = []
    for op in ops:
        copied = copy.deepcopy(op)
        path = op.get("path")
        if "value" in op and isinstance(path, str):
            try:
                segments = from_pointer(path)
            except ValueError:
                segments = ()
            copied["value"] = _masked(segments, op["value"])
        out.append(copied)
    return out


def _secret_locations(segments: Pointer, value: JSON, out: list[Pointer]) -> None:
    if _is_secret(segments):
        out.append(segments)
    elif isinstance(value, dict) and _may_hold_secret(segments):
        for key, child in value.items():
            _secret_locations((*segments, key), child, out)


def _value_at(doc: JSON, segments: Pointer) -> JSON:
    node = doc
    for key in segments:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def secret_paths_present(doc: JSONObject) -> list[str]:
    """JSON pointers of the secrets `doc` holds (present and non-empty), sorted."""
    found: list[Pointer] = []
    _secret_locations((), doc, found)
    return sorted(to_pointer(s) for s in found if _has_value(_value_at(doc, s)))


def _restored(node: JSON, live: JSON, live_found: bool) -> tuple[bool, JSON]:
    # Returns (keep, value). A marker takes the live value where live has a real one there,
    # else it goes: a revert must never write the marker to Tavus.
    if node == SECRET_MARKER:
        if live_found and _has_value(live) and live != SECRET_MARKER:
            return True, copy.deepcopy(live)
        return False, None
    if isinstance(node, dict):
        live_map = live if live_found and isinstance(live, dict) else {}
        kept: JSONObject = {}
        for key, child in node.items():
            keep, value = _restored(child, live_map.get(key), key in live_map)
            if keep:
                kept[key] = value
        return True, kept
    if isinstance(node, list):
        # List items have no stable identity, so a marker inside a list is simply dropped.
        items = [_restored(child, None, False) for child in node]
        return True, [value for keep, value in items if keep]
    return True, node


def restore_secrets(target: JSONObject, live: JSONObject) -> JSONObject:
    """`target` (a redacted snapshot, e.g. an audit "before") made safe to send back to Tavus.

    Wherever `target` still holds SECRET_MARKER, the live persona's value at the same place is
    used when it has one; otherwise the key is dropped so Tavus keeps or defaults it. The result
    never contains the marker: a live value that is itself the marker is not copied either.
    """
    _, restored = _restored(target, live, True)
    assert isinstance(restored, dict)
    return restored


def contains_marker(doc: JSON) -> bool:
    """True when SECRET_MARKER appears anywhere in `doc` (a masked value that must not be sent)."""
    if doc == SECRET_MARKER:
        return True
    if isinstance(doc, dict):
        return any(contains_marker(v) for v in doc.values())
    if isinstance(doc, list):
        return any(contains_marker(v) for v in doc)
    return False

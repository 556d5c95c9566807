"""The one rule for what is secret in a persona, and masking and restoring by it.

A value is secret when
- it sits at one of SECRET_POINTERS (the custom LLM's api_key, every header value sent to it, the
  voice provider's api_key, the legacy PlayHT user id), whatever it holds; or
- it is text under a key that names a credential, at any depth of the document:
  api_key, apikey, x-api-key, access_key, private_key, token, secret, client_secret, password,
  passphrase, authorization, bearer, credentials, … (`credential_named`). A key directly under
  a JSON Schema "properties" object declares a tool parameter, not a value, and is left alone.

Every surface uses this module: pages, exports, the audit log, the editor state, change requests.
Pure module: standard library and jsontypes only. Never mutates its input.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from collections.abc import Iterable

from .jsontypes import (
    JSON,
    JSONObject,
    Op,
    Pointer,
    clone,
    from_pointer,
    lookup,
    set_at,
    to_pointer,
)

__all__ = [
    "SECRET_MARKER",
    "SECRET_POINTERS",
    "contains_marker",
    "credential_named",
    "is_secret_pointer",
    "redact",
    "redact_ops",
    "redact_value",
    "restore_ops",
    "restore_secrets",
    "secret_paths_present",
    "with_secret_ops",
]

SECRET_MARKER = "••••••"
# "*" stands for any one key: every header value is secret.
SECRET_POINTERS: tuple[str, ...] = (
    "/layers/llm/api_key",
    "/layers/llm/headers/*",
    "/layers/tts/api_key",
    "/layers/tts/playht_user_id",
)
_PATTERNS: tuple[Pointer, ...] = tuple(from_pointer(p) for p in SECRET_POINTERS)

# Words that make a key a credential's name on their own, and pairs that do together.
_CREDENTIAL_WORDS = frozenset(
    {
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "authorization",
        "bearer",
        "credential",
        "credentials",
    }
)
_CREDENTIAL_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key")})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@functools.lru_cache(maxsize=4096)
def credential_named(key: str) -> bool:
    """True for a key naming a credential: api_key, apiKey, x-api-key, client_secret, token,
    Authorization, … (not max_tokens: "tokens" counts something)."""
    words = [w.lower() for w in _WORD.findall(key)]
    if any(w in _CREDENTIAL_WORDS for w in words):
        return True
    return any(pair in _CREDENTIAL_PAIRS for pair in itertools.pairwise(words))


def _matches(segments: Pointer, pattern: Pointer) -> bool:
    return len(segments) == len(pattern) and all(
        p in ("*", s) for s, p in zip(segments, pattern, strict=True)
    )


@functools.lru_cache(maxsize=4096)
def _at_secret_pointer(segments: Pointer) -> bool:
    return any(_matches(segments, p) for p in _PATTERNS)


def _credential_key(segments: Pointer) -> bool:
    if not segments:
        return False
    declared = len(segments) > 1 and segments[-2] == "properties"  # a tool parameter's schema
    return not declared and credential_named(str(segments[-1]))


def _secret_at(segments: Pointer, value: JSON) -> bool:
    """Whether `value`, sitting at `segments`, is a secret."""
    if _at_secret_pointer(segments):
        return True
    return isinstance(value, str) and _credential_key(segments)


def _has_value(value: JSON) -> bool:
    return value not in (None, "", [], {})


def is_secret_pointer(pointer: str) -> bool:
    """True when a value at `pointer` is secret (not when it merely contains one)."""
    segments = from_pointer(pointer)
    return _at_secret_pointer(segments) or _credential_key(segments)


def _masked(segments: Pointer, value: JSON) -> JSON:
    if _secret_at(segments, value):
        return SECRET_MARKER if _has_value(value) else clone(value)
    if isinstance(value, dict):
        return {k: _masked((*segments, k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked((*segments, str(i)), v) for i, v in enumerate(value)]
    return value


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
    if _secret_at(segments, value):
        if _has_value(value):
            out.append(segments)
    elif isinstance(value, dict):
        for key, child in value.items():
            _secret_locations((*segments, key), child, out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _secret_locations((*segments, str(i)), child, out)


def secret_paths_present(doc: JSONObject) -> list[str]:
    """JSON pointers of the secrets `doc` holds (present and non-empty), sorted."""
    found: list[Pointer] = []
    _secret_locations((), doc, found)
    return sorted(to_pointer(s) for s in found)


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
        # A list item is matched with live's item at the same place, when live has one.
        live_items = live if live_found and isinstance(live, list) else []
        items = [
            _restored(child, live_items[i] if i < len(live_items) else None, i < len(live_items))
            for i, child in enumerate(node)
        ]
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


def _covers(op: Op, pointer: str) -> bool:
    path = op.get("path")
    return (
        op.get("op") in {"add", "replace"}
        and isinstance(path, str)
        and (pointer == path or pointer.startswith(path + "/"))
    )


def with_secret_ops(ops: list[Op], pointers: Iterable[str], base: JSONObject) -> list[Op]:
    """Ops that also set every secret at `pointers` (those a change carries): two redacted
    documents show the marker for a kept secret and for a changed one alike, so their diff misses
    a changed secret. An added op holds the marker; restore_ops fills it."""
    result = [dict(op) for op in ops]
    for pointer in pointers:
        if not any(_covers(op, pointer) for op in result):
            found, _ = lookup(base, from_pointer(pointer))
            result.append(
                {"op": "replace" if found else "add", "path": pointer, "value": SECRET_MARKER}
            )
    return result


def restore_ops(ops: list[Op], live: JSONObject, secrets: dict[str, str] | None = None) -> list[Op]:
    """The ops to send: `secrets` ({pointer: value} a person typed) put in place of the marker,
    and every other marker filled from the live persona (restore_secrets). A marker live cannot
    fill stays: contains_marker() on the result tells that a hidden value is missing."""
    sent: list[Op] = []
    for op in ops:
        op = copy.deepcopy(op)
        path = op.get("path")
        if "value" in op and isinstance(path, str):
            for pointer, secret in (secrets or {}).items():
                if pointer == path:
                    op["value"] = secret
                elif pointer.startswith(path + "/") and isinstance(op["value"], dict | list):
                    holder: JSONObject = {"v": op["value"]}
                    set_at(holder, "/v" + pointer[len(path) :], secret)
                    op["value"] = holder["v"]
            found, live_value = lookup(live, from_pointer(path))
            value = op["value"]
            if isinstance(value, dict | list):
                _, op["value"] = _restored(value, live_value, found)
            elif (
                value == SECRET_MARKER
                and found
                and _has_value(live_value)
                and live_value != SECRET_MARKER
            ):
                op["value"] = copy.deepcopy(live_value)
        sent.append(op)
    return sent

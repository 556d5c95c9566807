"""Values JSON allows but the dashboard cannot store, send back and show, and what to do about them.

JSON (and Python's json module) accept text that a database or an encoder refuses: an unpaired
surrogate ("\\ud800") cannot be encoded as UTF-8 (pages, exports) nor stored by PostgreSQL's
jsonb; a NUL character ("\\u0000") is refused by PostgreSQL; NaN, Infinity and numbers too large
for a float (1e400) are not JSON at all once written back; and nesting thousands of levels deep
exhausts Python's recursion. So:

- what a user types or uploads is parsed with `loads_checked` and checked with `unsafe_values`:
  refused at the door with a plain message, nothing sent to Tavus;
- what Tavus already holds is made `storable` when it is read: the odd characters become U+FFFD
  and a non-finite number becomes null, so the persona's pages still open (and its other
  fields can still be edited: a patch only touches the fields a user changed).

Pure module: standard library only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

from .jsontypes import JSON

MAX_DEPTH = 32  # a persona is about 6 levels deep; tool parameter schemas nest a few more
REPLACEMENT = "\ufffd"
_ODD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class UnsafeJSON(ValueError):
    """JSON text the dashboard will not take, with a message for the person who typed it."""


def _nesting_depth(text: str, limit: int) -> int:
    """The deepest nesting of [ and { in JSON text (strings skipped); stops past `limit`."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> float:
    raise UnsafeJSON(f"{name} is not a number JSON can carry: use a plain number.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJSON(f"The number {text[:40]} is too large.")
    return value


def loads_checked(text: str, *, max_depth: int = MAX_DEPTH) -> JSON:
    """json.loads for text a person typed or uploaded.

    Raises UnsafeJSON for nesting deeper than `max_depth`, NaN, Infinity, numbers too large, and
    strings holding a NUL or an unpaired surrogate; ValueError (json.JSONDecodeError) for text that
    is not JSON. The depth is checked before parsing, so deep nesting never reaches the parser.
    """
    if _nesting_depth(text, max_depth) > max_depth:
        raise UnsafeJSON(f"The JSON is nested more than {max_depth} levels deep.")
    value: JSON = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    for _, message in unsafe_values(value):
        raise UnsafeJSON(message)
    return value


def _odd_text_message(text: str) -> str | None:
    found = _ODD_CHARACTERS.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored: remove it."
    return (
        "contains a broken character (an unpaired surrogate such as \\ud800), which cannot be "
        "stored or shown: remove it."
    )


def unsafe_values(
    value: JSON, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, plain message) for every value under `value` that cannot be stored and shown: text
    (keys included) with a NUL or an unpaired surrogate, a non-finite number, nesting deeper than
    MAX_DEPTH. Walks without recursion, so any depth is safe to check."""
    stack: list[tuple[tuple[str | int, ...], JSON]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if len(where) - len(path) > MAX_DEPTH:
            yield where, f"is nested more than {MAX_DEPTH} levels deep."
            continue
        if isinstance(node, str):
            message = _odd_text_message(node)
            if message:
                yield where, message
        elif isinstance(node, float) and not math.isfinite(node):
            yield where, "is not a finite number: use a plain number."
        elif isinstance(node, dict):
            for key, child in node.items():
                message = _odd_text_message(key)
                if message:
                    yield where, f"has a field name that {message}"
                stack.append(((*where, key), child))
        elif isinstance(node, list):
            stack.extend(((*where, i), child) for i, child in enumerate(node))


_SURROGATE = re.compile("[\ud800-\udfff]")


def may_be_unsafe(value: JSON) -> bool:
    """A quick check before unsafe_values walks `value`: False when nothing in it can be unsafe.
    One pass of the json module (in C) instead of a Python walk over every string: it refuses
    NaN and Infinity and too deep a nesting, and writes NUL as \\u0000 and keeps a lone surrogate
    as it is, which one search then finds. (A false alarm only costs the walk.)"""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, check_circular=False)
    except (ValueError, RecursionError):
        return True
    return "\\u0000" in text or _SURROGATE.search(text) is not None


def storable(value: JSON) -> JSON:
    """`value` with what cannot be stored or shown replaced: NUL and unpaired surrogates become
    U+FFFD, non-finite numbers null. Returns `value` itself when there is nothing to replace."""
    if not may_be_unsafe(value) or not any(True for _ in unsafe_values(value)):
        return value
    return _replaced(value)


def _replaced(value: JSON) -> JSON:
    if isinstance(value, str):
        return _ODD_CHARACTERS.sub(REPLACEMENT, value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_ODD_CHARACTERS.sub(REPLACEMENT, k): _replaced(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(item) for item in value]
    return value

"""JSON Patch for personas: minimal diffs, readable change lists and three-way rebase.

`minimal_patch` writes only add/remove/replace (the ops the Tavus guide documents) and never the
read-only fields. `describe_changes` turns a diff into per-field before/after rows for previews.
`rebase` re-targets a reviewed edit onto a persona that changed meanwhile, or lists conflicts.
Pure module: imports only the standard library, jsonpatch and this package's pure modules; never
Django, never requests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import jsonpatch

from .jsontypes import JSON, JSONObject, Op, Pointer, from_pointer, lookup, to_pointer
from .layers import LAYERS, Layer, label_for, layer_for
from .payloads import READ_ONLY_FIELDS
from .redaction import redact_value

__all__ = [
    "READ_ONLY_FIELDS",
    "Change",
    "Conflict",
    "RebaseResult",
    "apply_patch",
    "changes_by_layer",
    "describe_changes",
    "minimal_patch",
    "op_paths",
    "rebase",
    "touches",
]

# Past this many LCS cells (e.g. two unrelated 500-item lists) a list is simply replaced.
_LCS_CELL_LIMIT = 250_000


def _kind(value: JSON) -> str:
    # bool before int (bool is an int in Python); 1 and 1.0 differ in JSON text, so here too.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# Exact JSON identity for list items: key order ignored, true != 1, 1 != 1.0. One encoder for
# every call (json.dumps with these options builds a new one each time).
_canon = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _leaf_count(value: JSON) -> int:
    if isinstance(value, dict) and value:
        return sum(_leaf_count(v) for v in value.values())
    if isinstance(value, list) and value:
        return sum(_leaf_count(v) for v in value)
    return 1


def _op(op: str, path: Pointer, value: JSON = None) -> Op:
    if op == "remove":
        return {"op": op, "path": to_pointer(path)}
    return {"op": op, "path": to_pointer(path), "value": copy.deepcopy(value)}


@dataclass(frozen=True)
class _Hunk:
    """Unmatched items between two matches: a[a_start:a_end] became b[b_start:b_end]."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int

    @property
    def removed(self) -> int:
        return self.a_end - self.a_start

    @property
    def added(self) -> int:
        return self.b_end - self.b_start


def _lcs(x: list[str], y: list[str]) -> list[tuple[int, int]]:
    if not x or not y or len(x) * len(y) > _LCS_CELL_LIMIT:
        return []
    m, n = len(x), len(y)
    # table[i][j] = length of the longest common subsequence of x[i:] and y[j:].
    table = [[0] * (n + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        row, below, xi = table[i], table[i + 1], x[i]
        for j in range(n - 1, -1, -1):
            row[j] = below[j + 1] + 1 if xi == y[j] else max(below[j], row[j + 1])
    matches: list[tuple[int, int]] = []
    i = j = 0
    while i < m and j < n:
        if x[i] == y[j]:
            matches.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return matches


def _hunks(ka: list[str], kb: list[str]) -> list[_Hunk]:
    # Trimming the common head and tail first keeps the LCS table small and keeps an in-place
    # edit (same length, one item differs) a single 1-for-1 hunk.
    shortest = min(len(ka), len(kb))
    head = 0
    while head < shortest and ka[head] == kb[head]:
        head += 1
    tail = 0
    while tail < shortest - head and ka[-1 - tail] == kb[-1 - tail]:
        tail += 1
    mid_a, mid_b = ka[head : len(ka) - tail], kb[head : len(kb) - tail]
    hunks: list[_Hunk] = []
    prev_i = prev_j = 0
    for i, j in [*_lcs(mid_a, mid_b), (len(mid_a), len(mid_b))]:
        if i > prev_i or j > prev_j:
            hunks.append(_Hunk(head + prev_i, head + i, head + prev_j, head + j))
        prev_i, prev_j = i + 1, j + 1
    return hunks


def _replace_whole_list(ka: list[str], kb: list[str], hunks: list[_Hunk]) -> bool:
    # "Changed more than it stayed": more items touched (a modified pair counts once) than
    # kept, and more than one; or an item moved (removed in one place, added in another).
    touched = sum(max(h.removed, h.added) for h in hunks)
    kept = len(ka) - sum(h.removed for h in hunks)
    removed = {ka[i] for h in hunks for i in range(h.a_start, h.a_end)}
    added = {kb[j] for h in hunks for j in range(h.b_start, h.b_end)}
    return bool(removed & added) or (touched > 1 and touched > kept)


def _replace_whole_item(sub_ops: list[Op], new_item: JSON) -> bool:
    # A list item has no identity but its position: when most of it changed, it is another item.
    return len(sub_ops) > 1 and len(sub_ops) * 2 >= _leaf_count(new_item)


def _diff(path: Pointer, a: JSON, b: JSON, ops: list[Op]) -> None:
    if a is b:
        return  # the same object (editors share what they did not touch): nothing to compare
    kind = _kind(a)
    if kind != _kind(b):
        ops.append(_op("replace", path, b))
    elif isinstance(a, dict) and isinstance(b, dict):
        _diff_object(path, a, b, ops, frozenset())
    elif isinstance(a, list) and isinstance(b, list):
        _diff_list(path, a, b, ops)
    elif a != b:
        ops.append(_op("replace", path, b))


def _diff_object(
    path: Pointer, a: JSONObject, b: JSONObject, ops: list[Op], skip: frozenset[str]
) -> None:
    for key, value in a.items():
        if key in skip:
            continue
        if key in b:
            _diff((*path, key), value, b[key], ops)
        else:
            ops.append(_op("remove", (*path, key)))
    for key, value in b.items():
        if key not in a and key not in skip:
            ops.append(_op("add", (*path, key), value))


def _diff_list(path: Pointer, a: list[JSON], b: list[JSON], ops: list[Op]) -> None:
    if len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True)):
        return  # item by item the same objects: skip serialising them
    ka, kb = [_canon(v) for v in a], [_canon(v) for v in b]
    if ka == kb:
        return
    hunks = _hunks(ka, kb)
    if _replace_whole_list(ka, kb, hunks):
        ops.append(_op("replace", path, b))
        return
    # Right to left: every index below refers to `a` as it was, since nothing to its left has
    # moved yet. That also puts several removals from one list in descending order.
    for hunk in reversed(hunks):
        pairs = min(hunk.removed, hunk.added)
        for k in range(pairs):
            item_path = (*path, str(hunk.a_start + k))
            sub: list[Op] = []
            _diff(item_path, a[hunk.a_start + k], b[hunk.b_start + k], sub)
            new_item = b[hunk.b_start + k]
            ops.extend(
                [_op("replace", item_path, new_item)] if _replace_whole_item(sub, new_item) else sub
            )
        for i in reversed(range(hunk.a_start + pairs, hunk.a_end)):
            ops.append(_op("remove", (*path, str(i))))
        for j in range(hunk.b_start + pairs, hunk.b_end):
            ops.append(_op("add", (*path, str(hunk.a_start + (j - hunk.b_start))), b[j]))


def minimal_patch(base: JSONObject, edited: JSONObject) -> list[Op]:
    """The RFC 6902 patch (add/remove/replace only) that turns `base` into `edited`.

    Rules: read-only fields (persona_id, created_at, updated_at, persona_type) are never touched;
    a changed scalar is one replace, a new key one add (a new layer: one add of the whole
    layer), a removed key one remove. Lists are aligned by longest common subsequence: appended
    or inserted items are adds at explicit indices, removed items removes (descending), an item
    changed in place is diffed inside (one tool's description: one replace at .../tools/2/
    function/description) unless most of it changed; a list that changed more than it stayed,
    or whose items moved, is one replace of the whole list. Keys are escaped per RFC 6901.
    Nothing changed gives []. The order is deterministic and applies cleanly with jsonpatch.
    """
    if not isinstance(base, dict) or not isinstance(edited, dict):
        raise TypeError("minimal_patch compares two persona documents (dicts)")
    ops: list[Op] = []
    _diff_object((), base, edited, ops, READ_ONLY_FIELDS)
    return ops


def apply_patch(doc: JSONObject, ops: list[Op]) -> JSONObject:
    """A new document: `ops` applied to a copy of `doc` (raises jsonpatch errors on bad ops)."""
    result = jsonpatch.apply_patch(doc, copy.deepcopy(ops), in_place=False)
    if not isinstance(result, dict):
        raise TypeError("The patch replaced the persona with something that is not an object")
    return result


def op_paths(ops: Iterable[Op]) -> set[str]:
    """Every pointer the ops write to or read from ("path", and "from" for move/copy)."""
    paths: set[str] = set()
    for op in ops:
        for key in ("path", "from"):
            value = op.get(key)
            if isinstance(value, str):
                paths.add(value)
    return paths


def _nested(p: Pointer, q: Pointer) -> bool:
    # Equal, or one is an ancestor of the other at a segment boundary.
    shorter, longer = (p, q) if len(p) <= len(q) else (q, p)
    return longer[: len(shorter)] == shorter


def touches(ops: Iterable[Op], pointer: str) -> bool:
    """True when an op changes `pointer`, something inside it, or a parent that holds it."""
    target = from_pointer(pointer)
    return any(_nested(from_pointer(p), target) for p in op_paths(ops))


# ---------------------------------------------------------------------------------------------
# Readable changes

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One field's before/after, for previews, reviews and history (secrets masked)."""

    pointer: str
    label: str
    layer_key: str
    before: JSON  # None when kind == "added"
    after: JSON  # None when kind == "removed"
    kind: ChangeKind


def _is_scalar_list(items: list[JSON]) -> bool:
    return all(not isinstance(v, dict | list) for v in items)


class _Describer:
    def __init__(self, *, reveal_secrets: bool) -> None:
        self.reveal_secrets = reveal_secrets
        self.changes: list[Change] = []

    def add(self, path: Pointer, before: JSON, after: JSON, kind: ChangeKind) -> None:
        pointer = to_pointer(path)
        if not self.reveal_secrets:
            before, after = redact_value(pointer, before), redact_value(pointer, after)
        self.changes.append(
            Change(pointer, label_for(pointer), layer_for(pointer).key, before, after, kind)
        )

    def diff(self, path: Pointer, a: JSON, b: JSON, skip: frozenset[str] = frozenset()) -> None:
        if a is b:
            return  # the same object: unchanged (see _diff)
        if _kind(a) != _kind(b):
            self.add(path, a, b, "changed")
        elif isinstance(a, dict) and isinstance(b, dict):
            for key, value in a.items():
                if key in skip:
                    continue
                if key in b:
                    self.diff((*path, key), value, b[key])
                else:
                    self.add((*path, key), value, None, "removed")
            for key, value in b.items():
                if key not in a and key not in skip:
                    self.add((*path, key), None, value, "added")
        elif isinstance(a, list) and isinstance(b, list):
            self.diff_list(path, a, b)
        elif a != b:
            self.add(path, a, b, "changed")

    def diff_list(self, path: Pointer, a: list[JSON], b: list[JSON]) -> None:
        if len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True)):
            return
        ka, kb = [_canon(v) for v in a], [_canon(v) for v in b]
        if ka == kb:
            return
        hunks = _hunks(ka, kb)
        # A list of words (queries, tags, document ids) reads best as a whole before/after.
        if (_is_scalar_list(a) and _is_scalar_list(b)) or _replace_whole_list(ka, kb, hunks):
            self.add(path, a, b, "changed")
            return
        for hunk in hunks:
            pairs = min(hunk.removed, hunk.added)
            for k in range(pairs):
                # Positions as the author now sees them (edited list).
                item_path = (*path, str(hunk.b_start + k))
                old, new = a[hunk.a_start + k], b[hunk.b_start + k]
                sub: list[Op] = []
                _diff(item_path, old, new, sub)
                if _replace_whole_item(sub, new):
                    self.add(item_path, old, new, "changed")
                else:
                    self.diff(item_path, old, new)
            for i in range(hunk.a_start + pairs, hunk.a_end):
                self.add((*path, str(i)), a[i], None, "removed")
            for j in range(hunk.b_start + pairs, hunk.b_end):
                self.add((*path, str(j)), None, b[j], "added")


def describe_changes(
    base: JSONObject, edited: JSONObject, *, reveal_secrets: bool = False
) -> list[Change]:
    """Per-field before/after of what differs between `base` and `edited`, in document order.

    Follows the same rules as minimal_patch (read-only fields skipped, lists of objects aligned
    item by item), except that a list of plain values (strings, numbers) is always shown as one
    whole-list change. Secret values are masked unless `reveal_secrets` is true.
    """
    describer = _Describer(reveal_secrets=reveal_secrets)
    describer.diff((), base, edited, READ_ONLY_FIELDS)
    return describer.changes


def changes_by_layer(changes: Iterable[Change]) -> list[tuple[Layer, list[Change]]]:
    """Changes grouped under their editor section, sections in LAYERS order, empty ones left out."""
    grouped: dict[str, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.layer_key, []).append(change)
    return [(layer, grouped[layer.key]) for layer in LAYERS if layer.key in grouped]


# ---------------------------------------------------------------------------------------------
# Three-way rebase


@dataclass(frozen=True)
class Conflict:
    """Both the proposal and someone else changed this place. Absent values are None."""

    pointer: str
    label: str
    base: JSON
    live: JSON
    proposed: JSON


@dataclass(frozen=True)
class RebaseResult:
    """`ops` is the patch to send to the live persona; `result` what live becomes with it."""

    ops: list[Op]
    result: JSONObject
    conflicts: list[Conflict]

    @property
    def clean(self) -> bool:
        return not self.conflicts


def _anchor(base: JSONObject, path: Pointer) -> Pointer:
    # List indices shift when either side inserts or removes, so anything inside a list is
    # anchored at the list itself: the result is a path of object keys only.
    node: JSON = base
    for depth, segment in enumerate(path):
        if isinstance(node, list):
            return path[:depth]
        if not isinstance(node, dict) or segment not in node:
            return path
        node = node[segment]
    return path


def _anchors(base: JSONObject, ops: list[Op]) -> list[Pointer]:
    found = [_anchor(base, from_pointer(str(op["path"]))) for op in ops]
    return list(dict.fromkeys(found))


def _same_at(x: JSONObject, y: JSONObject, path: Pointer) -> bool:
    x_found, x_value = lookup(x, path)
    y_found, y_value = lookup(y, path)
    return x_found == y_found and (not x_found or _canon(x_value) == _canon(y_value))


def _conflict(path: Pointer, base: JSONObject, live: JSONObject, proposed: JSONObject) -> Conflict:
    pointer = to_pointer(path)
    return Conflict(
        pointer,
        label_for(pointer),
        lookup(base, path)[1],
        lookup(live, path)[1],
        lookup(proposed, path)[1],
    )


def _put(target: JSONObject, path: Pointer, source: JSONObject) -> bool:
    # Copy source's value at `path` into target (or delete it there); False if target has no
    # object to hold it, which rebase reports as a conflict.
    found, value = lookup(source, path)
    parent_found, parent = lookup(target, path[:-1])
    if not parent_found or not isinstance(parent, dict):
        return not found
    if found:
        parent[path[-1]] = copy.deepcopy(value)
    else:
        parent.pop(path[-1], None)
    return True


def rebase(base: JSONObject, proposed: JSONObject, live: JSONObject) -> RebaseResult:
    """Carry the edits base -> proposed over to `live`, the persona as it is now.

    The rule, exactly:
    1. edits = minimal_patch(base, proposed); outside = minimal_patch(base, live).
    2. If outside is empty (live equals base, read-only fields aside): ops = edits,
       result = edits applied to live.
    3. Otherwise each op path is anchored: cut at the first list it enters (list indices shift,
       so a list changed on both sides is always a conflict). An edit anchor and an outside
       anchor overlap when they are equal or one is an ancestor of the other. For each
       overlapping pair, at the shorter (ancestor) pointer: if proposed and live already hold the
       same value there, both sides agree and it is not a conflict; otherwise it is a Conflict
       with the base, live and proposed values there (None when absent).
    4. Any conflict: ops = [], result = a copy of live, conflicts listed by pointer.
    5. No conflict: result = live with proposed's value copied in at every edit anchor (or the
       key deleted where proposed has none), by pointer rather than by replaying ops;
       ops = minimal_patch(live, result).
    """
    edits = minimal_patch(base, proposed)
    outside = minimal_patch(base, live)
    if not outside:
        return RebaseResult(edits, apply_patch(live, edits), [])
    edit_anchors = _anchors(base, edits)
    outside_anchors = _anchors(base, outside)
    conflicts: dict[Pointer, Conflict] = {}
    for mine in edit_anchors:
        for theirs in outside_anchors:
            if not _nested(mine, theirs):
                continue
            shared = mine if len(mine) <= len(theirs) else theirs
            if not _same_at(proposed, live, shared):
                conflicts[shared] = _conflict(shared, base, live, proposed)
    result = copy.deepcopy(live)
    if not conflicts:
        for mine in edit_anchors:
            if not _put(result, mine, proposed):
                conflicts[mine] = _conflict(mine, base, live, proposed)
    if conflicts:
        ordered = [conflicts[p] for p in sorted(conflicts)]
        return RebaseResult([], copy.deepcopy(live), ordered)
    return RebaseResult(minimal_patch(live, result), result, [])


def carry_over(base: JSONObject, proposed: JSONObject, live: JSONObject) -> JSONObject:
    """`live` with every edit of base -> proposed carried over, proposed winning where both changed.

    This is "keep my values" after a conflict: each edit is anchored as in rebase (cut at the first
    list) and proposed's value is copied in at the anchor, or the key removed where proposed has
    none. Missing parent objects are created, so an edit is never silently dropped.
    """
    result = copy.deepcopy(live)
    for anchor in _anchors(base, minimal_patch(base, proposed)):
        if not anchor:
            continue
        found, value = lookup(proposed, anchor)
        node: JSONObject = result
        for key in anchor[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                if not found:
                    break
                child = node[key] = {}
            node = child
        else:
            if found:
                node[anchor[-1]] = copy.deepcopy(value)
            else:
                node.pop(anchor[-1], None)
    return result

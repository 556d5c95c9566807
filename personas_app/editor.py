"""The persona editor's plumbing shared by create and edit: state tokens, composing layer forms into a
document, splitting typed secrets out of a document, and placing schema problems next to fields.

The document an editor started from travels in the form as an encrypted token (crypto.seal_bytes of
compressed JSON), so previews need no Tavus call and no server-side session, and the page holds no
secret in clear text.
"""

from __future__ import annotations

import copy
import json
import zlib
from collections.abc import Iterable

from .crypto import DecryptionError, seal_bytes, unseal_bytes
from .persona.jsontypes import JSON, JSONObject, clone, dumps_readable
from .persona.payloads import dumps_line_pruned, payload_outline
from .persona.redaction import SECRET_MARKER, redact, secret_paths_present
from .persona.schema import Problem

READ_ONLY = ("persona_id", "created_at", "updated_at", "persona_type")


class EditorStateError(Exception):
    """The editor's hidden state is missing or unreadable."""


def pack_state(doc: JSONObject) -> str:
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return seal_bytes(zlib.compress(raw, 6))


def _inflate(data: bytes) -> bytes:
    """zlib.decompress(data) without zlib's Adler-32 check: Fernet has already authenticated
    these bytes (HMAC-SHA256), so the checksum is a second pass over the document that can find
    nothing wrong. Anything but the stream pack_state writes goes to zlib.decompress."""
    header_ok = (
        len(data) > 6
        and data[0] == 0x78
        and not data[1] & 0x20
        and not ((data[0] << 8 | data[1]) % 31)
    )
    if not header_ok:
        return zlib.decompress(data)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate: the 2-byte header skipped
    inflated = inflater.decompress(data[2:])
    if not inflater.eof:
        raise zlib.error("The compressed editor state is incomplete.")
    return inflated


def unpack_state(token: str) -> JSONObject:
    if not token:
        raise EditorStateError("The editor lost its starting point. Reload the page.")
    try:
        doc = json.loads(_inflate(unseal_bytes(token)))
    except (DecryptionError, zlib.error, ValueError) as exc:
        raise EditorStateError(
            "The editor's saved state could not be read (the server's keys may have changed). "
            "Reload the page to start from the current persona."
        ) from exc
    if not isinstance(doc, dict):
        raise EditorStateError("The editor's saved state is not a persona.")
    return doc


def get_path(doc: JSON, path: Iterable[str | int]) -> JSON:
    node = doc
    for part in path:
        if (isinstance(node, dict) and isinstance(part, str) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
        else:
            return None
    return node


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def pointer_parts(pointer: str) -> list[str]:
    return [_unescape(p) for p in pointer.split("/")[1:]] if pointer else []


def get_pointer(doc: JSON, pointer: str) -> JSON:
    node = doc
    for part in pointer_parts(pointer):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def split_secrets(
    edited: JSONObject, base: JSONObject | None = None
) -> tuple[JSONObject, dict[str, str]]:
    """(redacted document, {pointer: value} of secrets the user set that differ from `base`)."""
    secrets: dict[str, str] = {}
    for pointer in secret_paths_present(edited):
        value = get_pointer(edited, pointer)
        typed = isinstance(value, str) and value != SECRET_MARKER
        if typed and (base is None or get_pointer(base, pointer) != value):
            secrets[pointer] = value  # type: ignore[assignment]
    return redact(edited), secrets


def drop_markers(doc: JSONObject) -> tuple[JSONObject, list[str]]:
    """Remove secret values that are only the redaction marker (e.g. in a duplicated persona)."""
    pointers = [p for p in secret_paths_present(doc) if get_pointer(doc, p) == SECRET_MARKER]
    if not pointers:
        return doc, []
    result = clone(doc)
    dropped: list[str] = []
    for pointer in secret_paths_present(result):
        parts = pointer_parts(pointer)
        parent = get_path(result, parts[:-1])
        if isinstance(parent, dict) and parent.get(parts[-1]) == SECRET_MARKER:
            del parent[parts[-1]]
            dropped.append(pointer)
    return result, dropped


# Levels the create preview indents. Secrets sit at most 4 levels deep (/layers/llm/headers/X), so
# everything drop_markers() and redact() look at is pruned in the payload outline.
PAYLOAD_DEPTH = 5


def payload_preview(doc: JSONObject) -> tuple[str, list[str]]:
    """(POST /v2/personas body as the create preview shows it, pointers of markers left out).

    The same text as dumps_readable of create_payload(doc) with markers dropped and secrets
    masked, but printed from an outline of `doc` instead of a pruned copy of it.
    """
    payload, dropped = drop_markers(payload_outline(doc, PAYLOAD_DEPTH))
    # redact() copies the whole payload; only pay for it when there is a secret to hide.
    shown = redact(payload) if secret_paths_present(payload) else payload
    return dumps_readable(shown, depth=PAYLOAD_DEPTH, leaf=dumps_line_pruned), dropped


def strip_read_only(doc: JSONObject) -> JSONObject:
    return {k: copy.deepcopy(v) for k, v in doc.items() if k not in READ_ONLY}


def problems_by_prefix(
    problems: list[Problem], prefix: tuple[str | int, ...]
) -> tuple[dict[tuple[str | int, ...], list[str]], list[Problem]]:
    """Split problems into {path relative to prefix: messages} and the ones outside the prefix."""
    inside: dict[tuple[str | int, ...], list[str]] = {}
    outside: list[Problem] = []
    n = len(prefix)
    for problem in problems:
        if tuple(problem.path[:n]) == prefix and len(problem.path) > n:
            inside.setdefault(tuple(problem.path[n:]), []).append(problem.message)
        else:
            outside.append(problem)
    return inside, outside

"""The persona editor's plumbing shared by create and edit: state tokens, composing layer forms into a
document, splitting typed secrets out of a document, placing schema problems next to fields, and the
page's sections (EDITOR_SECTIONS, section_for) with what each holds (Issue, section_statuses).

The document an editor started from travels in the form as a signed token (pack_state), so
previews need no Tavus call and no server-side session. It holds no secret, sealed or not: they
are masked, and filled from the live persona (or the change request) when the change is sent. The
token is bound to the workspace, the persona ("new" on the create page) and the user, and expires.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from .persona.jsontypes import JSON, JSONObject, clone, dumps_readable
from .persona.payloads import create_payload
from .persona.redaction import SECRET_MARKER, redact, secret_paths_present
from .persona.schema import Problem

READ_ONLY = ("persona_id", "created_at", "updated_at", "persona_type")


class EditorStateError(Exception):
    """The editor's hidden state is missing or unreadable."""


@dataclass(frozen=True)
class EditorPlace:
    """Where an editor page belongs: its state is refused anywhere else."""

    workspace_id: int
    persona_id: str  # "new" on the create page
    user_id: int

    def key(self) -> list[object]:
        return [self.workspace_id, self.persona_id, self.user_id]


_SALT = "persona-studio.editor-state"


def pack_state(doc: JSONObject, place: EditorPlace) -> str:
    """The document an editor starts from, for the page's hidden field: secrets masked (they
    never travel to the browser, sealed or not), signed, compressed, bound to `place` and dated
    (Django's signing)."""
    return signing.dumps({"at": place.key(), "doc": redact(doc)}, salt=_SALT, compress=True)


def unpack_state(token: str, place: EditorPlace) -> JSONObject:
    """The document pack_state packed for `place`; EditorStateError with a plain message for a
    missing, altered, too large or expired state, or one from another page."""
    if not token:
        raise EditorStateError("The editor lost its starting point. Reload the page.")
    if len(token) > settings.EDITOR_STATE_MAX_BYTES:
        raise EditorStateError("The editor's saved state is too large. Reload the page.")
    try:
        state = signing.loads(token, salt=_SALT, max_age=settings.EDITOR_STATE_MAX_AGE_HOURS * 3600)
    except signing.SignatureExpired:
        raise EditorStateError(
            f"This editor page is more than {settings.EDITOR_STATE_MAX_AGE_HOURS} hours old. "
            "Reload the page to start from the current persona."
        ) from None
    except (signing.BadSignature, ValueError, zlib.error):
        raise EditorStateError(
            "The editor's saved state could not be read. "
            "Reload the page to start from the current persona."
        ) from None
    if not isinstance(state, dict) or state.get("at") != place.key():
        raise EditorStateError(
            "This editor state belongs to another page (another persona, workspace or person). "
            "Reload the page. Nothing was sent."
        )
    doc = state.get("doc")
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


# Levels the create preview indents; deeper values are printed on one line.
PAYLOAD_DEPTH = 5


def payload_preview(doc: JSONObject) -> tuple[str, list[str]]:
    """(POST /v2/personas body as the create preview shows it, pointers of markers left out):
    create_payload(doc) without the markers a duplicate or import left, secrets masked."""
    payload, dropped = drop_markers(create_payload(doc))
    return dumps_readable(redact(payload), depth=PAYLOAD_DEPTH), dropped


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


# -- sections of the editor page ------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """One section of the editor page (a card with an anchor in the section menu)."""

    key: str
    title: str

    @property
    def anchor(self) -> str:
        return f"layer-{self.key}"


EDITOR_SECTIONS: tuple[Section, ...] = (
    Section("identity", "Identity"),
    Section("llm", "Language model & tools"),
    Section("tts", "Voice"),
    Section("stt", "Speech recognition"),
    Section("perception", "Perception"),
    Section("conversational_flow", "Turn-taking"),
    Section("knowledge", "Knowledge"),
    Section("objectives", "Objectives & guardrails"),
)
SECTIONS_BY_KEY = {section.key: section for section in EDITOR_SECTIONS}
# Top-level fields shown outside the Identity section.
_TOP_LEVEL_SECTIONS = {
    "document_ids": "knowledge",
    "document_tags": "knowledge",
    "objectives_id": "objectives",
    "guardrail_ids": "objectives",
    "guardrail_tags": "objectives",
    "guardrails_id": "objectives",
}


def section_for(pointer: str) -> str:
    """The editor section a JSON pointer is edited in; "" for settings the editor does not show
    (transport, unknown layers)."""
    parts = pointer_parts(pointer)
    if not parts:
        return "identity"
    if parts[0] != "layers":
        return _TOP_LEVEL_SECTIONS.get(parts[0], "identity")
    if len(parts) >= 2 and parts[1] in SECTIONS_BY_KEY:
        return parts[1]
    return ""


@dataclass(frozen=True)
class Issue:
    """One problem the editor shows: in its section, next to its control (`target`, an element
    id on the page; "" when there is none), naming the place as the page labels it."""

    section: str
    target: str
    label: str
    message: str

    def __str__(self) -> str:
        return f"{self.label}: {self.message}" if self.label else self.message


@dataclass(frozen=True)
class SectionStatus:
    """What the section menu shows for one section."""

    section: Section
    changes: int
    problems: int


def section_statuses(pointers: Iterable[str], issues: Iterable[Issue]) -> list[SectionStatus]:
    """Changes (by the pointers changed) and problems per section, in the page's order."""
    changes: dict[str, int] = {}
    for pointer in pointers:
        key = section_for(pointer)
        changes[key] = changes.get(key, 0) + 1
    problems: dict[str, int] = {}
    for issue in issues:
        problems[issue.section] = problems.get(issue.section, 0) + 1
    return [
        SectionStatus(section, changes.get(section.key, 0), problems.get(section.key, 0))
        for section in EDITOR_SECTIONS
    ]

"""Secrets as `${env:NAME}` placeholders, for persona documents kept in files (personas as code).

A persona written to a file never holds a secret: every secret (redaction's one rule) becomes
`${env:PERSONA_<ID>_<WHERE>}`, e.g. `${env:PERSONA_P1234_LLM_API_KEY}` for /layers/llm/api_key.
When the files are proposed, each placeholder is filled from the environment; comparing a file
with the live persona (a plan) needs no secret: a placeholder stands for "the secret there".

Pure module: standard library and this package's pure modules only; never mutates its input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .jsontypes import JSON, JSONObject, clone, from_pointer, set_at, to_pointer
from .redaction import SECRET_MARKER, secret_paths_present

__all__ = ["env_name", "fill_placeholders", "placeholder_names", "with_placeholders"]

_PLACEHOLDER = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def env_name(persona_id: str, pointer: str) -> str:
    """The environment variable a persona's secret at `pointer` is read from."""
    segments = list(from_pointer(pointer))
    if segments[:1] == ["layers"]:
        segments = segments[1:]
    words = [persona_id or "new", *segments]
    return "PERSONA_" + "_".join(_NOT_WORD.sub("_", w).strip("_").upper() for w in words)


def with_placeholders(doc: JSONObject, *, persona_id: str) -> JSONObject:
    """A copy of `doc` with every secret replaced by its `${env:NAME}` placeholder."""
    out = clone(doc)
    assert isinstance(out, dict)
    for pointer in secret_paths_present(doc):
        set_at(out, pointer, "${env:" + env_name(persona_id, pointer) + "}")
    return out


def _walk(node: JSON, path: tuple[str, ...], found: dict[str, str]) -> None:
    if isinstance(node, str):
        match = _PLACEHOLDER.fullmatch(node)
        if match:
            found[to_pointer(path)] = match.group(1)
    elif isinstance(node, dict):
        for key, child in node.items():
            _walk(child, (*path, key), found)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            _walk(child, (*path, str(index)), found)


def placeholder_names(doc: JSONObject) -> dict[str, str]:
    """{pointer: NAME} for every value of `doc` that is exactly a `${env:NAME}` placeholder."""
    found: dict[str, str] = {}
    _walk(doc, (), found)
    return found


def fill_placeholders(
    doc: JSONObject, env: Mapping[str, str] | None
) -> tuple[JSONObject, list[str]]:
    """`doc` with each placeholder replaced by its variable's value, and the names of the
    variables that are missing or empty. With `env=None` every placeholder becomes
    SECRET_MARKER ("the secret there, whatever it is"), which is how a plan compares a file."""
    out = clone(doc)
    assert isinstance(out, dict)
    missing: list[str] = []
    for pointer, name in placeholder_names(doc).items():
        if env is None:
            set_at(out, pointer, SECRET_MARKER)
        elif env.get(name):
            set_at(out, pointer, env[name])
        else:
            missing.append(name)
    return out, sorted(set(missing))

"""Validate a persona document: JSON Schema errors plus the rules a schema cannot express.

Every problem comes back as a `Problem` (a path into the document and a plain-language message a
non-developer can act on). The schema lives in persona.schema.json, is loaded once and compiled
into one validator. Pure module: imports only the standard library, jsonschema and this package's
pure modules; never Django, never requests, no I/O beyond reading the schema file once.
"""

from __future__ import annotations

import functools
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import validator_for

from .jsontypes import JSON, JSONObject, to_pointer
from .layers import label_for
from .safety import may_be_unsafe, unsafe_values

__all__ = [
    "TOOL_LIST_PATHS",
    "Problem",
    "persona_problems",
    "persona_schema",
    "sorted_problems",
    "validate_persona",
]

_SCHEMA_FILE = Path(__file__).with_name("persona.schema.json")

# Where tool lists live (current and legacy names), as document paths.
TOOL_LIST_PATHS: tuple[tuple[str, ...], ...] = (
    ("layers", "llm", "tools"),
    ("layers", "perception", "visual_tools"),
    ("layers", "perception", "audio_tools"),
    ("layers", "perception", "perception_tools"),
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) at one place in a persona document."""

    path: tuple[str | int, ...]
    message: str

    @property
    def dotted(self) -> str:
        """The path written for people: layers.llm.tools[0].function.name."""
        text = ""
        for segment in self.path:
            if isinstance(segment, int):
                text += f"[{segment}]"
            else:
                text += f".{segment}" if text else segment
        return text

    @property
    def pointer(self) -> str:
        """The path as a JSON pointer ("/layers/llm/tools/0/function/name"), for FIELD_LABELS."""
        return to_pointer(self.path)

    @property
    def label(self) -> str:
        """The place in plain words, as the editor labels it: "LLM tools > #1 > Name"."""
        return label_for(self.pointer) if self.path else ""

    def __str__(self) -> str:
        return f"{self.label}: {self.message}" if self.path else self.message


def _path_key(path: tuple[str | int, ...]) -> tuple[tuple[int, int, str], ...]:
    # Ints and strings never compare directly, so tag each segment with its kind.
    return tuple((0, s, "") if isinstance(s, int) else (1, 0, s) for s in path)


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Drop duplicates and order by path, then message, so the list is stable between runs."""
    return sorted(set(problems), key=lambda p: (_path_key(p.path), p.message))


@functools.cache
def persona_schema() -> JSONObject:
    """The persona JSON Schema as written in persona.schema.json (read once)."""
    loaded: JSONObject = json.loads(_SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def _inline_refs(node: JSON, defs: JSONObject) -> JSON:
    # Local "$ref"s are replaced by their targets once, at load time: resolving references is
    # the slowest part of jsonschema, and this schema has no recursive definitions.
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out: JSONObject = {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        assert isinstance(target, dict)
        out.update(target)
    for key, value in node.items():
        if key == "$ref" and isinstance(ref, str) and ref.startswith("#/$defs/"):
            continue
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            # A sibling "properties" next to a "$ref" adds to the referenced one.
            merged = dict(out[key])  # type: ignore[arg-type]
            merged.update(_inline_refs(value, defs))  # type: ignore[arg-type]
            out[key] = merged
        else:
            out[key] = _inline_refs(value, defs)
    return out


@functools.cache
def _compiled() -> JSONObject:
    schema = persona_schema()
    defs = schema.get("$defs", {})
    assert isinstance(defs, dict)
    compiled = _inline_refs({k: v for k, v in schema.items() if k != "$defs"}, defs)
    assert isinstance(compiled, dict)
    return compiled


@functools.cache
def _validator() -> Draft202012Validator:
    # No check_schema() here: it costs ~100 ms per process; tests/test_schema.py runs it.
    return Draft202012Validator(_compiled())


# Keywords that judge keys the "properties" keyword does not list; an object schema holding one
# cannot be split into "the object itself" plus "each property" without changing its meaning.
_WHOLE_OBJECT_KEYWORDS = frozenset(
    {"additionalProperties", "patternProperties", "unevaluatedProperties", "propertyNames"}
)


@functools.cache
def _split_validators(
    path: tuple[str, ...],
) -> tuple[Draft202012Validator, dict[str, Draft202012Validator]] | None:
    """(validator of the object at `path` without its properties, {property: its validator}), or
    None when that object's schema cannot be split (then the whole document is validated at once)."""
    node: JSON = _compiled()
    for key in path:
        properties = node.get("properties") if isinstance(node, dict) else None
        node = properties.get(key) if isinstance(properties, dict) else None
    if not isinstance(node, dict) or _WHOLE_OBJECT_KEYWORDS & set(node):
        return None
    properties = node.get("properties")
    shell = {k: v for k, v in node.items() if k != "properties"}
    validators = {
        name: Draft202012Validator(schema)
        for name, schema in (properties.items() if isinstance(properties, dict) else [])
        if isinstance(schema, dict)
    }
    return Draft202012Validator(shell), validators


def _errors(
    validator: Draft202012Validator, value: JSON, prefix: tuple[str | int, ...]
) -> list[Problem]:
    return [p for error in validator.iter_errors(value) for p in _problems_from(error, prefix)]


# ---------------------------------------------------------------------------------------------
# Turning jsonschema errors into plain language

_TYPE_WORDS = {
    "object": "a group of settings",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "empty",
}


def _show(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _humanise(name: str) -> str:
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "This field"


def _custom_message(error: ValidationError) -> str | None:
    schema = error.schema if isinstance(error.schema, dict) else {}
    per_keyword = schema.get("x-messages", {})
    if isinstance(per_keyword, dict):
        text = per_keyword.get(str(error.validator))
        if isinstance(text, str):
            return text
    text = schema.get("x-message")
    return text if isinstance(text, str) else None


def _message(error: ValidationError) -> str:
    custom = _custom_message(error)
    if custom:
        return custom
    keyword, expected = error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "enum":
        return "Choose one of: " + ", ".join(_show(v) for v in expected if v is not None)
    if keyword == "const":
        return f"Must be {json.dumps(expected)}."
    if keyword == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        words = [_TYPE_WORDS.get(k, k) for k in kinds if k != "null"] or ["empty"]
        return "Must be " + " or ".join(words) + "."
    if keyword in ("minimum", "maximum") and "minimum" in schema and "maximum" in schema:
        return f"Must be between {schema['minimum']} and {schema['maximum']}."
    if keyword == "minimum":
        return f"Must be at least {expected}."
    if keyword == "maximum":
        return f"Must be at most {expected}."
    if keyword == "exclusiveMinimum":
        return f"Must be more than {expected}."
    if keyword == "minLength":
        return "Must not be empty." if expected == 1 else f"Must be at least {expected} characters."
    if keyword == "format":
        return (
            "Not a valid regular expression." if expected == "regex" else f"Not a valid {expected}."
        )
    if keyword == "uniqueItems":
        return "Remove the repeated entries."
    if keyword in ("anyOf", "oneOf") and error.path and error.path[-1] == "type":
        return "Use a JSON Schema type: array, boolean, integer, null, number, object or string."
    if keyword in ("anyOf", "oneOf"):
        return "This value does not have an accepted form."
    return str(error.message)


def _problems_from(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> Iterator[Problem]:
    path = prefix + tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # Point at the missing field itself, so a form can show the message next to it.
        schema = error.schema if isinstance(error.schema, dict) else {}
        messages = schema.get("x-messages", {})
        by_name = messages.get("required", {}) if isinstance(messages, dict) else {}
        for name in error.validator_value:
            if name not in error.instance:
                text = by_name.get(name) if isinstance(by_name, dict) else None
                yield Problem((*path, name), text or f"{_humanise(name)} is required.")
        return
    yield Problem(path, _message(error))


# ---------------------------------------------------------------------------------------------
# Rules the schema cannot express


def _system_prompt_problems(doc: JSONObject) -> Iterator[Problem]:
    # Tavus: system_prompt is required when pipeline_mode is "full", the default (api-notes 2.1).
    if doc.get("pipeline_mode") == "echo":
        return
    prompt = doc.get("system_prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        yield Problem(
            ("system_prompt",),
            "Write a system prompt: in the full pipeline it tells the persona who it is and how "
            "to behave. Only echo mode can do without one.",
        )


_SIMPLE_TYPES = frozenset(_TYPE_WORDS)
_SUBSCHEMA_KEYS = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_SCHEMA_MAP_KEYS = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})
_SCHEMA_ARRAY_KEYS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_TEXT_KEYS = frozenset({"title", "description", "$comment", "format"})
_FLAG_KEYS = frozenset({"uniqueItems", "deprecated", "readOnly", "writeOnly"})
_NUMBER_KEYS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_COUNT_KEYS = frozenset(
    {
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minContains",
        "maxContains",
    }
)
_ANY_KEYS = frozenset({"const", "default"})


def _unique_strings(value: JSON) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) for v in value)
        and len(set(value)) == len(value)
    )


def _plainly_valid(schema: JSON) -> bool:
    """True only when `schema` obviously satisfies the draft 2020-12 meta-schema.

    jsonschema's meta-schema check costs about 2 ms per tool; this walk covers the keywords tool
    parameters use in practice in microseconds. Anything unusual ($ref, pattern, unknown
    keywords, floats as counts...) answers False, and the caller then runs the real meta-schema.
    tests/test_schema.py checks that True is never said of a schema the meta-schema rejects.
    """
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key == "type":
            kinds = value if isinstance(value, list) else [value]
            if not kinds or not all(isinstance(k, str) and k in _SIMPLE_TYPES for k in kinds):
                return False
            if len(set(kinds)) != len(kinds):
                return False
        elif key in _SUBSCHEMA_KEYS:
            if not _plainly_valid(value):
                return False
        elif key in _SCHEMA_MAP_KEYS:
            if not isinstance(value, dict) or not all(_plainly_valid(v) for v in value.values()):
                return False
        elif key in _SCHEMA_ARRAY_KEYS:
            if not isinstance(value, list) or not value:
                return False
            if not all(_plainly_valid(v) for v in value):
                return False
        elif key in _TEXT_KEYS:
            if not isinstance(value, str):
                return False
        elif key in _FLAG_KEYS:
            if not isinstance(value, bool):
                return False
        elif key in _NUMBER_KEYS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
        elif key in _COUNT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return False
        elif key == "multipleOf":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                return False
        elif key in ("enum", "examples"):
            if not isinstance(value, list):
                return False
        elif key == "required":
            if not _unique_strings(value):
                return False
        elif key == "dependentRequired":
            if not isinstance(value, dict) or not all(_unique_strings(v) for v in value.values()):
                return False
        elif key not in _ANY_KEYS:
            return False
    return True


@functools.cache
def _meta_validator_for(cls: type[Draft202012Validator]) -> Draft202012Validator:
    # The same check as cls.check_schema(), but collecting every error instead of the first.
    return cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)


def _meta_validator(schema: JSONObject) -> Draft202012Validator:
    # Honour a "$schema" the author wrote (e.g. draft-07); default to 2020-12 like OpenAI does.
    cls = validator_for(schema, default=Draft202012Validator)
    return _meta_validator_for(cls)


def _parameters_problems(path: tuple[str | int, ...], parameters: JSONObject) -> Iterator[Problem]:
    if _plainly_valid(parameters):
        return
    for error in _meta_validator(parameters).iter_errors(parameters):
        for problem in _problems_from(error, path):
            yield Problem(
                problem.path,
                "The tool's parameters are not a valid JSON Schema here: "
                + problem.message[:1].lower()
                + problem.message[1:],
            )


def _at(doc: JSON, path: tuple[str, ...]) -> JSON:
    node = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _tool_problems(doc: JSONObject) -> Iterator[Problem]:
    for list_path in TOOL_LIST_PATHS:
        tools = _at(doc, list_path)
        if not isinstance(tools, list):
            continue
        first_index: dict[str, int] = {}
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict):
                continue
            here: tuple[str | int, ...] = (*list_path, index, "function")
            name = function.get("name")
            if isinstance(name, str) and name:
                if name in first_index:
                    yield Problem(
                        (*here, "name"),
                        f'Tool {first_index[name] + 1} in this list is already called "{name}". '
                        "Give each tool its own name.",
                    )
                else:
                    first_index[name] = index
            parameters = function.get("parameters")
            # Other shapes already fail the schema ("type": "object" is required there).
            if isinstance(parameters, dict) and parameters.get("type") == "object":
                yield from _parameters_problems((*here, "parameters"), parameters)


_NOT_AN_OBJECT = "A persona must be a group of settings (a JSON object)."


def _whole_document_problems(doc: JSONObject) -> list[Problem]:
    """The reference: the whole document through one validator (persona_problems must agree)."""
    if not isinstance(doc, dict):
        return [Problem((), _NOT_AN_OBJECT)]
    found: list[Problem] = []
    for error in _validator().iter_errors(doc):
        found.extend(_problems_from(error))
    found.extend(_system_prompt_problems(doc))
    found.extend(_tool_problems(doc))
    return sorted_problems(found)


# Problems of one layer, by (layer key, the layer's exact content) or (layer key, the name of a
# reference document it is identical to). While someone types in one field, the other layers (a
# large tool list above all) are answered from here.
_LAYER_CACHE: OrderedDict[tuple[str, object], tuple[Problem, ...]] = OrderedDict()
_LAYER_CACHE_SIZE = 256
_layer_cache_lock = threading.Lock()


def _content_key(layer: JSON) -> bytes:
    """Equal only for layers with the same JSON content and types (true is not 1, 1 is not 1.0).

    pickle writes a 60 KB tool list three times faster than json.dumps(sort_keys=True) did, and
    loads(dumps(x)) == x, so equal bytes mean equal layers. The bytes also follow key order and
    which objects are shared; layers equal but built differently are only a cache miss.
    """
    return pickle.dumps(layer, protocol=5)


def _identical(a: JSON, b: JSON) -> bool:
    """The same JSON (types included: true is not 1, 0.0 is not -0.0), quickly when the two share
    objects, as an edited document shares with the one it started from everything not edited."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_identical(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_identical, a, b))
    return a == b and (not isinstance(a, float) or repr(a) == repr(b))


def _cached(cache_key: tuple[str, object]) -> tuple[Problem, ...] | None:
    with _layer_cache_lock:
        cached = _LAYER_CACHE.get(cache_key)
        if cached is not None:
            _LAYER_CACHE.move_to_end(cache_key)
        return cached


def _layer_problems(
    key: str, layer: JSON, validator: Draft202012Validator | None, alias: object = None
) -> tuple[Problem, ...]:
    cache_keys: list[tuple[str, object]] = []
    if alias is not None:
        cache_keys.append((key, ("reference", alias)))
        cached = _cached(cache_keys[0])
        if cached is not None:
            return cached
    cache_keys.append((key, _content_key(layer)))
    result = _cached(cache_keys[-1])
    if result is None:
        found = _errors(validator, layer, ("layers", key)) if validator is not None else []
        found += _tool_problems({"layers": {key: layer}})
        result = tuple(found)
    with _layer_cache_lock:
        for cache_key in cache_keys:
            _LAYER_CACHE[cache_key] = result
            _LAYER_CACHE.move_to_end(cache_key)
        while len(_LAYER_CACHE) > _LAYER_CACHE_SIZE:
            _LAYER_CACHE.popitem(last=False)
    return result


def persona_problems(
    doc: JSONObject, *, reference: tuple[Hashable, JSONObject] | None = None
) -> list[Problem]:
    """Every error in `doc`: schema errors and custom rules, in plain language, ordered by path.

    The document is checked field by field and layer by layer (the schema has no rule spanning
    two of them), so unchanged layers are answered from a small cache; the result is the same as
    validating the whole document at once.

    `reference` is (name, document), where the name stands for that document's exact content
    (the editor passes its starting point, named by the state token it was read from). A layer
    identical to the reference's is looked up by that name, without serialising it for the cache.
    """
    top = _split_validators(())
    layers_split = _split_validators(("layers",))
    if not isinstance(doc, dict) or top is None or layers_split is None:
        return _whole_document_problems(doc)
    reference_layers = reference[1].get("layers") if reference is not None else None
    if not isinstance(reference_layers, dict):
        reference_layers = {}
    shell, validators = top
    found = _errors(shell, doc, ())
    for key, value in doc.items():
        if key == "layers" and isinstance(value, dict):
            layers_shell, layer_validators = layers_split
            found += _errors(layers_shell, value, ("layers",))
            for layer_key, layer in value.items():
                same = layer_key in reference_layers and _identical(
                    layer, reference_layers[layer_key]
                )
                alias = reference[0] if same and reference is not None else None
                found += _layer_problems(layer_key, layer, layer_validators.get(layer_key), alias)
        elif key in validators:
            found += _errors(validators[key], value, (key,))
    found.extend(_system_prompt_problems(doc))
    if may_be_unsafe(doc):
        found.extend(Problem(path, message) for path, message in unsafe_values(doc))
    return sorted_problems(found)


def validate_persona(doc: JSONObject) -> list[str]:
    """Errors as "dotted.path: message" strings, for developers and logs (pages name the place
    by its label, str(problem)); empty when the persona is valid."""
    return [
        f"{problem.dotted}: {problem.message}" if problem.path else problem.message
        for problem in persona_problems(doc)
    ]

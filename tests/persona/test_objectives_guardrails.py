"""Objectives and guardrails in the persona document: schema, labels, legacy set, names on pages."""

from __future__ import annotations

import pytest

from personas_app.persona.diffs import Section, Shown, document_summary
from personas_app.persona.jsontypes import JSON
from personas_app.persona.layers import FIELD_LABELS, label_for
from personas_app.persona.legacy import (
    UNMAPPED_LEGACY,
    describe_migration,
    legacy_fields,
    migrate_legacy,
)
from personas_app.persona.schema import persona_problems
from tests.builders import persona_doc

POINTERS = ("/objectives_id", "/guardrails_id", "/guardrail_ids", "/guardrail_tags")


def test_schema_accepts_objectives_and_guardrails() -> None:
    doc = persona_doc(
        objectives_id="o5e1d9c7a2b4",
        guardrails_id="g12345",
        guardrail_ids=["g1f4a8c2e9b0", "g7d2b5e1a0c3"],
        guardrail_tags=["compliance"],
    )

    assert persona_problems(doc) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("objectives_id", ["o1"]),
        ("guardrails_id", 5),
        ("guardrail_ids", "g1"),
        ("guardrail_tags", [1]),
    ],
)
def test_schema_refuses_objectives_and_guardrails_of_the_wrong_shape(
    field: str, value: JSON
) -> None:
    problems = persona_problems(persona_doc(**{field: value}))

    assert [p.path[0] for p in problems] == [field]


def test_every_objectives_and_guardrails_pointer_has_a_plain_label() -> None:
    assert all(pointer in FIELD_LABELS for pointer in POINTERS)
    assert label_for("/guardrail_ids/1") == "Guardrails > #2"
    assert "legacy" in label_for("/guardrails_id").lower()


def test_legacy_guardrail_set_is_explained_but_never_migrated() -> None:
    doc = persona_doc(guardrails_id="g12345")

    assert "/guardrails_id" in UNMAPPED_LEGACY
    assert "individual guardrails" in UNMAPPED_LEGACY["/guardrails_id"]
    assert legacy_fields(doc) == []
    assert migrate_legacy(doc) == doc
    assert describe_migration(doc) == []


def _identity(sections: list[Section]) -> dict[str, Shown]:
    """The Identity section's values by label."""
    section = next(s for s in sections if s.title == "Identity")
    return {setting.label: setting.shown for setting in section.settings}


def test_summary_shows_known_ids_by_name_and_unknown_ids_as_they_are() -> None:
    doc = persona_doc(
        default_replica_id="r90bbd427f71",
        objectives_id="o5e1d9c7a2b4",
        guardrail_ids=["g1f4a8c2e9b0", "gunknown"],
    )
    names = {
        "/default_replica_id": {"r90bbd427f71": "Anna - Studio"},
        "/objectives_id": {"o5e1d9c7a2b4": "collect_contact_details"},
        "/guardrail_ids": {"g1f4a8c2e9b0": "no_medical_advice"},
    }

    identity = _identity(document_summary(doc, names=names))

    assert identity["Default replica"].text == "Anna - Studio (r90bbd427f71)"
    assert identity["Objectives"].text == "collect_contact_details (o5e1d9c7a2b4)"
    assert identity["Guardrails"].lines == ["no_medical_advice (g1f4a8c2e9b0)", "gunknown"]


def test_summary_without_names_shows_ids() -> None:
    doc = persona_doc(default_replica_id="r90bbd427f71", guardrail_ids=["g1"])

    identity = _identity(document_summary(doc))

    assert identity["Default replica"].text == "r90bbd427f71"
    assert identity["Guardrails"].lines == ["g1"]

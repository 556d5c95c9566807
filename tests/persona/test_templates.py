"""Templates: valid, warning-free (blank aside), current field names, handed out as copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personas_app.persona.checks import persona_warnings
from personas_app.persona.legacy import legacy_fields
from personas_app.persona.schema import persona_problems
from personas_app.persona.templates import TEMPLATES, template_doc

SEEDS = Path(__file__).parent.parent / "data" / "seeds"
READY = sorted(key for key in TEMPLATES if key != "blank")


def test_expected_templates_exist() -> None:
    assert {"blank", "interviewer", "life_coach"} <= TEMPLATES.keys()
    assert all(t.key == key and t.title and t.description for key, t in TEMPLATES.items())


@pytest.mark.parametrize("key", READY)
def test_template_is_valid_without_warnings_or_legacy_fields(key: str) -> None:
    doc = template_doc(key)
    assert persona_problems(doc) == []
    assert persona_warnings(doc) == []
    assert legacy_fields(doc) == []


def test_blank_template_only_lacks_its_system_prompt() -> None:
    assert [p.dotted for p in persona_problems(template_doc("blank"))] == ["system_prompt"]


def test_interviewer_is_the_guide_example() -> None:
    seed = json.loads((SEEDS / "create_interviewer.json").read_text(encoding="utf-8"))
    assert template_doc("interviewer") == seed


def test_life_coach_has_no_placeholders_or_secrets() -> None:
    text = json.dumps(template_doc("life_coach"))
    for placeholder in ("your-api-key", "your-base-url", "<string>", "playht", "external-voice-id"):
        assert placeholder not in text


def test_template_doc_returns_a_copy() -> None:
    doc = template_doc("life_coach")
    doc["layers"]["llm"]["tools"].clear()
    assert template_doc("life_coach")["layers"]["llm"]["tools"]

"""persona.placeholders: secrets as ${env:NAME} in files, filled from the environment."""

from __future__ import annotations

from personas_app.persona.placeholders import env_name, fill_placeholders, with_placeholders
from personas_app.persona.redaction import SECRET_MARKER


def test_placeholders_stand_for_secrets_and_are_filled_from_the_environment() -> None:
    doc = {"persona_id": "p1", "layers": {"llm": {"api_key": "sk-1", "model": "m"}}}
    name = env_name("p1", "/layers/llm/api_key")
    assert name == "PERSONA_P1_LLM_API_KEY"
    written = with_placeholders(doc, persona_id="p1")
    assert written["layers"]["llm"]["api_key"] == "${env:PERSONA_P1_LLM_API_KEY}"
    assert fill_placeholders(written, None)[0]["layers"]["llm"]["api_key"] == SECRET_MARKER
    assert fill_placeholders(written, {})[1] == ["PERSONA_P1_LLM_API_KEY"]
    filled, missing = fill_placeholders(written, {name: "sk-2"})
    assert missing == [] and filled["layers"]["llm"]["api_key"] == "sk-2"

"""The persona's page shows every setting as labelled values in plain words, never as JSON:
voice settings, headers (values masked), extra parameters, tools, awareness questions, and the
replica, objectives and guardrails by name; each jargon term has a "what is this"."""

from __future__ import annotations

import html
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from tests.builders import persona_doc

HTMX = {"HTTP_HX_REQUEST": "true"}
OBJECTIVE = "o5e1d9c7a2b4"  # collect_contact_details in the emulator's seed
GUARDRAIL = "g1f4a8c2e9b0"  # no_medical_advice
HEADER_SECRET = "Bearer hdr-SECRET-7731"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Look up the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city to look up"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(
        persona_doc(
            pipeline_mode="echo",
            objectives_id=OBJECTIVE,
            guardrail_ids=[GUARDRAIL],
            layers={
                "llm": {
                    "model": "tavus-gpt-oss",
                    "headers": {"Authorization": HEADER_SECRET},
                    "extra_body": {"temperature": 0.7, "top_p": 0.9},
                    "tools": [WEATHER],
                },
                "tts": {
                    "tts_engine": "elevenlabs",
                    "voice_settings": {"speed": 0.9, "stability": 0.5},
                },
                "perception": {
                    "perception_model": "raven-1",
                    "audio_awareness_queries": ["Does the user sound frustrated?"],
                },
            },
        )
    )


def _settings_of(page: str) -> str:
    """The settings column of the page (the raw JSON beside it is JSON on purpose)."""
    return html.unescape(page.split('id="persona-settings"', 1)[1].split("<aside>", 1)[0])


def _row(settings: str, label: str) -> str:
    """One setting's row: from its label to the next top-level row."""
    start = settings.index(f"<dt>{label}")
    return settings[start : start + 2500]


def _detail(client: Any, persona_id: str) -> str:
    response = client.get(f"/w/acme/personas/{persona_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_voice_settings_read_as_labelled_values_not_json(
    bob_client: Any, workspace: Any, persona_id: str
) -> None:
    voice = _row(_settings_of(_detail(bob_client, persona_id)), "Voice settings")

    assert "<dt>Voice speed" in voice and "0.9" in voice
    assert "<dt>Voice stability" in voice and "0.5" in voice
    assert "{" not in voice and '"speed"' not in voice


def test_header_values_are_masked_and_their_names_shown(
    bob_client: Any, workspace: Any, persona_id: str
) -> None:
    page = _detail(bob_client, persona_id)
    headers = _row(_settings_of(page), "Custom LLM headers")

    assert "<dt>Authorization" in headers and "(hidden)" in headers
    assert "{" not in headers
    assert "hdr-SECRET" not in page


def test_extra_parameters_are_labelled(bob_client: Any, workspace: Any, persona_id: str) -> None:
    extra = _row(_settings_of(_detail(bob_client, persona_id)), "Extra LLM parameters")

    assert "<dt>Temperature" in extra and "<dt>Top-p" in extra and "{" not in extra


def test_tools_read_as_name_description_and_parameters_in_words(
    bob_client: Any, workspace: Any, persona_id: str
) -> None:
    tools = _row(_settings_of(_detail(bob_client, persona_id)), "LLM tools")

    assert "get_weather" in tools and "Look up the weather for a city" in tools
    assert "(text, required)" in tools and "The city to look up" in tools
    assert "(text, optional)" in tools and "One of: celsius, fahrenheit." in tools
    assert "{" not in tools and '"properties"' not in tools


def test_awareness_questions_are_a_list(bob_client: Any, workspace: Any, persona_id: str) -> None:
    queries = _row(_settings_of(_detail(bob_client, persona_id)), "Audio awareness questions")

    assert '<ul class="setting-list"><li>Does the user sound frustrated?</li></ul>' in queries


def test_known_choices_read_by_name_with_what_they_mean(
    bob_client: Any, workspace: Any, persona_id: str
) -> None:
    settings = _settings_of(_detail(bob_client, persona_id))

    assert "Echo" in _row(settings, "Pipeline mode")
    assert "your own app decides what the replica says" in _row(settings, "Pipeline mode").lower()
    assert "Raven-1" in _row(settings, "Perception model")
    assert "tone of voice" in _row(settings, "Perception model")


def test_jargon_terms_have_a_what_is_this(bob_client: Any, workspace: Any, persona_id: str) -> None:
    settings = _settings_of(_detail(bob_client, persona_id))

    for label in ("Pipeline mode", "Top-p", "Perception model", "Custom LLM headers"):
        assert f'<span class="sr-only">What is “{label}”?</span>' in settings, label


def test_replica_objectives_and_guardrails_read_by_name(
    bob_client: Any, workspace: Any, persona_id: str
) -> None:
    # The page loads the names after itself (htmx); this is that fragment.
    response = bob_client.get(f"/w/acme/personas/{persona_id}/?names=1", **HTMX)
    settings = html.unescape(response.content.decode())

    assert "Anna - Studio" in _row(settings, "Default replica")
    assert "collect_contact_details" in _row(settings, "Objectives")
    assert "no_medical_advice" in _row(settings, "Guardrails")
    assert "<h2" in settings and "<html" not in settings  # the same sections, as a fragment


def test_the_raw_json_can_be_reached_and_scrolled_with_a_keyboard(
    bob_client: Any, workspace: Any, persona_id: str
) -> None:
    page = _detail(bob_client, persona_id)

    assert (
        '<div class="raw-json" tabindex="0" role="region" aria-labelledby="raw-json-title">'
        '<pre id="raw-json">'
    ) in page
    assert '<h2 id="raw-json-title">Raw JSON</h2>' in page

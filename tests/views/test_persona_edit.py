"""Editing a persona: what is sent is exactly what changed, and nothing the user did not touch moves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent
from tests.builders import persona_doc, seed
from tests.formdata import form_data, with_values

SEED_BODIES = ["create_life_coach", "create_interviewer", "create_raven1_openapi"]


def _open_editor(client: Any, persona_id: str) -> Any:
    response = client.get(f"/w/acme/personas/{persona_id}/edit/")
    assert response.status_code == 200
    return form_data(response.content.decode())


def _patches(tavus: EmulatorState) -> list[Any]:
    return [r.body for r in tavus.requests if r.method == "PATCH"]


@pytest.mark.parametrize("name", SEED_BODIES)
def test_saving_untouched_editor_sends_nothing(
    bob_client: Any, workspace: Any, tavus: EmulatorState, name: str
) -> None:
    persona_id = tavus.put_persona(seed(name))
    data = _open_editor(bob_client, persona_id)

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/", with_values(data, {"submit": "apply"})
    )

    assert response.status_code == 302
    assert _patches(tavus) == []


def test_untouched_preview_says_nothing_will_be_sent(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)

    body = bob_client.post(f"/w/acme/personas/{persona_id}/edit/preview/", data).content.decode()

    assert "No changes yet" in body


def test_preview_makes_no_upstream_request(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)
    before = len(tavus.requests)

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/preview/",
        with_values(data, {"identity-persona_name": "Renamed"}),
    )

    assert len(tavus.requests) == before


def test_changing_one_hotword_sends_exactly_one_replace(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"stt-hotwords": "Roey and Maya", "submit": "apply"}),
    )

    assert _patches(tavus) == [
        [{"op": "replace", "path": "/layers/stt/hotwords", "value": "Roey and Maya"}]
    ]


def test_adding_one_tool_sends_exactly_one_add(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    page = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:add"}),
    )
    data = form_data(page.content.decode())
    data = with_values(
        data,
        {
            "llm-tools-1-name": "book_session",
            "llm-tools-1-description": "Book a coaching session",
            "llm-tools-1-p0-name": "date",
            "llm-tools-1-p0-description": "ISO date",
            "llm-tools-1-p0-required": "on",
            "submit": "apply",
        },
    )

    bob_client.post(f"/w/acme/personas/{persona_id}/edit/", data)

    (ops,) = _patches(tavus)
    assert len(ops) == 1 and ops[0]["op"] == "add"
    assert ops[0]["value"]["function"]["name"] == "book_session"
    assert ops[0]["value"]["function"]["parameters"]["required"] == ["date"]


def test_unknown_and_legacy_fields_survive_an_edit(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = seed("create_life_coach")
    doc["x_future_field"] = {"nested": [1, 2, 3]}
    doc["layers"]["llm"]["default_query"] = {"api-version": "2024-01"}
    doc["layers"]["transport"] = {"transport_type": "livekit"}
    persona_id = tavus.put_persona(doc)
    data = _open_editor(bob_client, persona_id)

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-persona_name": "Coach Maya", "submit": "apply"}),
    )

    stored = tavus.personas[persona_id]
    assert stored["persona_name"] == "Coach Maya"
    for key in ("x_future_field", "layers", "system_prompt", "context"):
        if key != "layers":
            assert stored[key] == doc[key]
    assert stored["layers"] == doc["layers"]
    assert _patches(tavus) == [[{"op": "replace", "path": "/persona_name", "value": "Coach Maya"}]]


def test_apply_redirects_to_detail_with_confirmation(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-context": "New context", "submit": "apply"}),
        follow=True,
    )

    assert "Saved: 1 change sent to Tavus." in response.content.decode()
    assert AuditEvent.objects.filter(action="persona.patched", persona_id=persona_id).count() == 1


def test_bad_number_is_shown_next_to_the_field_and_input_kept(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(
            data,
            {
                "llm-extra_body__temperature": "very hot",
                "identity-context": "Typed text",
                "submit": "apply",
            },
        ),
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter a number" in body
    assert 'value="very hot"' in body and "Typed text" in body
    assert _patches(tavus) == []


def test_out_of_range_temperature_is_refused(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)

    body = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/preview/",
        with_values(data, {"llm-extra_body__temperature": "3"}),
    ).content.decode()

    assert "Temperature: Use a number from 0 to 2." in body
    assert '<a href="#id_llm-extra_body__temperature" data-jump>Temperature</a>' in body


def test_empty_system_prompt_in_full_pipeline_is_an_error_next_to_it(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-system_prompt": "", "submit": "apply"}),
    )

    assert response.status_code == 200
    assert 'id="wrap-id_identity-system_prompt"' in response.content.decode()
    assert (
        "field-error"
        in response.content.decode().split('id="wrap-id_identity-system_prompt"')[0][-60:]
    )
    assert _patches(tavus) == []


def test_tavus_refusal_is_shown_and_input_kept(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)
    tavus.fail_next(1, 400, body={"error": "Invalid replica_uuid"}, methods={"PATCH"})

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-context": "My careful words", "submit": "apply"}),
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Invalid replica_uuid" in body and "My careful words" in body
    failed = AuditEvent.objects.get(persona_id=persona_id, action="persona.patched")
    assert failed.outcome == "error" and failed.http_status == 400


@pytest.mark.parametrize("status", [401, 429, 503])
def test_upstream_failures_keep_the_work(
    bob_client: Any, workspace: Any, tavus: EmulatorState, status: int
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)
    tavus.fail_next(10, status, retry_after=0.01)

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-context": "Unsaved thoughts", "submit": "apply"}),
    )

    assert response.status_code == 200
    assert "Unsaved thoughts" in response.content.decode()
    assert "Nothing you typed was lost" in response.content.decode()


def test_outside_edit_on_another_field_is_kept_when_applying(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "Portal edit"}])

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-persona_name": "Dashboard edit", "submit": "apply"}),
    )

    stored = tavus.personas[persona_id]
    assert stored["context"] == "Portal edit" and stored["persona_name"] == "Dashboard edit"


def test_outside_edit_on_the_same_field_is_a_conflict_and_nothing_is_sent(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "Portal edit"}])

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-context": "Dashboard edit", "submit": "apply"}),
    )

    body = response.content.decode()
    assert "Someone changed this persona while you were editing" in body
    assert "Portal edit" in body and "Dashboard edit" in body
    assert _patches(tavus) == []


def test_secret_is_never_rendered_and_blank_keeps_it(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = persona_doc()
    doc["layers"]["llm"].update(
        base_url="https://llm.example.com/v1",
        api_key="sk-live-TOPSECRET1",
        headers={"Authorization": "Bearer hdr-SECRET2"},
    )
    persona_id = tavus.put_persona(doc)

    pages = [
        bob_client.get(f"/w/acme/personas/{persona_id}/").content.decode(),
        bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode(),
        bob_client.get(f"/w/acme/personas/{persona_id}/export/").content.decode(),
    ]
    data = form_data(pages[1])
    preview = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/preview/",
        with_values(data, {"identity-persona_name": "X"}),
    ).content.decode()
    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-persona_name": "X", "submit": "apply"}),
    )

    for html in [*pages, preview]:
        assert "TOPSECRET1" not in html and "hdr-SECRET2" not in html
    assert tavus.personas[persona_id]["layers"]["llm"]["api_key"] == "sk-live-TOPSECRET1"
    assert tavus.personas[persona_id]["layers"]["llm"]["headers"] == {
        "Authorization": "Bearer hdr-SECRET2"
    }


def test_typing_a_new_secret_sends_it_but_the_preview_masks_it(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = persona_doc()
    doc["layers"]["llm"].update(
        base_url="https://llm.example.com/v1", model="my-model", api_key="sk-old-key-000"
    )
    persona_id = tavus.put_persona(doc)
    data = with_values(_open_editor(bob_client, persona_id), {"llm-api_key": "sk-new-key-999"})

    preview = bob_client.post(f"/w/acme/personas/{persona_id}/edit/preview/", data).content.decode()
    bob_client.post(f"/w/acme/personas/{persona_id}/edit/", with_values(data, {"submit": "apply"}))

    assert "sk-new-key-999" not in preview and "changed (hidden)" in preview
    assert _patches(tavus) == [
        [{"op": "replace", "path": "/layers/llm/api_key", "value": "sk-new-key-999"}]
    ]
    assert "sk-new-key-999" not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_typed_secret_is_not_rendered_back_when_the_editor_shows_errors(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = persona_doc()
    doc["layers"]["llm"].update(base_url="https://llm.example.com/v1", api_key="sk-old-key-000")
    persona_id = tavus.put_persona(doc)
    data = with_values(
        _open_editor(bob_client, persona_id),
        {"llm-api_key": "sk-typed-key-777", "identity-system_prompt": "", "submit": "apply"},
    )

    body = bob_client.post(f"/w/acme/personas/{persona_id}/edit/", data).content.decode()

    assert 'class="field field-error" id="wrap-id_identity-system_prompt"' in body
    assert "sk-typed-key-777" not in body and "sk-old-key-000" not in body
    assert form_data(body)["llm-api_key"] == ""
    assert _patches(tavus) == []


def test_tool_edit_as_json_round_trips_to_rows(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    page = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:0:edit"}),
    ).content.decode()
    assert 'value="get_current_weather"' in page
    as_json = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(form_data(page), {"editor_action": "llm-tools:0:json"}),
    ).content.decode()
    back = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(form_data(as_json), {"editor_action": "llm-tools:0:rows"}),
    )
    data = form_data(back.content.decode())

    bob_client.post(f"/w/acme/personas/{persona_id}/edit/", with_values(data, {"submit": "apply"}))

    assert _patches(tavus) == []


def test_invalid_tool_json_is_reported_on_the_tool(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    page = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:0:json"}),
    ).content.decode()

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(
            form_data(page),
            {"llm-tools-0-json": '{"type": "function", "function": ', "submit": "apply"},
        ),
    )

    body = response.content.decode()
    assert "This is not valid JSON" in body
    assert "{&quot;type&quot;: &quot;function&quot;, &quot;function&quot;: " in body
    assert _patches(tavus) == []


def test_duplicate_tool_names_are_refused(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    page = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:add"}),
    )
    data = with_values(
        form_data(page.content.decode()),
        {"llm-tools-1-name": "get_current_weather", "submit": "apply"},
    )

    body = bob_client.post(f"/w/acme/personas/{persona_id}/edit/", data).content.decode()

    assert "get_current_weather" in body and _patches(tavus) == []
    assert "errorlist" in body


def test_legacy_fields_are_shown_and_untouched(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))

    body = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()

    assert "Legacy settings on this persona" in body
    assert "participant_pause_sensitivity" in body and "Migrate legacy fields" in body


def test_migrate_legacy_previews_then_applies_inverted_sensitivities(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))

    preview = bob_client.get(f"/w/acme/personas/{persona_id}/migrate-legacy/").content.decode()
    bob_client.post(f"/w/acme/personas/{persona_id}/migrate-legacy/", {"submit": "apply"})

    assert "the other way" in preview or "invert" in preview.lower()
    flow = tavus.personas[persona_id]["layers"]["conversational_flow"]
    assert flow["turn_taking_patience"] == "low"  # pause sensitivity was high
    assert "participant_pause_sensitivity" not in tavus.personas[persona_id]["layers"]["stt"]


def test_voice_settings_follow_the_chosen_engine(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    cartesia = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()

    elevenlabs = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"tts-tts_engine": "elevenlabs", "editor_action": "refresh"}),
    ).content.decode()

    assert '<details class="group" open><summary>Cartesia voice settings' in cartesia
    assert '<details class="group" open><summary>ElevenLabs voice settings' in elevenlabs
    assert '<details class="group" ><summary>Cartesia voice settings' in elevenlabs
    assert _patches(tavus) == []


def test_a_tool_edited_then_folded_keeps_the_edit(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    opened = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:0:edit"}),
    ).content.decode()
    folded = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(
            form_data(opened),
            {
                "llm-tools-0-description": "Weather for a city",
                "editor_action": "llm-tools:0:collapse",
            },
        ),
    ).content.decode()
    assert "Weather for a city" in folded

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/", with_values(form_data(folded), {"submit": "apply"})
    )

    assert _patches(tavus) == [
        [
            {
                "op": "replace",
                "path": "/layers/llm/tools/0/function/description",
                "value": "Weather for a city",
            }
        ]
    ]


def test_moving_a_tool_keeps_both_tools_intact(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = seed("create_raven1_openapi")
    doc["layers"]["llm"]["tools"].append(
        {"type": "function", "function": {"name": "second_tool", "description": "Second"}}
    )
    persona_id = tavus.put_persona(doc)
    data = _open_editor(bob_client, persona_id)
    moved = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:1:up"}),
    ).content.decode()

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/", with_values(form_data(moved), {"submit": "apply"})
    )

    names = [t["function"]["name"] for t in tavus.personas[persona_id]["layers"]["llm"]["tools"]]
    assert names == ["second_tool", "get_current_weather"]
    assert (
        tavus.personas[persona_id]["layers"]["llm"]["tools"][1] == doc["layers"]["llm"]["tools"][0]
    )


def test_saved_key_hint_shows_only_on_the_persona_that_has_a_key(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    with_key = persona_doc()
    with_key["layers"]["llm"].update(base_url="https://llm.example.com/v1", api_key="sk-1")
    keyed_id, plain_id = tavus.put_persona(with_key), tavus.put_persona(persona_doc())

    keyed = bob_client.get(f"/w/acme/personas/{keyed_id}/edit/").content.decode()
    plain = bob_client.get(f"/w/acme/personas/{plain_id}/edit/").content.decode()
    keyed_again = bob_client.get(f"/w/acme/personas/{keyed_id}/edit/").content.decode()

    for page in (keyed, keyed_again):
        assert "saved — leave blank to keep" in page
        assert "Remove the saved endpoint api key" in page
    assert "saved — leave blank to keep" not in plain
    assert "Remove the saved endpoint api key" not in plain


def test_unknown_choice_is_offered_only_on_the_persona_that_uses_it(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    odd = persona_doc()
    odd["layers"]["stt"]["stt_engine"] = "tavus-future"
    odd_id, plain_id = tavus.put_persona(odd), tavus.put_persona(persona_doc())

    odd_page = bob_client.get(f"/w/acme/personas/{odd_id}/edit/").content.decode()
    plain_page = bob_client.get(f"/w/acme/personas/{plain_id}/edit/").content.decode()

    assert "tavus-future (as set on this persona)" in odd_page
    assert "tavus-future" not in plain_page


def test_preview_reports_a_tool_problem_only_while_it_is_there(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = seed("create_raven1_openapi")
    persona_id = tavus.put_persona(doc)
    data = _open_editor(bob_client, persona_id)
    bad_tool = {"type": "function", "function": {"name": "Bad Name", "description": "x"}}
    url = f"/w/acme/personas/{persona_id}/edit/preview/"

    before = bob_client.post(url, data).content.decode()
    broken = bob_client.post(
        url,
        with_values(data, {"llm-tools-0-mode": "json", "llm-tools-0-json": json.dumps(bad_tool)}),
    ).content.decode()
    fixed = bob_client.post(url, with_values(data, {"identity-context": "Fixed."})).content.decode()

    assert "Must be fixed before saving" not in before
    assert "Must be fixed before saving" in broken and "letters, digits and underscores" in broken
    assert "Must be fixed before saving" not in fixed


# -- the editor without reloads: htmx actions answer with the fragment they changed ---------------
HTMX = {"HTTP_HX_REQUEST": "true"}


def _action(client: Any, persona_id: str, data: Any, action: str, **values: str) -> Any:
    return client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": action, **values}),
        **HTMX,
    )


def test_htmx_add_tool_answers_with_the_new_tool_and_the_count_only(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)

    response = _action(bob_client, persona_id, data, "llm-tools:add")

    body = response.content.decode()
    assert body.lstrip().startswith('<div class="tool tool-open" id="llm-tools-1">')
    assert "<html" not in body and 'id="llm-tools-0"' not in body
    label = body.split('id="llm-tools-1-label"')[1].split(">")[0]
    assert "autofocus" in label
    assert (
        '<input type="hidden" id="llm-tools-count" name="llm-tools-count" value="2" hx-swap-oob="true">'
        in body
    )
    assert "editor-changed" in response["HX-Trigger-After-Settle"]
    assert _patches(tavus) == []


def test_htmx_remove_tool_answers_with_the_tools_editor(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)

    body = _action(bob_client, persona_id, data, "llm-tools:0:remove").content.decode()

    assert body.lstrip().startswith('<fieldset class="tools" id="llm-tools">')
    assert 'name="llm-tools-count" value="0"' in body and "<html" not in body
    assert "autofocus" in body.split('id="llm-tools-add"')[1].split(">")[0]


def test_htmx_add_parameter_answers_with_the_new_row_and_the_count_only(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    opened = _action(bob_client, persona_id, data, "llm-tools:0:edit").content.decode()
    assert (
        opened.lstrip().startswith('<div class="tool tool-open')
        and opened.count('id="llm-tools-0"') == 1
    )
    data = with_values(data, dict(form_data(f'<form id="editor">{opened}</form>').items()))

    body = _action(bob_client, persona_id, data, "llm-tools:0:addparam").content.decode()

    assert body.lstrip().startswith('<div class="prow prow-depth-0" id="llm-tools-0-p2">')
    assert 'id="llm-tools-0"' not in body
    assert "autofocus" in body.split('id="llm-tools-0-p2-name"')[1].split(">")[0]
    assert 'id="llm-tools-0-pcount" name="llm-tools-0-pcount" value="3" hx-swap-oob="true"' in body


def test_htmx_preview_sends_only_the_message_slots_that_changed(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)
    url = f"/w/acme/personas/{persona_id}/edit/preview/"

    body = bob_client.post(
        url,
        with_values(
            data,
            {"llm-extra_body__top_p": "3", "error_slots_shown": "err-id_identity-context"},
        ),
        **HTMX,
    ).content.decode()

    assert body.count('class="field-errors" hx-swap-oob="true"') == 2
    assert _slot(body, "err-id_identity-context") == ""
    assert "Top-p: Use a number from 0 to 1." in _slot(body, "err-id_llm-extra_body__top_p")


def test_htmx_header_rows_are_appended_and_removed_without_rendering_any_secret(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = persona_doc()
    doc["layers"]["llm"].update(
        base_url="https://llm.example.com/v1", headers={"X-Key": "hdr-SECRET"}
    )
    persona_id = tavus.put_persona(doc)
    data = with_values(
        _open_editor(bob_client, persona_id),
        {"llm-api_key": "sk-typed-NEW", "llm-headers-value": "hdr-typed-NEW"},
    )

    added = _action(bob_client, persona_id, data, "llm-headers:add")
    removed = _action(bob_client, persona_id, data, "llm-headers:remove:0")

    body = added.content.decode()
    assert body.strip().startswith('<div class="row">') and body.count('class="row"') == 1
    assert 'name="llm-headers-key" value=""' in body and "autofocus" in body
    assert removed.content == b"" and "editor-changed" in removed["HX-Trigger-After-Settle"]
    for text in (body, added.content.decode()):
        assert "SECRET" not in text and "typed-NEW" not in text


def test_htmx_engine_choice_answers_with_the_engine_settings_but_not_the_api_key(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = with_values(_open_editor(bob_client, persona_id), {"tts-api_key": "typed-voice-key"})

    body = _action(
        bob_client, persona_id, data, "tts:engine", **{"tts-tts_engine": "elevenlabs"}
    ).content.decode()

    assert body.startswith('<div id="tts-voice-settings">')
    assert '<details class="group" open><summary>ElevenLabs voice settings' in body
    assert "tts-api_key" not in body and "typed-voice-key" not in body


def test_without_js_an_action_shows_the_whole_page_and_asks_for_typed_secrets_again(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = with_values(_open_editor(bob_client, persona_id), {"llm-api_key": "sk-typed-777"})

    body = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:add"}),
    ).content.decode()

    assert "<html" in body and 'id="llm-tools-0-label"' in body
    assert "sk-typed-777" not in body and "type it again before saving" in body


# -- validation as you type: every problem at once, next to its field, gone when fixed -------------
def _preview(client: Any, persona_id: str, data: Any, **values: str) -> str:
    url = f"/w/acme/personas/{persona_id}/edit/preview/"
    return str(client.post(url, with_values(data, values), **HTMX).content.decode())


def _slot(body: str, slot_id: str) -> str:
    return body.split(f'<div id="{slot_id}" class="field-errors" hx-swap-oob="true">')[1].split(
        "</div>"
    )[0]


def test_the_preview_names_every_problem_at_once_next_to_its_field(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_raven1_openapi"))
    data = with_values(
        _open_editor(bob_client, persona_id),
        {"llm-tools-0-mode": "json"},
    )
    bad_tool = {"type": "function", "function": {"name": "Bad Name", "description": "x"}}

    body = _preview(
        bob_client,
        persona_id,
        data,
        **{
            "llm-extra_body__temperature": "hot",
            "identity-system_prompt": "",
            "llm-tools-0-json": json.dumps(bad_tool),
        },
    )

    assert _slot(body, "err-id_llm-extra_body__temperature") == (
        '<ul class="errorlist"><li>Temperature: Enter a number, like 1.</li></ul>'
    )
    assert "System prompt: Write a system prompt" in _slot(body, "err-id_identity-system_prompt")
    assert "letters, digits and underscores" in _slot(body, "err-llm-tools-0-json")
    summary = body.split('id="problem-summary"')[1].split("</div>")[0]
    assert summary.count("<li><a href=") == 3  # the summary links to each of them
    assert '<a href="#llm-tools-0-json" data-jump>' in body


def test_a_fixed_problem_leaves_an_empty_slot_so_its_message_goes_away(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)

    broken = _preview(bob_client, persona_id, data, **{"llm-extra_body__temperature": "3"})
    fixed = _preview(bob_client, persona_id, data, **{"llm-extra_body__temperature": "0.5"})

    assert "Use a number from 0 to 2" in _slot(broken, "err-id_llm-extra_body__temperature")
    assert _slot(fixed, "err-id_llm-extra_body__temperature") == ""
    assert "Must be fixed before saving" not in fixed and "problem" not in _slot_status(fixed)


def _slot_status(body: str) -> str:
    return body.split('id="action-status"')[1].split("</p>")[0]


def test_a_brand_new_tool_has_no_error_until_typed_into_and_none_once_fixed(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    data = _open_editor(bob_client, persona_id)
    page = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"editor_action": "llm-tools:add"}),
    )
    data = form_data(page.content.decode())

    fresh = _preview(bob_client, persona_id, data)
    unnamed = _preview(bob_client, persona_id, data, **{"llm-tools-1-description": "Books it"})
    named = _preview(
        bob_client,
        persona_id,
        data,
        **{"llm-tools-1-description": "Books it", "llm-tools-1-label": "Book a session"},
    )

    assert "Must be fixed before saving" not in fresh and "No changes yet" in fresh
    assert _slot(unnamed, "err-llm-tools-1-name") == (
        '<ul class="errorlist"><li>Tool name: Give the tool a name.</li></ul>'
    )
    assert _slot(named, "err-llm-tools-1-name") == "" and "book_a_session" in named


def test_the_section_menu_counts_changes_and_problems_per_section(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _open_editor(bob_client, persona_id)

    body = _preview(
        bob_client,
        persona_id,
        data,
        **{"stt-hotwords": "Acme", "identity-context": "New", "llm-extra_body__top_p": "9"},
    )

    menu = body.split('<ul id="editor-sections" class="editor-sections" hx-swap-oob="true">')[1]
    menu = menu.split("</ul>")[0]

    def counts(key: str) -> str:
        item = menu.split(f'data-section="{key}">')[1].split("</li>")[0]
        return " ".join(t for t in ("change", "problem") if f" {t}" in item)

    assert counts("identity") == "change" and counts("stt") == "change"
    assert counts("llm") == "problem" and counts("tts") == ""
    assert "Preview: 2 changes" in _slot_status(body) and "1 problem to fix" in _slot_status(body)


@pytest.mark.parametrize("name", SEED_BODIES)
def test_an_unchanged_persona_opens_without_any_problem_or_warning_about_reading(
    bob_client: Any, workspace: Any, tavus: EmulatorState, name: str
) -> None:
    persona_id = tavus.put_persona(seed(name))

    body = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()

    assert "can't be read" not in body and "Must be fixed before saving" not in body
    assert "No changes yet" in body


def test_a_problem_no_field_shows_is_listed_and_counted_in_its_section(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    doc = persona_doc()
    doc["layers"]["perception"] = {
        "perception_model": "raven-0",
        "perception_tools": [{"type": "function", "function": {"name": "Bad Name"}}],
    }
    persona_id = tavus.put_persona(doc)

    body = _preview(bob_client, persona_id, _open_editor(bob_client, persona_id))

    summary = body.split('id="problem-summary"')[1].split("</div>")[0]
    assert "<li>Perception tools (legacy) &gt; #1 &gt; Name: Tool names may use only" in summary
    menu = body.split('id="editor-sections"')[1].split("</ul>")[0]
    # Two rules broken (not lowercase; a space), both listed and counted under Perception.
    assert "lowercase snake_case" in summary
    assert '2<span class="sr-only"> problems</span>' in menu.split('data-section="perception"')[1]


def test_screen_readers_hear_the_change_count_not_the_whole_preview(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())

    body = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()

    assert '<div class="card" id="preview">' in body  # not a live region: it holds the JSON
    assert 'id="action-status" class="action-status" role="status"' in body


def test_known_choices_say_in_one_line_what_they_are(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())

    body = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()

    assert "Cartesia — " in body  # the voice engine select
    assert "tavus-gpt-oss (recommended) — " in body  # the model suggestions

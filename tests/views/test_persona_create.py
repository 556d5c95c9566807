"""Creating personas: blank, template, duplicate, imported JSON; the live preview; the POST."""

from __future__ import annotations

import json
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from personas_app.editor import drop_markers
from personas_app.persona.payloads import create_payload
from personas_app.persona.redaction import redact, secret_paths_present
from personas_app.persona.templates import TEMPLATES
from tests.builders import persona_doc, seed
from tests.formdata import form_data, with_values

READ_ONLY = {"persona_id", "created_at", "updated_at", "persona_type"}


def _posts(tavus: EmulatorState) -> list[Any]:
    return [r.body for r in tavus.requests if r.method == "POST" and r.path == "/v2/personas"]


def test_template_prefills_the_forms(bob_client: Any, workspace: Any, tavus: EmulatorState) -> None:
    body = bob_client.get("/w/acme/personas/new/?template=interviewer").content.decode()

    assert "Interviewer" in body and "sparrow-1" in body
    assert tavus.requests == []


def test_create_preview_shows_the_exact_payload_without_calling_tavus(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    data = form_data(bob_client.get("/w/acme/personas/new/?template=interviewer").content.decode())

    body = bob_client.post(
        "/w/acme/personas/new/preview/", with_values(data, {"identity-persona_name": "Hiring Bot"})
    ).content.decode()

    assert "&quot;persona_name&quot;: &quot;Hiring Bot&quot;" in body
    assert tavus.requests == []


def test_create_preview_lists_errors_and_warnings(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    data = form_data(bob_client.get("/w/acme/personas/new/").content.decode())

    body = bob_client.post(
        "/w/acme/personas/new/preview/",
        with_values(
            data,
            {
                "identity-system_prompt": "",
                "perception-perception_model": "raven-0",
                "perception-audio_awareness_queries": "Does the user sound upset?",
            },
        ),
    ).content.decode()

    assert "Must be fixed before saving" in body
    assert "Persona check" in body and "raven-1" in body


def test_create_posts_and_opens_the_new_persona(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    data = form_data(bob_client.get("/w/acme/personas/new/?template=interviewer").content.decode())

    response = bob_client.post(
        "/w/acme/personas/new/", with_values(data, {"submit": "create"}), follow=True
    )

    (payload,) = _posts(tavus)
    assert payload == seed("create_interviewer")
    assert response.redirect_chain[-1][0].startswith("/w/acme/personas/p")
    assert "Created “Interviewer” on Tavus." in response.content.decode()


def test_create_leaves_out_empty_values(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    data = form_data(bob_client.get("/w/acme/personas/new/").content.decode())

    bob_client.post(
        "/w/acme/personas/new/",
        with_values(
            data,
            {
                "identity-persona_name": "Tiny",
                "identity-system_prompt": "Be brief.",
                "submit": "create",
            },
        ),
    )

    (payload,) = _posts(tavus)
    assert payload == {
        "persona_name": "Tiny",
        "system_prompt": "Be brief.",
        "pipeline_mode": "full",
    }


def test_create_failure_keeps_what_was_typed(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    data = form_data(bob_client.get("/w/acme/personas/new/").content.decode())
    tavus.fail_next(1, 503)

    response = bob_client.post(
        "/w/acme/personas/new/",
        with_values(
            data,
            {
                "identity-persona_name": "Keep me",
                "identity-system_prompt": "My long prompt",
                "submit": "create",
            },
        ),
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Keep me" in body and "My long prompt" in body and "Nothing you typed was lost" in body


def test_bad_replica_is_explained_with_tavus_words(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    data = form_data(bob_client.get("/w/acme/personas/new/?template=interviewer").content.decode())

    body = bob_client.post(
        "/w/acme/personas/new/",
        with_values(data, {"identity-default_replica_id": "r-does-not-exist", "submit": "create"}),
    ).content.decode()

    assert "Invalid replica_uuid" in body


@pytest.mark.parametrize(
    "name", ["create_life_coach", "create_interviewer", "create_raven1_openapi"]
)
def test_every_seed_imports_shows_and_exports_unchanged_but_for_its_secrets(
    bob_client: Any, workspace: Any, tavus: EmulatorState, name: str
) -> None:
    original = seed(name)
    page = bob_client.post(
        "/w/acme/personas/new/", {"import": "1", "import_json": json.dumps(original)}
    )
    body = page.content.decode()
    assert page.status_code == 200 and "Imported." in body
    held = secret_paths_present(original)
    assert ("held secrets, which the editor never keeps" in body) == bool(held)
    data = form_data(body)

    response = bob_client.post("/w/acme/personas/new/", with_values(data, {"submit": "create"}))
    persona_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    exported = json.loads(bob_client.get(f"/w/acme/personas/{persona_id}/export/").content)

    without_secrets = create_payload(drop_markers(redact(original))[0])
    assert _posts(tavus) == [without_secrets]
    assert {k: v for k, v in exported.items() if k not in READ_ONLY} == without_secrets


def test_import_accepts_the_get_response_shape(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    listed = seed("list_response")
    wrapped = {"data": [listed["data"][0]]}

    body = bob_client.post(
        "/w/acme/personas/new/", {"import": "1", "import_json": json.dumps(wrapped)}
    ).content.decode()

    assert "Imported." in body and "This is a hotword example" in body
    assert "p5317866" not in body.split('id="editor"')[1].split("</form>")[0]


def test_bad_import_json_is_explained_and_kept(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    body = bob_client.post(
        "/w/acme/personas/new/", {"import": "1", "import_json": '{"persona_name": '}
    ).content.decode()

    assert "This is not valid JSON" in body
    assert "{&quot;persona_name&quot;: </textarea>" in body


def test_import_file_upload(bob_client: Any, workspace: Any, tavus: EmulatorState) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "p.json", json.dumps(seed("create_interviewer")).encode(), "application/json"
    )
    body = bob_client.post(
        "/w/acme/personas/new/", {"import": "1", "import_file": upload}
    ).content.decode()

    assert "Imported." in body and "Interviewer" in body


def test_duplicate_copies_everything_but_secrets(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    page = bob_client.get(f"/w/acme/personas/new/?duplicate={persona_id}").content.decode()
    assert "Secret keys were not copied" in page

    bob_client.post("/w/acme/personas/new/", with_values(form_data(page), {"submit": "create"}))

    (payload,) = _posts(tavus)
    assert payload["persona_name"] == "Copy of Life Coach"
    assert "api_key" not in payload["layers"]["llm"] and "api_key" not in payload["layers"]["tts"]
    assert payload["layers"]["perception"] == seed("create_life_coach")["layers"]["perception"]


def test_viewer_cannot_open_create(member_client: Any, workspace: Any) -> None:
    assert member_client("viewer").get("/w/acme/personas/new/").status_code == 403


def test_detail_shows_layers_in_plain_words(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())

    body = bob_client.get(f"/w/acme/personas/{persona_id}/").content.decode()

    assert "Support Agent" in body and "Speech recognition" in body and "Raw JSON" in body
    assert tavus.count(method="GET") == 1


def test_detail_lists_tools_in_plain_words(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))

    body = bob_client.get(f"/w/acme/personas/{persona_id}/").content.decode()

    assert '<strong class="mono">get_current_weather</strong>' in body
    assert '<span class="mono">location</span> <span class="muted">(text, required)</span>' in body
    assert '<span class="mono">unit</span> <span class="muted">(text, optional)</span>' in body


def test_detail_raw_json_reads_as_the_document_and_cannot_open_markup(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    import html
    import re

    prompt = 'Say "hi" & <script>alert(1)</script> then </pre><b>bold</b>'
    persona_id = tavus.put_persona(persona_doc(system_prompt=prompt))

    body = bob_client.get(f"/w/acme/personas/{persona_id}/").content.decode()

    (raw,) = re.findall(r'<pre id="raw-json">(.*?)</pre>', body, re.S)
    assert "<" not in raw and ">" not in raw  # nothing in it is markup
    assert json.loads(html.unescape(raw))["system_prompt"] == prompt  # what the Copy button takes
    assert "&quot;" not in raw  # quotes stay quotes: the page is not padded with entities


def test_detail_of_unknown_persona_says_so(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    body = bob_client.get("/w/acme/personas/pdoesnotexist/").content.decode()
    assert "no longer exists" in body


def test_delete_needs_the_typed_name(bob_client: Any, workspace: Any, tavus: EmulatorState) -> None:
    persona_id = tavus.put_persona(persona_doc())

    wrong = bob_client.post(
        f"/w/acme/personas/{persona_id}/delete/", {"confirm_name": "support agent"}
    )
    assert "name exactly (“Support Agent”) to delete it" in wrong.content.decode()
    assert persona_id in tavus.personas

    right = bob_client.post(
        f"/w/acme/personas/{persona_id}/delete/", {"confirm_name": "Support Agent"}
    )
    assert right.status_code == 302 and persona_id not in tavus.personas


def test_export_is_a_json_attachment(bob_client: Any, workspace: Any, tavus: EmulatorState) -> None:
    persona_id = tavus.put_persona(persona_doc())

    response = bob_client.get(f"/w/acme/personas/{persona_id}/export/")

    assert response["Content-Disposition"] == f'attachment; filename="persona-{persona_id}.json"'
    assert json.loads(response.content)["persona_name"] == "Support Agent"


def test_replica_picker_lists_ready_replicas_and_is_cached(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    first = bob_client.get("/w/acme/pickers/replicas/?current=r90bbd427f71").content.decode()
    bob_client.get("/w/acme/pickers/replicas/?current=r90bbd427f71")

    assert 'value="r90bbd427f71" checked' in first
    assert tavus.count(path_prefix="/v2/replicas") == 1


def test_document_picker_keeps_unknown_ids_checked(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    body = bob_client.get(
        "/w/acme/pickers/documents/?ids=d1234567890,dmissing&tags=product_info"
    ).content.decode()

    assert 'value="d1234567890" checked' in body and 'value="dmissing" checked' in body
    assert 'value="product_info" checked' in body


def test_create_preview_shows_typed_markup_as_text(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    data = form_data(bob_client.get("/w/acme/personas/new/?template=interviewer").content.decode())
    typed = '<b>Tom & Jerry\'s "café"</b> ≈ 5'

    body = bob_client.post(
        "/w/acme/personas/new/preview/", with_values(data, {"identity-context": typed})
    ).content.decode()

    assert "&lt;b&gt;Tom &amp; Jerry&#x27;s \\&quot;café\\&quot;&lt;/b&gt; ≈ 5" in body
    assert "<b>Tom" not in body
    assert body.count('<pre id="payload-json">') == 1 and "payload-slot" not in body


def _clean_start(body: str) -> None:
    assert "can't be read" not in body and "Must be fixed before saving" not in body
    assert '<pre id="payload-json">' in body


@pytest.mark.parametrize("key", [key for key in TEMPLATES if key != "blank"])
def test_every_template_opens_with_its_payload_and_no_problem(
    bob_client: Any, workspace: Any, tavus: EmulatorState, key: str
) -> None:
    _clean_start(bob_client.get(f"/w/acme/personas/new/?template={key}").content.decode())


def test_an_import_and_a_duplicate_open_with_their_payload_and_no_problem(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(seed("create_life_coach"))
    imported = bob_client.post(
        "/w/acme/personas/new/",
        {"import": "1", "import_json": json.dumps(seed("create_interviewer"))},
    ).content.decode()
    duplicate = bob_client.get(f"/w/acme/personas/new/?duplicate={persona_id}").content.decode()

    _clean_start(imported)
    _clean_start(duplicate)


def test_a_blank_persona_says_what_it_still_needs_next_to_the_field(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    body = bob_client.get("/w/acme/personas/new/").content.decode()

    assert "can't be read" not in body
    assert (
        '<a href="#id_identity-system_prompt" data-jump>System prompt</a>: Write a system prompt'
        in body
    )
    slot = body.split('id="err-id_identity-system_prompt"')[1].split("</div>")[0]
    assert "System prompt: Write a system prompt" in slot

"""The editor as an attacker would use it: its hidden state carries no secret and works only on
its own page, so no replay moves a persona's secrets anywhere; nested credentials never show."""

from __future__ import annotations

import copy
from typing import Any

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Role
from tests.builders import make_member, make_user, make_workspace, persona_doc
from tests.formdata import form_data, with_values

SECRETS = ("sk-llm-SECRET-1", "Bearer HEADER-SECRET-2", "tts-SECRET-3", "NESTED-SECRET-4")


def _secret_persona(name: str = "Vault") -> dict[str, Any]:
    doc = persona_doc(persona_name=name)
    doc["layers"]["llm"] = {
        "model": "my-model",
        "base_url": "https://llm.example.com/v1",
        "api_key": SECRETS[0],
        "headers": {"Authorization": SECRETS[1]},
        "extra_body": {"metadata": {"api_key": SECRETS[3]}, "frequency_penalty": 0.2},
    }
    doc["layers"]["tts"] = {"tts_engine": "cartesia", "api_key": SECRETS[2]}
    return doc


def _edit_page(client: Any, persona_id: str, slug: str = "acme") -> str:
    response = client.get(f"/w/{slug}/personas/{persona_id}/edit/")
    assert response.status_code == 200
    return response.content.decode()


def _posted(data: Any) -> dict[str, list[str]]:
    """Form data as the test client posts repeated fields (a MultiValueDict would keep one)."""
    return dict(data.lists())


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_no_secret_reaches_the_edit_page_or_its_state(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(_secret_persona())

    page = _edit_page(bob_client, persona_id)

    _no_secret_in(page)
    assert "frequency_penalty" in page


def test_a_state_from_one_persona_is_refused_on_another_and_nothing_is_sent(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    x = tavus.put_persona(_secret_persona("X"))
    y = tavus.put_persona(persona_doc(persona_name="Y"))
    x_state = form_data(_edit_page(bob_client, x))["base_state"]
    y_form = form_data(_edit_page(bob_client, y))

    response = bob_client.post(
        f"/w/acme/personas/{y}/edit/",
        with_values(y_form, {"base_state": x_state, "submit": "apply"}),
        follow=True,
    )

    assert "belongs to another page" in response.content.decode()
    assert tavus.count("PATCH") == 0
    _no_secret_in(str(tavus.personas[y]))


def test_a_state_replayed_into_another_workspace_moves_no_secret(
    bob_client: Any, bob: Any, workspace: Any, tavus: EmulatorState, tavus_server: Any
) -> None:
    other = make_workspace(
        owner=make_user("olga"), slug="evil", base_url=tavus_server.url, api_key=tavus.api_key
    )
    make_member(other, bob, Role.EDITOR)
    x = tavus.put_persona(_secret_persona("X"))
    x_form = form_data(_edit_page(bob_client, x))
    create_form = form_data(bob_client.get("/w/evil/personas/new/").content.decode())

    response = bob_client.post(
        "/w/evil/personas/new/",
        with_values(create_form, {"base_state": x_form["base_state"], "submit": "create"}),
        follow=True,
    )

    assert "belongs to another page" in response.content.decode()
    assert tavus.count("POST") == 0


def test_a_renamed_secret_row_is_never_filled_from_elsewhere(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    y = tavus.put_persona(_secret_persona("Y") | {"context": "Y's context."})
    tavus.personas[y]["layers"]["llm"]["headers"] = {"Authorization": "Bearer Y-OWN"}
    form = form_data(_edit_page(bob_client, y))
    renamed = copy.copy(form)
    renamed.setlist("llm-headers-key", ["X-Forwarded-Secret"])

    page = bob_client.post(
        f"/w/acme/personas/{y}/edit/", _posted(with_values(renamed, {"submit": "apply"}))
    ).content.decode()

    # A secret moved to another name is not filled from anywhere: it must be typed again.
    assert "type it again" in page
    assert tavus.count("PATCH") == 0
    assert tavus.personas[y]["layers"]["llm"]["headers"] == {"Authorization": "Bearer Y-OWN"}


def test_untouched_secrets_are_kept_when_another_field_is_applied(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(_secret_persona())
    form = form_data(_edit_page(bob_client, persona_id))

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        _posted(with_values(form, {"identity-context": "New context.", "submit": "apply"})),
    )

    assert response.status_code == 302
    llm = tavus.personas[persona_id]["layers"]["llm"]
    assert llm["api_key"] == SECRETS[0] and llm["headers"] == {"Authorization": SECRETS[1]}
    assert llm["extra_body"]["metadata"] == {"api_key": SECRETS[3]}
    assert tavus.personas[persona_id]["layers"]["tts"]["api_key"] == SECRETS[2]
    [patch] = [r.body for r in tavus.requests if r.method == "PATCH"]
    assert patch == [{"op": "replace", "path": "/context", "value": "New context."}]


def test_nested_credentials_never_show_to_any_role(
    member_client: Any, alice_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(_secret_persona())
    viewer = member_client("viewer")
    pages = [
        f"/w/acme/personas/{persona_id}/",
        f"/w/acme/personas/{persona_id}/export/",
        f"/w/acme/personas/{persona_id}/history/",
        "/w/acme/audit/",
        "/w/acme/audit/export/?format=jsonl",
        "/w/acme/audit/export/?format=csv",
    ]

    for client in (viewer, alice_client):
        for url in pages:
            response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert response.status_code == 200, url
            _no_secret_in(body.decode())
    for event in AuditEvent.objects.all():
        _no_secret_in(str([event.before, event.after, event.payload, event.note]))

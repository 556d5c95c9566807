"""Promotion pages: the Counterparts box, linking, "Compare with Production" and "Propose in
Production", as a browser without JavaScript drives them.

"Acme" (staging) talks to the `tavus` emulator, "Production" to `prod_tavus`, each with its own
key; what reached each account is read from its own request log.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, ChangeRequest, PersonaLink, Role, Workspace
from personas_app.services.promotion import persona_link_create
from tests.builders import (
    PROD_LLM_KEY,
    PROD_TTS_KEY,
    STAGING_LLM_KEY,
    STAGING_TTS_KEY,
    make_member,
    make_user,
    make_workspace,
    production_doc,
    staging_doc,
)

ALL_SECRETS = (STAGING_LLM_KEY, STAGING_TTS_KEY, PROD_LLM_KEY, PROD_TTS_KEY)


@pytest.fixture
def here(workspace: Workspace, tavus: EmulatorState) -> str:
    """The persona in "Acme" (alice admin, bob editor)."""
    return tavus.put_persona(staging_doc())


@pytest.fixture
def there(prod_tavus: EmulatorState) -> str:
    return prod_tavus.put_persona(production_doc())


@pytest.fixture
def link(workspace: Workspace, production: Workspace, alice: Any, here: str, there: str) -> Any:
    return persona_link_create(
        workspace=workspace,
        persona_id=here,
        target_workspace=production,
        target_persona_id=there,
        actor=alice,
        replicas={"r90bbd427f71": "rf4e9d9790f0"},
    )


def _compare_url(here: str, link: Any, slug: str = "acme") -> str:
    return f"/w/{slug}/personas/{here}/promote/{link.pk}/"


def _no_secret_in(html: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in html


# -- The Counterparts box ----------------------------------------------------------------------


def test_the_persona_page_lists_its_counterparts_with_a_compare_link(
    alice_client: Client, link: Any, here: str, tavus: EmulatorState
) -> None:
    response = alice_client.get(f"/w/acme/personas/{here}/")
    html = response.content.decode()
    assert "Counterparts" in html
    assert "Compare with Production" in html
    assert _compare_url(here, link) in html
    assert tavus.count() == 1  # the page still makes one upstream request
    _no_secret_in(html)


def test_the_counterpart_sees_the_link_too(alice_client: Client, link: Any, there: str) -> None:
    html = alice_client.get(f"/w/production/personas/{there}/").content.decode()
    assert "Compare with Acme" in html


def test_a_member_of_only_one_side_is_not_told_the_other_workspaces_name(
    link: Any, here: str, workspace: Workspace
) -> None:
    vera = make_user("vera")
    make_member(workspace, vera, Role.VIEWER)
    client = Client()
    client.force_login(vera)
    html = client.get(f"/w/acme/personas/{here}/").content.decode()
    assert "a workspace you are not a member of" in html
    assert "Production" not in html


# -- Linking -----------------------------------------------------------------------------------


def test_the_link_page_offers_the_other_workspaces_personas(
    alice_client: Client, production: Workspace, here: str, there: str
) -> None:
    html = alice_client.get(f"/w/acme/personas/{here}/links/?workspace=production").content.decode()
    assert f'value="{there}"' in html
    assert "The counterpart in Production" in html
    assert "This field is required" not in html


def test_linking_saves_the_link_and_returns_to_the_persona(
    alice_client: Client, production: Workspace, here: str, there: str
) -> None:
    response = alice_client.post(
        f"/w/acme/personas/{here}/links/",
        {
            "workspace": "production",
            "persona_id": there,
            "replicas": "r90bbd427f71 = rf4e9d9790f0",
            "documents": "d1234567890 -> d3579111315",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/personas/{here}/"
    link = PersonaLink.objects.get()
    assert link.mapping == {
        "replicas": {"r90bbd427f71": "rf4e9d9790f0"},
        "documents": {"d1234567890": "d3579111315"},
    }


def test_a_bad_mapping_line_is_explained_next_to_the_field_and_kept(
    alice_client: Client, production: Workspace, here: str, there: str
) -> None:
    response = alice_client.post(
        f"/w/acme/personas/{here}/links/",
        {"workspace": "production", "persona_id": there, "documents": "d1234567890 d999"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Line 1" in html and "is not a pair of ids" in html
    assert "d1234567890 d999" in html  # what was typed stays
    assert not PersonaLink.objects.exists()


def test_an_outsider_cannot_link_to_a_workspace_they_do_not_belong_to(
    charlie: Any,
    workspace: Workspace,
    production: Workspace,
    here: str,
    there: str,
    prod_tavus: EmulatorState,
) -> None:
    make_member(workspace, charlie, Role.EDITOR)
    make_workspace(owner=charlie, base_url="", api_key=None, name="Other", slug="other")
    client = Client()
    client.force_login(charlie)
    page = client.get(f"/w/acme/personas/{here}/links/").content.decode()
    assert "Production" not in page
    response = client.post(
        f"/w/acme/personas/{here}/links/", {"workspace": "production", "persona_id": there}
    )
    assert "Choose one of your other workspaces" in response.content.decode()
    assert not PersonaLink.objects.exists()
    assert prod_tavus.count() == 0


def test_a_viewer_cannot_open_the_link_page(member_client: Any, here: str) -> None:
    assert member_client("viewer").get(f"/w/acme/personas/{here}/links/").status_code == 403


def test_unlinking_from_the_persona_page(alice_client: Client, link: Any, here: str) -> None:
    response = alice_client.post(f"/w/acme/personas/{here}/links/{link.pk}/delete/")
    assert response.status_code == 302
    assert not PersonaLink.objects.exists()


# -- Compare and propose -----------------------------------------------------------------------


def test_compare_shows_the_patch_per_layer_and_which_secrets_are_kept(
    alice_client: Client, link: Any, here: str
) -> None:
    response = alice_client.get(_compare_url(here, link))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Compare with Production" in html
    assert "Voice" in html and "voice-new" in html  # the voice layer's change
    assert "rf4e9d9790f0" in html  # the mapped replica
    assert "JSON Patch that would be proposed" in html
    assert "Production keeps its own: Endpoint API key, Voice provider API key" in html
    assert "Propose in Production" in html
    _no_secret_in(html)


def test_a_link_of_another_persona_is_not_found(alice_client: Client, link: Any) -> None:
    assert alice_client.get(_compare_url("p0000other", link)).status_code == 404


def test_an_upstream_failure_names_the_workspace(
    alice_client: Client, link: Any, here: str, prod_tavus: EmulatorState
) -> None:
    prod_tavus.fail_next(5, 500)
    response = alice_client.get(_compare_url(here, link))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Reading the persona from “Production” failed" in html
    assert "Propose in" not in html


def test_propose_opens_the_change_request_there_and_goes_to_it(
    alice_client: Client, link: Any, here: str, there: str, production: Workspace
) -> None:
    response = alice_client.post(_compare_url(here, link) + "propose/")
    change = ChangeRequest.objects.get()
    assert change.workspace == production and change.persona_id == there
    assert response.status_code == 302
    assert response["Location"] == f"/w/production/reviews/{change.pk}/"
    page = alice_client.get(response["Location"]).content.decode()
    assert "Promote Support Agent from Acme" in page
    _no_secret_in(page)


def test_a_viewer_in_the_other_workspace_is_refused_and_nothing_is_sent_there(
    bob_client: Client,
    bob: Any,
    link: Any,
    here: str,
    production: Workspace,
    prod_tavus: EmulatorState,
) -> None:
    make_member(production, bob, Role.VIEWER)
    before = prod_tavus.count()
    response = bob_client.post(_compare_url(here, link) + "propose/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your role in “Production” is Viewer" in html
    assert prod_tavus.count() == before
    assert not ChangeRequest.objects.exists()
    assert not AuditEvent.objects.filter(
        workspace=production, action="persona.promotion_proposed"
    ).exists()


def test_a_viewer_here_may_compare_but_not_propose(
    member_client: Any, link: Any, here: str, production: Workspace
) -> None:
    client = member_client("viewer", "vic")
    vic = make_member(production, _user("vic"), Role.EDITOR)
    assert vic.role == Role.EDITOR
    html = client.get(_compare_url(here, link)).content.decode()
    assert "Compare with Production" in html and "Propose in Production" not in html
    assert client.post(_compare_url(here, link) + "propose/").status_code == 403


def _user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def test_a_viewer_there_sees_the_comparison_without_the_propose_button(
    bob_client: Client, bob: Any, link: Any, here: str, production: Workspace
) -> None:
    make_member(production, bob, Role.VIEWER)
    html = bob_client.get(_compare_url(here, link)).content.decode()
    assert "JSON Patch that would be proposed" in html
    assert "Propose in Production" not in html
    assert "Proposing needs the Editor role here and in Production" in html


def test_compare_says_which_ids_were_mapped_and_which_were_not(
    alice_client: Client, link: Any, here: str
) -> None:
    html = alice_client.get(_compare_url(here, link)).content.decode()
    assert 'r90bbd427f71</span> becomes <span class="mono">rf4e9d9790f0' in html
    assert "d1234567890</span> has no counterpart in the link" in html


def test_a_hanging_counterpart_account_is_named_and_nothing_is_proposed(
    alice_client: Client, link: Any, here: str, prod_tavus: EmulatorState, settings: Any
) -> None:
    settings.TAVUS_TIMEOUT_READ = 0.3
    prod_tavus.hang_next(4, 0.6)  # the GET and its retries
    response = alice_client.post(_compare_url(here, link) + "propose/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Reading the persona from “Production” failed" in html
    assert "did not answer before the time limit" in html
    assert not ChangeRequest.objects.exists()

"""The persona list: what a member sees, pagination, filters, search, and Tavus failures."""

from __future__ import annotations

from typing import Any

from personas_app.devtools.emulator import EmulatorState
from tests.builders import persona_doc


def test_anonymous_is_sent_to_login(client: Any, workspace: Any) -> None:
    response = client.get("/w/acme/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_outsider_gets_404(charlie_client: Any, workspace: Any) -> None:
    assert charlie_client.get("/w/acme/").status_code == 404


def test_member_sees_the_workspace_personas(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    tavus.put_persona(persona_doc(persona_name="Front Desk"))

    response = bob_client.get("/w/acme/")

    assert response.status_code == 200
    assert "Front Desk" in response.content.decode()


def test_list_makes_one_upstream_request(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    bob_client.get("/w/acme/")
    assert tavus.count(method="GET") == 1


def test_system_filter_shows_tavus_stock_personas(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    tavus.put_persona(persona_doc(persona_name="Mine Only"))

    body = bob_client.get("/w/acme/?type=system").content.decode()

    assert "Mine Only" not in body
    assert tavus.requests[-1].query.get("persona_type") == "system"


def test_pagination_links_to_the_next_page(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    for n in range(25):
        tavus.put_persona(persona_doc(persona_name=f"Agent {n:02d}"))

    first = bob_client.get("/w/acme/").content.decode()
    second = bob_client.get("/w/acme/?type=user&page=2").content.decode()

    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Page 2 of 2" in second


def test_search_by_name(bob_client: Any, workspace: Any, tavus: EmulatorState) -> None:
    tavus.put_persona(persona_doc(persona_name="Front Desk"))
    tavus.put_persona(persona_doc(persona_name="Night Shift"))

    body = bob_client.get("/w/acme/?q=night").content.decode()

    assert "Night Shift" in body and "Front Desk" not in body


def test_htmx_request_gets_only_the_rows(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    response = bob_client.get("/w/acme/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="persona-rows"' in body and "<html" not in body


def test_rejected_key_is_explained_not_a_500(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    tavus.fail_next(1, 401)

    response = bob_client.get("/w/acme/")

    assert response.status_code == 200
    assert "rejected the API key" in response.content.decode()


def test_unreachable_tavus_is_explained(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    tavus.fail_next(5, 503)

    response = bob_client.get("/w/acme/")

    assert response.status_code == 200
    assert "could not be reached" in response.content.decode()


def test_workspace_without_key_shows_call_to_action(alice_client: Any, workspace: Any) -> None:
    workspace.api_keys.all().delete()

    body = alice_client.get("/w/acme/").content.decode()

    assert "Connect this workspace to Tavus" in body
    assert "/w/acme/keys/" in body


def test_update_times_read_as_dates(bob_client: Any, workspace: Any, tavus: EmulatorState) -> None:
    body = bob_client.get("/w/acme/?type=system").content.decode()
    assert ">19 Mar 2025, 10:00 UTC</td>" in body

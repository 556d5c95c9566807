"""Conversation pages: try a persona, its live status, ending calls, the workspace's list, access."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Conversation, Outcome
from personas_app.services.conversations import conversation_start
from tests.builders import persona_doc

DEFAULT_REPLICA = "r90bbd427f71"


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc(persona_name="Front Desk"))


@pytest.fixture
def faceless_persona_id(tavus: EmulatorState) -> str:
    doc = persona_doc(persona_name="No Face")
    del doc["default_replica_id"]
    return tavus.put_persona(doc)


def _try_url(persona_id: str) -> str:
    return f"/w/acme/personas/{persona_id}/try/"


def _posts(tavus: EmulatorState) -> list[Any]:
    return [r for r in tavus.requests if r.method == "POST" and r.path == "/v2/conversations"]


def _start(workspace: Any, persona_id: str, actor: Any, **kwargs: Any) -> Conversation:
    return conversation_start(workspace=workspace, persona_id=persona_id, actor=actor, **kwargs)


# -- Access --------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: Any, workspace: Any, persona_id: str) -> None:
    for url in (_try_url(persona_id), "/w/acme/conversations/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_outsider_gets_404_everywhere(
    charlie_client: Any, workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    conversation = _start(workspace, persona_id, alice)
    cid = conversation.conversation_id

    assert charlie_client.get(_try_url(persona_id)).status_code == 404
    assert charlie_client.post(_try_url(persona_id)).status_code == 404
    assert charlie_client.get("/w/acme/conversations/").status_code == 404
    assert charlie_client.get(f"/w/acme/conversations/{cid}/").status_code == 404
    assert charlie_client.post(f"/w/acme/conversations/{cid}/end/").status_code == 404
    assert charlie_client.post("/w/acme/conversations/end-mine/").status_code == 404
    assert Conversation.objects.get(pk=conversation.pk).is_active


def test_viewer_cannot_start_or_end_conversations(
    member_client: Any, workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    viewer = member_client("viewer")
    conversation = _start(workspace, persona_id, alice)
    before = len(tavus.requests)

    assert viewer.get(_try_url(persona_id)).status_code == 403
    assert viewer.post(_try_url(persona_id)).status_code == 403
    end = viewer.post(f"/w/acme/conversations/{conversation.conversation_id}/end/")
    assert end.status_code == 403
    assert "Viewer" in end.content.decode()
    assert viewer.post("/w/acme/conversations/end-mine/").status_code == 403
    assert len(tavus.requests) == before
    assert Conversation.objects.count() == 1 and Conversation.objects.get().is_active


def test_viewer_sees_the_list_and_status_without_end_buttons(
    member_client: Any, workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    viewer = member_client("viewer")
    conversation = _start(workspace, persona_id, alice)

    listing = viewer.get("/w/acme/conversations/")
    status = viewer.get(f"/w/acme/conversations/{conversation.conversation_id}/")

    assert listing.status_code == 200 and status.status_code == 200
    assert conversation.conversation_url in listing.content.decode()
    for body in (listing.content.decode(), status.content.decode()):
        assert "/end/" not in body and "End all mine" not in body


def test_end_and_start_need_post(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str
) -> None:
    conversation = _start(workspace, persona_id, bob)

    assert (
        bob_client.get(f"/w/acme/conversations/{conversation.conversation_id}/end/").status_code
        == 405
    )
    assert bob_client.get("/w/acme/conversations/end-mine/").status_code == 405


def test_unknown_conversation_is_404(bob_client: Any, workspace: Any) -> None:
    assert bob_client.get("/w/acme/conversations/cnope/").status_code == 404
    assert bob_client.post("/w/acme/conversations/cnope/end/").status_code == 404


def test_another_workspaces_conversation_is_404(
    bob_client: Any,
    workspace: Any,
    alice: Any,
    tavus: EmulatorState,
    tavus_server: Any,
    persona_id: str,
) -> None:
    from tests.builders import make_workspace

    other = make_workspace(
        owner=alice, base_url=tavus_server.url, api_key=tavus.api_key, name="Beta", slug="beta"
    )
    theirs = _start(other, persona_id, alice)

    assert bob_client.get(f"/w/acme/conversations/{theirs.conversation_id}/").status_code == 404


# -- The try form --------------------------------------------------------------------------------


def test_try_form_offers_a_default_name_and_no_picker_when_the_persona_has_a_replica(
    bob_client: Any, workspace: Any, persona_id: str, tavus: EmulatorState
) -> None:
    response = bob_client.get(_try_url(persona_id))

    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="Test of Front Desk by bob"' in body
    assert 'name="replica_id"' not in body
    assert DEFAULT_REPLICA in body
    assert "Test mode (no replica joins, nothing is billed — for checking the setup)" in body
    assert 'name="custom_greeting"' in body
    assert _posts(tavus) == []


def test_try_form_shows_a_replica_picker_when_the_persona_has_no_default(
    bob_client: Any, workspace: Any, faceless_persona_id: str
) -> None:
    body = bob_client.get(_try_url(faceless_persona_id)).content.decode()

    assert 'name="replica_id"' in body
    assert "Carter - Office" in body and "Sales lead (recorded)" in body
    # Only finished replicas can join a call.
    assert "Support lead (training)" not in body and "Founder intro (failed)" not in body


def test_try_form_for_an_unknown_persona_explains_it(bob_client: Any, workspace: Any) -> None:
    response = bob_client.get(_try_url("pdoesnotexist"))

    assert response.status_code == 200
    assert "no longer exists on Tavus" in response.content.decode()


# -- Starting ------------------------------------------------------------------------------------


def test_start_posts_once_records_and_shows_the_status_page(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    response = bob_client.post(
        _try_url(persona_id), {"conversation_name": "Test of Front Desk by bob"}
    )

    posts = _posts(tavus)
    assert len(posts) == 1
    assert posts[0].body["persona_id"] == persona_id
    assert posts[0].body["replica_id"] == DEFAULT_REPLICA
    conversation = Conversation.objects.get()
    assert conversation.started_by == bob and conversation.persona_name == "Front Desk"
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/conversations/{conversation.conversation_id}/"
    event = AuditEvent.objects.get(action="conversation.started")
    assert event.outcome == Outcome.OK and event.actor == bob
    assert event.request_id == response["X-Request-Id"]


def test_try_it_button_post_without_fields_starts_with_the_defaults(
    bob_client: Any, workspace: Any, persona_id: str, tavus: EmulatorState
) -> None:
    response = bob_client.post(_try_url(persona_id), follow=True)

    body = response.content.decode()
    conversation = Conversation.objects.get()
    assert conversation.conversation_name == "Test of Front Desk by bob"
    assert f'href="{conversation.conversation_url}"' in body
    assert 'target="_blank"' in body
    assert "Conversation started" in body
    assert 'hx-trigger="every 5s"' in body


def test_start_with_a_picked_replica_when_the_persona_has_none(
    bob_client: Any, workspace: Any, faceless_persona_id: str, tavus: EmulatorState
) -> None:
    response = bob_client.post(_try_url(faceless_persona_id), {"replica_id": "r79e1c033f"})

    assert response.status_code == 302
    assert _posts(tavus)[0].body["replica_id"] == "r79e1c033f"
    assert Conversation.objects.get().replica_id == "r79e1c033f"


def test_start_without_a_replica_when_one_is_needed_asks_for_it(
    bob_client: Any, workspace: Any, faceless_persona_id: str, tavus: EmulatorState
) -> None:
    response = bob_client.post(
        _try_url(faceless_persona_id),
        {"conversation_name": "My name", "custom_greeting": "Hello there"},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Choose which replica joins the call." in body
    assert 'value="My name"' in body and "Hello there" in body
    assert _posts(tavus) == []


def test_start_in_test_mode_shows_it_ended_at_once(
    bob_client: Any, workspace: Any, persona_id: str, tavus: EmulatorState
) -> None:
    response = bob_client.post(_try_url(persona_id), {"test_mode": "on"}, follow=True)

    body = response.content.decode()
    assert _posts(tavus)[0].body["test_mode"] is True
    conversation = Conversation.objects.get()
    assert conversation.test_mode and not conversation.is_active
    assert "test-mode call" in body
    assert 'hx-trigger="every 5s"' not in body


def test_htmx_start_redirects_the_browser_to_the_status_page(
    bob_client: Any, workspace: Any, persona_id: str, tavus: EmulatorState
) -> None:
    response = bob_client.post(_try_url(persona_id), {}, HTTP_HX_REQUEST="true")

    conversation = Conversation.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/w/acme/conversations/{conversation.conversation_id}/"


def test_htmx_bad_input_gets_the_form_fragment(
    bob_client: Any, workspace: Any, faceless_persona_id: str
) -> None:
    response = bob_client.post(
        _try_url(faceless_persona_id), {"conversation_name": "Kept"}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="try-form"' in body and "<html" not in body
    assert 'value="Kept"' in body


def test_concurrency_cap_is_explained_with_a_link_and_keeps_the_form(
    bob_client: Any, workspace: Any, alice: Any, persona_id: str, tavus: EmulatorState
) -> None:
    tavus.max_concurrent_conversations = 1
    _start(workspace, persona_id, alice)

    response = bob_client.post(
        _try_url(persona_id),
        {
            "conversation_name": "Objection drill",
            "custom_greeting": "Hi, ready when you are",
            "conversational_context": "I run a bakery",
        },
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert (
        "Tavus allows only a limited number of conversations at once on this account, "
        "and that many are running." in " ".join(body.split())
    )
    assert 'href="/w/acme/conversations/"' in body
    assert "Conversations page" in body and "try again" in body
    assert 'value="Objection drill"' in body
    assert "Hi, ready when you are" in body and "I run a bakery" in body
    assert Conversation.objects.count() == 1
    failed = AuditEvent.objects.get(action="conversation.started", outcome=Outcome.ERROR)
    assert failed.actor_name == "bob" and failed.http_status == 400
    # Nothing else broke: the list still works and the first conversation can still be ended.
    assert bob_client.get("/w/acme/conversations/").status_code == 200


def test_unreachable_tavus_on_start_is_a_message_not_a_500(
    bob_client: Any, workspace: Any, persona_id: str, tavus: EmulatorState
) -> None:
    tavus.fail_next(1, 503, methods={"POST"})

    response = bob_client.post(_try_url(persona_id), {"conversation_name": "Still here"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "could not be reached" in body and 'value="Still here"' in body
    assert AuditEvent.objects.get(action="conversation.started").outcome == Outcome.ERROR


def test_workspace_without_a_key_explains_it(
    bob_client: Any, workspace: Any, persona_id: str
) -> None:
    workspace.api_keys.all().delete()

    response = bob_client.post(_try_url(persona_id), {"conversation_name": "Kept anyway"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "no active Tavus API key" in body and 'value="Kept anyway"' in body


# -- Status --------------------------------------------------------------------------------------


def test_status_page_works_without_htmx_and_shows_the_join_link(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str
) -> None:
    conversation = _start(workspace, persona_id, bob)

    body = bob_client.get(f"/w/acme/conversations/{conversation.conversation_id}/").content.decode()

    assert "<html" in body and "Running" in body
    assert f'href="{conversation.conversation_url}"' in body and 'target="_blank"' in body
    assert f'action="/w/acme/conversations/{conversation.conversation_id}/end/"' in body
    assert "hx-confirm=" in body


def test_status_fragment_polls_while_running(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    conversation = _start(workspace, persona_id, bob)

    response = bob_client.get(
        f"/w/acme/conversations/{conversation.conversation_id}/", HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert "<html" not in body and 'id="conversation-status"' in body
    assert 'hx-trigger="every 5s"' in body
    assert tavus.requests[-1].path == f"/v2/conversations/{conversation.conversation_id}"


def test_status_stops_polling_once_tavus_says_ended(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    conversation = _start(workspace, persona_id, bob)
    tavus.conversations[conversation.conversation_id]["status"] = "ended"

    body = bob_client.get(
        f"/w/acme/conversations/{conversation.conversation_id}/", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "Ended" in body and "hx-trigger" not in body
    assert not Conversation.objects.get(pk=conversation.pk).is_active


def test_status_check_failure_keeps_the_last_known_status(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    conversation = _start(workspace, persona_id, bob)
    tavus.fail_next(5, 503)

    response = bob_client.get(
        f"/w/acme/conversations/{conversation.conversation_id}/", HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "could not be checked" in body and 'hx-trigger="every 5s"' in body


# -- Ending --------------------------------------------------------------------------------------


def test_end_posts_to_tavus_marks_it_ended_and_audits(
    bob_client: Any, workspace: Any, alice: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    conversation = _start(workspace, persona_id, alice)
    cid = conversation.conversation_id

    response = bob_client.post(f"/w/acme/conversations/{cid}/end/")

    assert response.status_code == 302 and response["Location"] == f"/w/acme/conversations/{cid}/"
    assert tavus.count(method="POST", path_prefix=f"/v2/conversations/{cid}/end") == 1
    row = Conversation.objects.get(pk=conversation.pk)
    assert not row.is_active and row.ended_by_name == "bob"
    event = AuditEvent.objects.get(action="conversation.ended")
    assert event.actor == bob and event.outcome == Outcome.OK


def test_htmx_end_returns_the_status_fragment_without_polling(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str
) -> None:
    conversation = _start(workspace, persona_id, bob)

    response = bob_client.post(
        f"/w/acme/conversations/{conversation.conversation_id}/end/", HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "Ended" in body and "hx-trigger" not in body


def test_ending_twice_is_fine(bob_client: Any, workspace: Any, bob: Any, persona_id: str) -> None:
    conversation = _start(workspace, persona_id, bob)
    url = f"/w/acme/conversations/{conversation.conversation_id}/end/"
    bob_client.post(url)

    response = bob_client.post(url, follow=True)

    assert response.status_code == 200
    assert "had already ended" in response.content.decode()
    assert AuditEvent.objects.filter(action="conversation.ended").count() == 1


def test_failed_end_is_explained_and_audited(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    conversation = _start(workspace, persona_id, bob)
    tavus.fail_next(1, 503, methods={"POST"})

    response = bob_client.post(
        f"/w/acme/conversations/{conversation.conversation_id}/end/", HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200 and "could not be ended" in body
    assert Conversation.objects.get(pk=conversation.pk).is_active
    assert AuditEvent.objects.get(action="conversation.ended").outcome == Outcome.ERROR


def test_end_from_the_list_returns_the_list_fragment(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str
) -> None:
    conversation = _start(workspace, persona_id, bob, conversation_name="Row to end")

    response = bob_client.post(
        f"/w/acme/conversations/{conversation.conversation_id}/end/",
        {"next": "list"},
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert 'id="conversations"' in body and "<html" not in body
    assert "Ended “Row to end”" in body
    assert "No conversations are running" in body


def test_end_all_mine_ends_only_mine(
    bob_client: Any, workspace: Any, alice: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    mine = [_start(workspace, persona_id, bob) for _ in range(2)]
    alices = _start(workspace, persona_id, alice)

    response = bob_client.post("/w/acme/conversations/end-mine/", follow=True)

    assert "Ended 2 conversations you started." in response.content.decode()
    assert all(not Conversation.objects.get(pk=c.pk).is_active for c in mine)
    assert Conversation.objects.get(pk=alices.pk).is_active
    assert (
        tavus.count(method="POST", path_prefix=f"/v2/conversations/{alices.conversation_id}") == 0
    )


# -- The list ------------------------------------------------------------------------------------


def test_list_shows_running_conversations_with_who_when_and_the_link(
    bob_client: Any, workspace: Any, alice: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    running = _start(workspace, persona_id, alice, conversation_name="Pricing drill")
    Conversation.objects.filter(pk=running.pk).update(
        started_at=timezone.now() - timedelta(minutes=12)
    )
    _start(workspace, persona_id, bob, test_mode=True, conversation_name="Setup check")

    response = bob_client.get("/w/acme/conversations/")

    body = response.content.decode()
    running_part, _, ended_part = body.partition("Recently ended")
    assert "Pricing drill" in running_part and "alice" in running_part
    assert "Front Desk" in running_part and running.conversation_url in running_part
    assert "12\xa0minutes" in running_part
    assert f'action="/w/acme/conversations/{running.conversation_id}/end/"' in running_part
    assert "Setup check" in ended_part and "Setup check" not in running_part
    assert "End all mine" not in body  # bob has nothing running


def test_list_offers_end_all_mine_when_i_have_running_ones(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str
) -> None:
    _start(workspace, persona_id, bob)

    body = bob_client.get("/w/acme/conversations/").content.decode()

    assert "End all mine (1)" in body and 'action="/w/acme/conversations/end-mine/"' in body


def test_list_checks_with_tavus_in_one_request_and_moves_ended_ones_down(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    gone = _start(workspace, persona_id, bob, conversation_name="Left the call")
    tavus.conversations[gone.conversation_id]["status"] = "ended"
    before = len(tavus.requests)

    body = bob_client.get("/w/acme/conversations/").content.decode()

    assert len(tavus.requests) == before + 1
    running_part, _, ended_part = body.partition("Recently ended")
    assert "Left the call" in ended_part and "Left the call" not in running_part


def test_list_shows_only_the_last_twenty_ended(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str
) -> None:
    for n in range(22):
        _start(workspace, persona_id, bob, test_mode=True, conversation_name=f"Check {n:02d}")

    body = bob_client.get("/w/acme/conversations/").content.decode()

    assert "Check 21" in body and "Check 02" in body
    assert "Check 01" not in body and "Check 00" not in body


def test_list_still_renders_when_tavus_is_down(
    bob_client: Any, workspace: Any, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    running = _start(workspace, persona_id, bob, conversation_name="Still listed")
    tavus.fail_next(5, 503)

    response = bob_client.get("/w/acme/conversations/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "could not be checked" in body and "Still listed" in body
    assert Conversation.objects.get(pk=running.pk).is_active


def test_list_htmx_request_gets_the_fragment(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    body = bob_client.get("/w/acme/conversations/", HTTP_HX_REQUEST="true").content.decode()

    assert 'id="conversations"' in body and "<html" not in body


# -- The "Try it" include for the persona page -----------------------------------------------------


def _render_try_button(workspace: Any, role: str, persona: dict[str, Any]) -> str:
    request = RequestFactory().get("/")
    return render_to_string(
        "conversations/_try_button.html",
        {
            "current_workspace": workspace,
            "current_membership": SimpleNamespace(role=role),
            "persona": persona,
        },
        request=request,
    )


def test_try_button_renders_nothing_for_viewers(workspace: Any) -> None:
    html = _render_try_button(workspace, "viewer", {"persona_id": "p1"})

    assert html.strip() == ""


def test_try_button_posts_to_the_try_url_for_editors(workspace: Any) -> None:
    html = _render_try_button(workspace, "editor", {"persona_id": "p1", "default_replica_id": "r1"})

    assert 'method="post"' in html and 'action="/w/acme/personas/p1/try/"' in html
    assert "csrfmiddlewaretoken" in html and "Try it" in html


def test_try_button_links_to_the_form_when_a_replica_must_be_chosen(workspace: Any) -> None:
    html = _render_try_button(workspace, "editor", {"persona_id": "p1", "default_replica_id": None})

    assert 'href="/w/acme/personas/p1/try/"' in html and 'method="post"' not in html

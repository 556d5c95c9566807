"""Live persona pages: one Tavus call each, after access is decided, showing what Tavus holds now.

An edit made in the Tavus portal between two views, a deleted persona or a Tavus outage is never
hidden behind an earlier page; a request that is refused (anonymous, outsider, a role without the
right, a member just removed, a revoked key) sends nothing to Tavus.
"""

from __future__ import annotations

import html
from typing import Any

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent
from tests.builders import persona_doc
from tests.formdata import form_data

DETAIL = "/w/acme/personas/{}/"
EDIT = "/w/acme/personas/{}/edit/"


def _page(client: Any, url: str) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, html.unescape(response.content.decode())


def test_detail_shows_an_edit_made_in_the_portal_between_two_views(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    _, first = _page(bob_client, DETAIL.format(persona_id))
    _, again = _page(bob_client, DETAIL.format(persona_id))  # prepared from the remembered answer
    assert "Front desk" in first and "Front desk" in again

    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/persona_name", "value": "Lobby"}])
    status, body = _page(bob_client, DETAIL.format(persona_id))

    assert status == 200
    assert "Lobby" in body and "Front desk" not in body
    assert "Changed outside the dashboard" in body
    assert AuditEvent.objects.filter(
        persona_id=persona_id, action="persona.changed_outside"
    ).exists()


def test_edit_page_starts_from_the_version_tavus_has_now(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    assert form_data(bob_client.get(EDIT.format(persona_id)).content.decode())["stt-hotwords"] == (
        "Acme, trowel"
    )

    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/layers/stt/hotwords", "value": "Acme, rake"}]
    )
    data = form_data(bob_client.get(EDIT.format(persona_id)).content.decode())

    assert data["stt-hotwords"] == "Acme, rake"
    # The editor's starting point is the new version too: an untouched preview changes nothing.
    preview = bob_client.post(f"/w/acme/personas/{persona_id}/edit/preview/", data)
    assert "No changes yet" in preview.content.decode()


def test_a_persona_deleted_between_views_is_reported_not_shown(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Short-lived"))
    _page(bob_client, DETAIL.format(persona_id))
    del tavus.personas[persona_id]

    for url in (DETAIL, EDIT):
        status, body = _page(bob_client, url.format(persona_id))
        assert status == 200
        assert "no longer exists on Tavus" in body
        assert "Short-lived" not in body


def test_tavus_outage_after_a_view_shows_the_error_not_the_remembered_page(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Remembered"))
    _page(bob_client, DETAIL.format(persona_id))
    tavus.fail_next(10, 500)

    status, body = _page(bob_client, DETAIL.format(persona_id))

    assert status == 200
    assert "Tavus" in body and "Remembered" not in body


def test_list_shows_a_persona_created_in_the_portal_since_the_last_view(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    tavus.put_persona(persona_doc(persona_name="First one"))
    _, before = _page(bob_client, "/w/acme/")
    tavus.put_persona(persona_doc(persona_name="Made in the portal"))

    _, after = _page(bob_client, "/w/acme/")

    assert "Made in the portal" not in before
    assert "Made in the portal" in after and "First one" in after


def test_a_page_seen_again_still_makes_exactly_one_upstream_request(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    for url in (DETAIL, EDIT, DETAIL, EDIT):
        before = tavus.count()
        bob_client.get(url.format(persona_id))
        assert tavus.count() - before == 1


def test_a_failed_read_says_what_went_wrong_without_talk_of_lost_work(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    tavus.fail_next(10, 500)

    for url in ("/w/acme/", DETAIL.format(persona_id), EDIT.format(persona_id)):
        _, body = _page(bob_client, url)
        assert "Something went wrong with Tavus." in body
        assert "did not accept" not in body and "Nothing you typed was lost" not in body


def test_a_rotated_key_is_the_one_the_next_page_sends(
    bob_client: Any, alice_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    assert "Front desk" in _page(bob_client, DETAIL.format(persona_id))[1]  # the key decrypted
    key = workspace.api_keys.get()

    alice_client.post(f"/w/acme/keys/{key.pk}/rotate/", {"secret": "tvs-not-the-emulators-1"})
    _, refused = _page(bob_client, DETAIL.format(persona_id))
    alice_client.post(f"/w/acme/keys/{key.pk}/rotate/", {"secret": tavus.api_key})
    _, accepted = _page(bob_client, DETAIL.format(persona_id))

    assert "Front desk" not in refused and "API key" in refused
    assert "Front desk" in accepted


def test_requests_that_will_be_refused_send_nothing_to_tavus(
    client: Any,
    charlie_client: Any,
    member_client: Any,
    workspace: Any,
    tavus: EmulatorState,
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    viewer = member_client("viewer")
    before = tavus.count()

    assert client.get(DETAIL.format(persona_id)).status_code == 302  # anonymous: to login
    assert charlie_client.get(DETAIL.format(persona_id)).status_code == 404  # an outsider
    assert viewer.get(EDIT.format(persona_id)).status_code == 403  # no right to edit
    bad_host = viewer.get(DETAIL.format(persona_id), HTTP_HOST="evil.example")
    assert bad_host.status_code == 400

    assert tavus.count() == before


def test_a_search_and_a_change_requests_editor_read_as_their_views_do(
    alice_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    tavus.put_persona(persona_doc(persona_name="Front desk"))

    status, body = _page(alice_client, "/w/acme/?q=front")
    before = tavus.count()
    edit_cr = alice_client.get(EDIT.format("p-none") + "?cr=999")

    assert status == 200 and "Front desk" in body
    assert edit_cr.status_code == 200 and tavus.count() - before == 1  # the view's own read


def test_an_unreachable_or_slow_tavus_is_explained_on_every_live_page(
    bob_client: Any, workspace: Any, tavus: EmulatorState, settings: Any, monkeypatch: Any
) -> None:
    import socket

    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    pages = ("/w/acme/", DETAIL.format(persona_id), EDIT.format(persona_id))
    for url in pages:
        _page(bob_client, url)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    served_by = workspace.tavus_base_url
    workspace.tavus_base_url = f"http://127.0.0.1:{closed}"
    workspace.save()

    for url in pages:
        status, body = _page(bob_client, url)
        assert status == 200 and "the connection was refused" in body
        assert "Front desk" not in body

    workspace.tavus_base_url = served_by
    workspace.save()
    settings.TAVUS_TIMEOUT_READ = 0.2
    tavus.hang_next(4 * len(pages), 0.4)  # each GET and its three retries
    for url in pages:  # sent, then no answer in time
        status, body = _page(bob_client, url)
        assert status == 200 and "before the time limit" in body


# -- Access is decided before anything is sent ----------------------------------------------------


def test_a_member_removed_after_a_page_sees_nothing_of_the_next(
    bob_client: Any, bob: Any, workspace: Any, tavus: EmulatorState
) -> None:
    from personas_app.models import Membership

    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    assert "Front desk" in _page(bob_client, DETAIL.format(persona_id))[1]
    Membership.objects.filter(workspace=workspace, user=bob).delete()
    before = tavus.count()

    for url in (DETAIL, EDIT, "/w/acme/"):
        status, body = _page(bob_client, url.format(persona_id))
        assert status == 404 and "Front desk" not in body
    assert tavus.count() == before


def test_a_lowered_role_and_a_logout_take_effect_on_the_very_next_page(
    client: Any, member_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    from personas_app.models import Membership

    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    editor = member_client("editor", "erin")
    assert "Front desk" in _page(editor, EDIT.format(persona_id))[1]

    Membership.objects.filter(workspace=workspace, user__username="erin").update(role="viewer")
    before = tavus.count()
    assert editor.get(EDIT.format(persona_id)).status_code == 403
    assert tavus.count() == before
    assert "Front desk" in _page(editor, DETAIL.format(persona_id))[1]  # a viewer may look

    client.cookies = editor.cookies  # the same browser, logged out in another tab
    editor.post("/accounts/logout/")
    before = tavus.count()
    response = client.get(DETAIL.format(persona_id))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert tavus.count() == before


def test_a_revoked_key_stops_the_very_next_page(
    bob_client: Any, alice_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    pages = ("/w/acme/", DETAIL.format(persona_id), EDIT.format(persona_id))
    for url in pages:
        assert "Front desk" in _page(bob_client, url)[1]
    key = workspace.api_keys.get()

    assert alice_client.post(f"/w/acme/keys/{key.pk}/revoke/").status_code == 302
    before = tavus.count()
    for url in pages:
        _, body = _page(bob_client, url)
        assert "no active Tavus API key" in body and "Front desk" not in body
    assert tavus.count() == before

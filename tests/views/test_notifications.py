"""Notification pages: the bell and its unread count, the list (newest first, mark read), the
preferences form, and following a persona from its page (then hearing of an outside change)."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import (
    Channel,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationSettings,
    PersonaFollow,
    Role,
    Workspace,
)
from personas_app.selectors import notifications_unread_count
from tests.builders import make_member, make_user, persona_doc

HTMX = {"HTTP_HX_REQUEST": "true"}


def _notify(user: Any, workspace: Workspace, title: str, **extra: Any) -> Notification:
    fields: dict[str, Any] = {
        "recipient": user,
        "workspace": workspace,
        "kind": NotificationKind.COMMENT,
        "title": title,
        "link": "/w/acme/reviews/1/",
        **extra,
    }
    return Notification.objects.create(**fields)


def _page(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


# -- The bell -------------------------------------------------------------------------------------


def test_the_bell_says_how_many_are_unread(
    bob_client: Any, bob: Any, alice: Any, workspace: Workspace
) -> None:
    for title in ("One", "Two", "Three"):
        _notify(bob, workspace, title)
    _notify(bob, workspace, "Read already", read_at="2026-01-01T00:00:00Z")
    _notify(bob, workspace, "Email only", in_app=False)
    _notify(alice, workspace, "Someone else's")

    body = _page(bob_client, "/w/acme/reviews/")

    assert 'aria-label="Notifications, 3 unread"' in body
    assert 'href="/notifications/"' in body


def test_the_bell_shows_no_number_when_nothing_is_unread(
    bob_client: Any, workspace: Workspace
) -> None:
    body = _page(bob_client, "/w/acme/reviews/")

    assert 'aria-label="Notifications, 0 unread"' in body
    assert 'class="badge" aria-hidden="true"' not in body


def test_the_unread_count_is_one_query_on_the_partial_index(bob: Any, workspace: Workspace) -> None:
    _notify(bob, workspace, "One")
    with CaptureQueriesContext(connection) as queries:
        assert notifications_unread_count(user=bob) == 1
    [query] = queries.captured_queries
    sql = query["sql"].upper()
    assert "COUNT(" in sql and "READ_AT" in sql and "IN_APP" in sql


def test_fragments_do_not_count_notifications(bob_client: Any, workspace: Workspace) -> None:
    with CaptureQueriesContext(connection) as queries:
        bob_client.get("/w/acme/reviews/?tab=open", **HTMX)
    assert not any("personas_app_notification" in q["sql"] for q in queries.captured_queries)


# -- The list -------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: Any, db: None) -> None:
    for url in ("/notifications/", "/notifications/preferences/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_list_shows_mine_newest_first_each_linking_to_its_page(
    bob_client: Any, bob: Any, alice: Any, workspace: Workspace
) -> None:
    older = _notify(bob, workspace, "Older one", link="/w/acme/reviews/7/")
    newer = _notify(bob, workspace, "Newer one", link="/w/acme/personas/p1/history/#event-9")
    _notify(bob, workspace, "Only by email", in_app=False)
    _notify(alice, workspace, "Alice's own")

    body = _page(bob_client, "/notifications/")

    assert body.index("Newer one") < body.index("Older one")
    assert f'<a href="/notifications/{older.pk}/">Older one</a>' in body
    assert f'<a href="/notifications/{newer.pk}/">Newer one</a>' in body
    assert "Only by email" not in body and "Alice&#x27;s own" not in body
    assert "2 unread." in body


def test_opening_a_notification_goes_to_its_page_and_marks_it_read(
    bob_client: Any, bob: Any, alice: Any, workspace: Workspace
) -> None:
    note = _notify(bob, workspace, "A review", link="/w/acme/reviews/7/")
    alices = _notify(alice, workspace, "Alice's own", link="/w/acme/reviews/8/")

    response = bob_client.get(f"/notifications/{note.pk}/")

    assert response.status_code == 302 and response["Location"] == "/w/acme/reviews/7/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert 'aria-label="Notifications, 0 unread"' in _page(bob_client, "/notifications/")
    assert bob_client.get(f"/notifications/{alices.pk}/").status_code == 404
    alices.refresh_from_db()
    assert alices.read_at is None


def test_the_list_pages_back_through_older_notifications(
    bob_client: Any, bob: Any, workspace: Workspace
) -> None:
    made = [_notify(bob, workspace, f"Note {i:03}") for i in range(55)]

    first = _page(bob_client, "/notifications/")
    older = _page(bob_client, f"/notifications/?before={made[5].pk}")

    assert "Note 054" in first and "Note 005" in first and "Note 004" not in first
    assert f"?before={made[5].pk}" in first
    assert "Note 004" in older and "Note 000" in older and "Note 005" not in older


def test_the_list_answers_htmx_with_its_fragment(
    bob_client: Any, bob: Any, workspace: Workspace
) -> None:
    _notify(bob, workspace, "One")

    body = _page(bob_client, "/notifications/?before=999999")

    fragment = bob_client.get("/notifications/", **HTMX).content.decode()
    assert "<html" in body
    assert "<html" not in fragment and 'id="notification-list"' in fragment and "One" in fragment


def test_marking_one_read_lowers_the_count(bob_client: Any, bob: Any, workspace: Workspace) -> None:
    first = _notify(bob, workspace, "One")
    _notify(bob, workspace, "Two")

    response = bob_client.post(f"/notifications/{first.pk}/read/")

    assert response.status_code == 302 and response["Location"] == "/notifications/"
    first.refresh_from_db()
    assert first.read_at is not None
    assert notifications_unread_count(user=bob) == 1
    assert 'aria-label="Notifications, 1 unread"' in _page(bob_client, "/notifications/")


def test_nobody_can_mark_someone_elses_notification(
    bob_client: Any, alice: Any, workspace: Workspace
) -> None:
    theirs = _notify(alice, workspace, "Alice's")

    assert bob_client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert bob_client.get(f"/notifications/{theirs.pk}/read/").status_code == 405
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(bob_client: Any, bob: Any, alice: Any, workspace: Workspace) -> None:
    _notify(bob, workspace, "One")
    _notify(bob, workspace, "Two")
    _notify(alice, workspace, "Alice's")

    response = bob_client.post("/notifications/read-all/", follow=True)

    assert "Marked 2 notifications read." in response.content.decode()
    assert notifications_unread_count(user=bob) == 0
    assert notifications_unread_count(user=alice) == 1


# -- Preferences ----------------------------------------------------------------------------------


def _checked(body: str, kind: str) -> str:
    """The channel checked for a kind on the preferences page."""
    for index, channel in enumerate(Channel.values):
        if f'value="{channel}" id="id_{kind}_{index}" required checked>' in body:
            return channel
    raise AssertionError(f"nothing checked for {kind}")


def test_preferences_show_the_defaults(
    bob_client: Any, workspace: Workspace, settings: Any
) -> None:
    settings.NOTIFICATIONS_DIGEST_HOUR = 8
    body = _page(bob_client, "/notifications/preferences/")

    assert {kind: _checked(body, kind) for kind in NotificationKind.values} == {
        "review_requested": "both",
        "comment": "in_app",
        "approved": "in_app",
        "changes_requested": "in_app",
        "applied": "in_app",
        "apply_failed": "both",
        "persona_changed_outside": "in_app",
    }
    for kind in NotificationKind:
        assert f"<legend>{html.escape(kind.label)}</legend>" in body
    digest = 'name="daily_digest" aria-describedby="id_daily_digest_helptext" id="id_daily_digest"'
    assert f"{digest}>" in body and 'id="id_daily_digest_helptext"' in body
    assert "It comes every day at 8:00 (UTC time)" in body


def test_saving_preferences_keeps_each_choice(bob_client: Any, bob: Any, db: None) -> None:
    data = {kind: Channel.IN_APP for kind in NotificationKind.values}
    data[NotificationKind.APPLY_FAILED] = Channel.EMAIL
    data[NotificationKind.COMMENT] = Channel.OFF
    data["daily_digest"] = "on"

    response = bob_client.post("/notifications/preferences/", data, follow=True)

    assert "Saved your notification preferences." in response.content.decode()
    chosen = dict(NotificationPreference.objects.filter(user=bob).values_list("kind", "channel"))
    assert chosen[NotificationKind.APPLY_FAILED] == Channel.EMAIL
    assert chosen[NotificationKind.COMMENT] == Channel.OFF
    assert NotificationSettings.objects.get(user=bob).daily_digest is True
    page = response.content.decode()
    assert _checked(page, NotificationKind.COMMENT) == Channel.OFF
    assert _checked(page, NotificationKind.APPLY_FAILED) == Channel.EMAIL
    assert 'id="id_daily_digest" checked>' in page


def test_a_bad_choice_is_shown_next_to_its_field_and_the_rest_is_kept(
    bob_client: Any, bob: Any, db: None
) -> None:
    data = {kind: Channel.EMAIL for kind in NotificationKind.values}
    data[NotificationKind.APPROVED] = "carrier-pigeon"

    response = bob_client.post("/notifications/preferences/", data)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in body and 'id="id_approved-error"' in body
    assert NotificationPreference.objects.filter(user=bob).count() == 0
    # What was chosen stays chosen.
    assert _checked(body, NotificationKind.COMMENT) == Channel.EMAIL
    assert _checked(body, NotificationKind.APPLY_FAILED) == Channel.EMAIL


def test_the_page_warns_when_there_is_no_email_address(db: None, client: Any) -> None:
    user = make_user("noemail")
    user.email = ""  # type: ignore[attr-defined]
    user.save()
    client.force_login(user)

    assert "no email can reach you" in _page(client, "/notifications/preferences/")


# -- Following a persona --------------------------------------------------------------------------


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc())


def test_follow_and_unfollow_from_the_persona_page(
    bob_client: Any, bob: Any, workspace: Workspace, persona_id: str
) -> None:
    url = f"/w/acme/personas/{persona_id}/"
    assert ">Follow</button>" in _page(bob_client, url)

    response = bob_client.post(f"{url}follow/", {"follow": "1"}, follow=True)

    body = response.content.decode()
    assert "You follow this persona" in body
    assert "Unfollow</button>" in body
    assert PersonaFollow.objects.filter(user=bob, persona_id=persona_id).exists()

    bob_client.post(f"{url}follow/", {"follow": "0"})
    assert not PersonaFollow.objects.filter(user=bob, persona_id=persona_id).exists()
    assert ">Follow</button>" in _page(bob_client, url)


def test_a_viewer_may_follow_and_htmx_gets_the_button_back(
    workspace: Workspace, persona_id: str, client: Any
) -> None:
    vera = make_user("vera")
    make_member(workspace, vera, Role.VIEWER)
    client.force_login(vera)

    response = client.post(f"/w/acme/personas/{persona_id}/follow/", {"follow": "1"}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="follow-form"' in body and "Unfollow" in body
    assert PersonaFollow.objects.filter(user=vera, persona_id=persona_id).exists()


def test_an_outsider_cannot_follow(charlie_client: Any, workspace: Workspace) -> None:
    response = charlie_client.post("/w/acme/personas/p1/follow/", {"follow": "1"})

    assert response.status_code == 404
    assert not PersonaFollow.objects.exists()


def test_a_change_in_the_tavus_portal_reaches_followers_when_the_dashboard_next_loads_it(
    bob_client: Any,
    alice_client: Any,
    bob: Any,
    alice: Any,
    workspace: Workspace,
    persona_id: str,
    tavus: EmulatorState,
    django_capture_on_commit_callbacks: Any,
) -> None:
    url = f"/w/acme/personas/{persona_id}/"
    _page(alice_client, url)  # the dashboard knows this version
    bob_client.post(f"{url}follow/", {"follow": "1"})
    # Someone edits it in the Tavus portal (straight in the emulator).
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "Changed"}])

    with django_capture_on_commit_callbacks(execute=True):
        _page(alice_client, url)

    [note] = Notification.objects.filter(recipient=bob)
    assert note.kind == NotificationKind.PERSONA_CHANGED_OUTSIDE
    assert note.title == "“Support Agent” was changed outside the dashboard"
    assert note.link.startswith(f"/w/acme/personas/{persona_id}/history/#event-")
    assert not Notification.objects.filter(recipient=alice).exists()  # alice does not follow
    body = _page(bob_client, "/notifications/")
    assert f'href="/notifications/{note.pk}/"' in body
    assert bob_client.get(f"/notifications/{note.pk}/")["Location"] == note.link
    assert 'aria-label="Notifications, 1 unread"' in body

"""Workspace admin pages: API keys, members and settings, with and without htmx.

alice is acme's admin, bob an editor, charlie an outsider. The workspace's active key is the
emulator's; Tavus is the emulator on a loopback port.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.test import Client

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ApiKey, AuditEvent, Membership, Role, Workspace
from personas_app.services.workspaces import api_key_add, api_key_revoke
from tests.builders import make_member, make_user, make_workspace

NEW_SECRET = "tvs-new-secret-ABCD-9876"
HX = {"HTTP_HX_REQUEST": "true"}


def _body(response: Any) -> str:
    if response.streaming:  # exports stream
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def backup(workspace: Workspace, alice: Any) -> ApiKey:
    """A second, not active key of acme."""
    return api_key_add(workspace=workspace, label="backup", secret=NEW_SECRET, actor=alice)


# -- Access --------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["keys", "members", "settings"])
def test_anonymous_is_sent_to_login(client: Client, workspace: Workspace, page: str) -> None:
    response = client.get(f"/w/acme/{page}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("page", ["keys", "members", "settings"])
def test_outsider_gets_404(charlie_client: Client, workspace: Workspace, page: str) -> None:
    assert charlie_client.get(f"/w/acme/{page}/").status_code == 404


@pytest.mark.parametrize("page", ["keys", "members", "settings"])
def test_editor_gets_403_with_a_plain_message(
    bob_client: Client, workspace: Workspace, page: str
) -> None:
    response = bob_client.get(f"/w/acme/{page}/")
    assert response.status_code == 403
    assert "Only workspace admins can manage members, API keys and settings." in _body(response)


def test_viewer_cannot_add_a_key(member_client: Any, workspace: Workspace) -> None:
    viewer = member_client(Role.VIEWER)
    response = viewer.post("/w/acme/keys/add/", {"label": "x", "secret": NEW_SECRET})
    assert response.status_code == 403
    assert not workspace.api_keys.filter(label="x").exists()


def test_admin_navigation_shows_admin_links_and_editor_navigation_does_not(
    alice_client: Client, bob_client: Client, workspace: Workspace
) -> None:
    assert "API keys" in _body(alice_client.get("/w/acme/keys/"))
    assert "API keys" not in _body(bob_client.get("/w/acme/"))


def test_switcher_lists_the_users_workspaces_by_name_and_no_others(
    bob_client: Client, workspace: Workspace, alice: Any, bob: Any
) -> None:
    beta = make_workspace(owner=alice, base_url="", api_key=None, name="Beta team", slug="beta")
    make_workspace(owner=alice, base_url="", api_key=None, name="Alpha secret", slug="alpha")
    Membership.objects.create(workspace=beta, user=bob, role=Role.VIEWER)

    page = _body(bob_client.get("/w/acme/audit/"))
    switcher = page[page.index('<details class="switcher">') :]
    switcher = switcher[: switcher.index("</details>")]

    assert switcher.index('href="/w/acme/">Acme<') < switcher.index('href="/w/beta/">Beta team<')
    assert "Alpha secret" not in page


def test_key_of_another_workspace_is_404(
    alice_client: Client, workspace: Workspace, alice: Any
) -> None:
    other = make_workspace(owner=alice, base_url="", api_key="other-key-1234567", slug="other")
    foreign = other.api_keys.get()
    for action in ("test", "rotate", "activate", "revoke"):
        response = alice_client.post(f"/w/acme/keys/{foreign.pk}/{action}/", {"secret": NEW_SECRET})
        assert response.status_code == 404, action
    foreign.refresh_from_db()
    assert foreign.last4 == "4567" and foreign.is_active


# -- API keys: list and add -----------------------------------------------------------------


def test_key_list_shows_last_four_who_and_when_but_never_the_secret(
    alice_client: Client, workspace: Workspace, tavus: EmulatorState
) -> None:
    body = _body(alice_client.get("/w/acme/keys/"))
    assert "default" in body
    assert f"…{tavus.api_key[-4:]}" in body
    assert "Added by alice" in body
    assert "Active" in body
    assert tavus.api_key not in body


def test_workspace_without_keys_makes_adding_the_first_one_obvious(
    alice_client: Client, workspace: Workspace
) -> None:
    workspace.api_keys.all().delete()

    body = _body(alice_client.get("/w/acme/keys/"))

    assert "Connect this workspace to Tavus" in body
    assert 'action="/w/acme/keys/add/"' in body


def test_workspace_with_only_revoked_keys_says_no_key_is_active(
    alice_client: Client, workspace: Workspace, alice: Any
) -> None:
    api_key_revoke(workspace=workspace, key=workspace.api_keys.get(), actor=alice)

    body = _body(alice_client.get("/w/acme/keys/"))

    assert "No key is active" in body
    assert "Revoked" in body


def test_add_key_without_js_redirects_with_a_message(
    alice_client: Client, workspace: Workspace
) -> None:
    response = alice_client.post(
        "/w/acme/keys/add/", {"label": "backup", "secret": NEW_SECRET}, follow=True
    )

    assert response.redirect_chain == [("/w/acme/keys/", 302)]
    assert "Saved the key “backup” (…9876)." in _messages(response)
    key = workspace.api_keys.get(label="backup")
    assert key.last4 == "9876" and not key.is_active
    assert NEW_SECRET not in _body(response)


def test_add_key_can_make_it_the_active_key(alice_client: Client, workspace: Workspace) -> None:
    alice_client.post(
        "/w/acme/keys/add/", {"label": "backup", "secret": NEW_SECRET, "activate": "on"}
    )
    assert workspace.api_keys.get(is_active=True).label == "backup"


def test_first_key_of_a_workspace_becomes_active(
    alice_client: Client, workspace: Workspace
) -> None:
    workspace.api_keys.all().delete()
    alice_client.post("/w/acme/keys/add/", {"label": "first", "secret": NEW_SECRET})
    assert workspace.api_keys.get().is_active


def test_add_key_with_htmx_returns_the_keys_area_and_messages(
    alice_client: Client, workspace: Workspace
) -> None:
    response = alice_client.post(
        "/w/acme/keys/add/", {"label": "backup", "secret": NEW_SECRET}, **HX
    )

    body = _body(response)
    assert response.status_code == 200
    assert 'id="keys-area"' in body and "<html" not in body
    assert "…9876" in body
    assert 'hx-swap-oob="true"' in body and "Saved the key" in body
    assert NEW_SECRET not in body


def test_bad_key_keeps_the_name_but_never_renders_the_secret(
    alice_client: Client, workspace: Workspace
) -> None:
    typed = "short 12"
    for extra in ({}, HX):
        response = alice_client.post(
            "/w/acme/keys/add/", {"label": "staging", "secret": typed}, **extra
        )
        body = _body(response)
        assert response.status_code == 200
        assert 'value="staging"' in body
        assert "no spaces" in body
        assert typed not in body
    assert not workspace.api_keys.filter(label="staging").exists()


def test_too_short_key_is_explained_next_to_the_field(
    alice_client: Client, workspace: Workspace
) -> None:
    body = _body(alice_client.post("/w/acme/keys/add/", {"label": "s", "secret": "abc"}))
    assert "too short" in body
    assert 'value="abc"' not in body


def test_duplicate_key_name_is_explained_and_the_secret_is_not_shown(
    alice_client: Client, workspace: Workspace
) -> None:
    response = alice_client.post("/w/acme/keys/add/", {"label": "default", "secret": NEW_SECRET})

    body = _body(response)
    assert response.status_code == 200
    assert "A key named “default” already exists. Rotate it instead." in body
    assert NEW_SECRET not in body


def test_key_add_answers_only_post(alice_client: Client, workspace: Workspace) -> None:
    assert alice_client.get("/w/acme/keys/add/").status_code == 405


# -- API keys: test connection ------------------------------------------------------------


def test_test_connection_with_htmx_says_it_works(
    alice_client: Client, workspace: Workspace, tavus: EmulatorState
) -> None:
    key = workspace.api_keys.get()

    response = alice_client.post(f"/w/acme/keys/{key.pk}/test/", **HX)

    body = _body(response)
    assert f'id="test-result-{key.pk}"' in body and "<html" not in body
    assert "Works" in body
    assert tavus.count(method="GET", path_prefix="/v2/personas") == 1
    assert tavus.requests[-1].query.get("limit") == "1"


def test_test_connection_without_js_redirects_with_the_outcome(
    alice_client: Client, workspace: Workspace
) -> None:
    key = workspace.api_keys.get()

    response = alice_client.post(f"/w/acme/keys/{key.pk}/test/", follow=True)

    assert response.redirect_chain == [("/w/acme/keys/", 302)]
    assert any("Works" in m for m in _messages(response))


def test_test_connection_reports_a_rejected_key(
    alice_client: Client, workspace: Workspace, backup: ApiKey
) -> None:
    body = _body(alice_client.post(f"/w/acme/keys/{backup.pk}/test/", **HX))
    assert "Key rejected" in body


def test_test_connection_reports_unreachable_tavus(
    alice_client: Client, workspace: Workspace
) -> None:
    workspace.tavus_base_url = f"http://127.0.0.1:{_closed_port()}"
    workspace.save()
    key = workspace.api_keys.get()

    body = _body(alice_client.post(f"/w/acme/keys/{key.pk}/test/", **HX))

    assert "Tavus could not be reached at http://127.0.0.1:" in body


def test_test_connection_reports_rate_limiting(
    alice_client: Client, workspace: Workspace, tavus: EmulatorState
) -> None:
    tavus.fail_next(5, 429, retry_after=0.05)
    key = workspace.api_keys.get()

    body = _body(alice_client.post(f"/w/acme/keys/{key.pk}/test/", **HX))

    assert "Rate limited" in body


# -- API keys: rotate, activate, revoke ---------------------------------------------------


def test_rotate_with_htmx_returns_the_row_with_the_new_last_four(
    alice_client: Client, workspace: Workspace, tavus: EmulatorState
) -> None:
    key = workspace.api_keys.get()

    response = alice_client.post(f"/w/acme/keys/{key.pk}/rotate/", {"secret": NEW_SECRET}, **HX)

    body = _body(response)
    assert f'id="key-{key.pk}"' in body and "<html" not in body
    assert "…9876" in body and "rotated" in body
    assert NEW_SECRET not in body
    key.refresh_from_db()
    assert key.last4 == "9876" and key.is_active and key.rotated_at is not None


def test_rotate_without_js_redirects_with_a_message(
    alice_client: Client, workspace: Workspace
) -> None:
    key = workspace.api_keys.get()
    response = alice_client.post(
        f"/w/acme/keys/{key.pk}/rotate/", {"secret": NEW_SECRET}, follow=True
    )
    assert "Rotated “default”: it now ends in …9876." in _messages(response)


def test_rotate_with_a_bad_secret_explains_and_keeps_the_old_one(
    alice_client: Client, workspace: Workspace, tavus: EmulatorState
) -> None:
    key = workspace.api_keys.get()
    for extra in ({}, HX):
        response = alice_client.post(f"/w/acme/keys/{key.pk}/rotate/", {"secret": "tiny"}, **extra)
        assert response.status_code == 200
        assert "too short" in _body(response)
        assert 'value="tiny"' not in _body(response)
    key.refresh_from_db()
    assert key.last4 == tavus.api_key[-4:]


def test_activate_makes_exactly_one_key_active(
    alice_client: Client, workspace: Workspace, backup: ApiKey
) -> None:
    response = alice_client.post(f"/w/acme/keys/{backup.pk}/activate/", **HX)

    assert 'id="key-table"' in _body(response)
    assert list(workspace.api_keys.filter(is_active=True)) == [backup]


def test_revoke_without_js_asks_for_confirmation_first(
    alice_client: Client, workspace: Workspace
) -> None:
    key = workspace.api_keys.get()

    page = alice_client.get(f"/w/acme/keys/{key.pk}/revoke/")

    assert page.status_code == 200
    assert "Revoke the key “default”?" in _body(page)
    assert f'action="/w/acme/keys/{key.pk}/revoke/"' in _body(page)
    key.refresh_from_db()
    assert not key.is_revoked


def test_revoke_deletes_the_secret_and_warns_when_it_was_active(
    alice_client: Client, workspace: Workspace
) -> None:
    key = workspace.api_keys.get()

    response = alice_client.post(f"/w/acme/keys/{key.pk}/revoke/", follow=True)

    assert "No key is active now. Activate another key or add a new one." in _messages(response)
    key.refresh_from_db()
    assert key.is_revoked and not key.is_active


def test_revoke_link_asks_with_hx_confirm_and_has_a_real_href(
    alice_client: Client, workspace: Workspace
) -> None:
    key = workspace.api_keys.get()
    body = _body(alice_client.get("/w/acme/keys/"))
    assert f'href="/w/acme/keys/{key.pk}/revoke/"' in body
    assert "hx-confirm=" in body


def test_activating_a_revoked_key_is_refused_with_a_message(
    alice_client: Client, workspace: Workspace, backup: ApiKey, alice: Any
) -> None:
    api_key_revoke(workspace=workspace, key=backup, actor=alice)

    response = alice_client.post(f"/w/acme/keys/{backup.pk}/activate/", follow=True)

    assert response.status_code == 200
    assert any("cannot be activated" in m for m in _messages(response))


def test_revoking_a_revoked_key_again_says_so(
    alice_client: Client, workspace: Workspace, backup: ApiKey, alice: Any
) -> None:
    api_key_revoke(workspace=workspace, key=backup, actor=alice)

    response = alice_client.post(f"/w/acme/keys/{backup.pk}/revoke/", **HX)

    assert "The key “backup” is already revoked." in _body(response)
    assert AuditEvent.objects.filter(action="key.revoked").count() == 1


# -- The secret never reaches a page ------------------------------------------------------


def test_no_page_of_the_area_or_the_persona_list_shows_a_key(
    alice_client: Client, workspace: Workspace, backup: ApiKey, tavus: EmulatorState
) -> None:
    secrets = [tavus.api_key, NEW_SECRET]
    keys = list(workspace.api_keys.all())
    pages = [
        alice_client.get("/w/acme/"),
        alice_client.get("/w/acme/keys/"),
        alice_client.get("/w/acme/members/"),
        alice_client.get("/w/acme/settings/"),
        alice_client.get("/w/acme/audit/"),
        alice_client.get("/w/acme/audit/export/"),
        *[alice_client.get(f"/w/acme/keys/{k.pk}/revoke/") for k in keys],
        *[alice_client.post(f"/w/acme/keys/{k.pk}/test/", **HX) for k in keys],
        *[alice_client.post(f"/w/acme/keys/{k.pk}/test/", follow=True) for k in keys],
        alice_client.post("/w/acme/keys/add/", {"label": "x", "secret": tavus.api_key}, **HX),
        alice_client.post("/w/acme/keys/add/", {"label": "y", "secret": "bad key!"}, **HX),
        alice_client.post(f"/w/acme/keys/{backup.pk}/rotate/", {"secret": NEW_SECRET}, **HX),
        alice_client.post(f"/w/acme/keys/{backup.pk}/activate/", follow=True),
    ]
    for response in pages:
        body = _body(response)
        for secret in secrets:
            assert secret not in body, response.request["PATH_INFO"]


def test_admin_change_page_of_a_key_shows_no_secret(
    workspace: Workspace, tavus: EmulatorState
) -> None:
    root = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    key = workspace.api_keys.get()

    change = client.get(f"/admin/personas_app/apikey/{key.pk}/change/")
    listing = client.get("/admin/personas_app/apikey/")

    assert change.status_code == 200 and listing.status_code == 200
    for response in (change, listing):
        body = _body(response)
        assert tavus.api_key not in body
        assert key.secret_sealed not in body
    assert key.last4 in _body(change)


# -- Members ------------------------------------------------------------------------------


def test_member_list_shows_members_and_roles(alice_client: Client, workspace: Workspace) -> None:
    body = _body(alice_client.get("/w/acme/members/"))
    assert "alice" in body and "bob" in body and "(you)" in body
    assert 'action="/w/acme/members/add/"' in body


def test_invite_by_username(alice_client: Client, workspace: Workspace, charlie: Any) -> None:
    response = alice_client.post(
        "/w/acme/members/add/", {"username_or_email": "charlie", "role": "viewer"}, follow=True
    )
    assert "Added charlie as Viewer." in _messages(response)
    assert Membership.objects.get(workspace=workspace, user=charlie).role == Role.VIEWER
    assert AuditEvent.objects.filter(action="member.added", target="charlie").exists()


def test_invite_by_email(alice_client: Client, workspace: Workspace, charlie: Any) -> None:
    alice_client.post(
        "/w/acme/members/add/", {"username_or_email": "Charlie@Example.com", "role": "reviewer"}
    )
    assert Membership.objects.get(workspace=workspace, user=charlie).role == Role.REVIEWER


def test_invite_with_htmx_returns_the_members_area(
    alice_client: Client, workspace: Workspace, charlie: Any
) -> None:
    response = alice_client.post(
        "/w/acme/members/add/", {"username_or_email": "charlie", "role": "editor"}, **HX
    )
    body = _body(response)
    assert 'id="members-area"' in body and "<html" not in body
    assert "charlie" in body and "Added charlie as Editor." in body


def test_invite_of_an_unknown_user_is_explained_next_to_the_field(
    alice_client: Client, workspace: Workspace
) -> None:
    for extra in ({}, HX):
        response = alice_client.post(
            "/w/acme/members/add/", {"username_or_email": "nobody", "role": "editor"}, **extra
        )
        body = _body(response)
        assert response.status_code == 200
        assert "No user is called “nobody”. They need an account first." in body
        assert 'value="nobody"' in body


def test_inviting_an_existing_member_is_explained(
    alice_client: Client, workspace: Workspace
) -> None:
    response = alice_client.post(
        "/w/acme/members/add/", {"username_or_email": "bob", "role": "viewer"}
    )
    assert "bob is already a member (editor)." in _body(response)
    assert Membership.objects.get(workspace=workspace, user__username="bob").role == Role.EDITOR


def test_invite_with_an_unknown_role_is_refused(
    alice_client: Client, workspace: Workspace, charlie: Any
) -> None:
    response = alice_client.post(
        "/w/acme/members/add/", {"username_or_email": "charlie", "role": "owner"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in _body(response)
    assert not Membership.objects.filter(workspace=workspace, user=charlie).exists()


def test_change_role(alice_client: Client, workspace: Workspace) -> None:
    bob_membership = Membership.objects.get(workspace=workspace, user__username="bob")

    response = alice_client.post(
        f"/w/acme/members/{bob_membership.pk}/role/", {"role": "reviewer"}, follow=True
    )

    assert "bob is now Reviewer." in _messages(response)
    bob_membership.refresh_from_db()
    assert bob_membership.role == Role.REVIEWER
    assert AuditEvent.objects.get(action="member.role_changed").note == "editor → reviewer"


def test_choosing_the_same_role_changes_nothing(alice_client: Client, workspace: Workspace) -> None:
    bob_membership = Membership.objects.get(workspace=workspace, user__username="bob")

    response = alice_client.post(
        f"/w/acme/members/{bob_membership.pk}/role/", {"role": "editor"}, follow=True
    )

    assert "bob is already Editor." in _messages(response)
    assert not AuditEvent.objects.filter(action="member.role_changed").exists()


def test_change_role_with_htmx_returns_the_member_table(
    alice_client: Client, workspace: Workspace
) -> None:
    bob_membership = Membership.objects.get(workspace=workspace, user__username="bob")
    response = alice_client.post(
        f"/w/acme/members/{bob_membership.pk}/role/", {"role": "viewer"}, **HX
    )
    assert 'id="member-table"' in _body(response) and "<html" not in _body(response)


def test_remove_member_asks_first_then_removes(alice_client: Client, workspace: Workspace) -> None:
    bob_membership = Membership.objects.get(workspace=workspace, user__username="bob")

    confirm = alice_client.get(f"/w/acme/members/{bob_membership.pk}/remove/")
    assert "Remove bob?" in _body(confirm)
    assert Membership.objects.filter(pk=bob_membership.pk).exists()

    response = alice_client.post(f"/w/acme/members/{bob_membership.pk}/remove/", follow=True)

    assert "Removed bob from the workspace." in _messages(response)
    assert not Membership.objects.filter(pk=bob_membership.pk).exists()
    assert AuditEvent.objects.filter(action="member.removed", target="bob").exists()


def test_last_admin_cannot_be_demoted_and_gets_a_message_not_a_500(
    alice_client: Client, workspace: Workspace
) -> None:
    mine = Membership.objects.get(workspace=workspace, user__username="alice")
    for extra in ({}, HX):
        response = alice_client.post(
            f"/w/acme/members/{mine.pk}/role/", {"role": "editor"}, follow=True, **extra
        )
        assert response.status_code == 200
        assert "A workspace must keep at least one admin." in _body(response)
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN


def test_last_admin_cannot_be_removed_and_gets_a_message_not_a_500(
    alice_client: Client, workspace: Workspace
) -> None:
    mine = Membership.objects.get(workspace=workspace, user__username="alice")

    response = alice_client.post(f"/w/acme/members/{mine.pk}/remove/", follow=True)

    assert response.status_code == 200
    assert "A workspace must keep at least one admin." in _body(response)
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_admin_who_demotes_themselves_is_sent_to_the_personas(
    alice_client: Client, workspace: Workspace
) -> None:
    Membership.objects.filter(workspace=workspace, user__username="bob").update(role=Role.ADMIN)
    mine = Membership.objects.get(workspace=workspace, user__username="alice")

    response = alice_client.post(f"/w/acme/members/{mine.pk}/role/", {"role": "editor"})

    assert response.status_code == 302 and response["Location"] == "/w/acme/"


def test_admin_who_demotes_themselves_with_htmx_gets_a_full_page_redirect(
    alice_client: Client, workspace: Workspace
) -> None:
    Membership.objects.filter(workspace=workspace, user__username="bob").update(role=Role.ADMIN)
    mine = Membership.objects.get(workspace=workspace, user__username="alice")

    response = alice_client.post(f"/w/acme/members/{mine.pk}/role/", {"role": "viewer"}, **HX)

    assert response["HX-Redirect"] == "/w/acme/"


def test_admin_who_leaves_is_sent_home(alice_client: Client, workspace: Workspace) -> None:
    Membership.objects.filter(workspace=workspace, user__username="bob").update(role=Role.ADMIN)
    mine = Membership.objects.get(workspace=workspace, user__username="alice")

    response = alice_client.post(f"/w/acme/members/{mine.pk}/remove/")

    assert response.status_code == 302 and response["Location"] == "/"
    assert not Membership.objects.filter(pk=mine.pk).exists()


def test_member_of_another_workspace_is_404(
    alice_client: Client, workspace: Workspace, charlie: Any
) -> None:
    other = make_workspace(owner=charlie, base_url="", api_key=None, slug="other")
    theirs = other.memberships.get()
    assert alice_client.post(f"/w/acme/members/{theirs.pk}/remove/").status_code == 404
    assert (
        alice_client.post(f"/w/acme/members/{theirs.pk}/role/", {"role": "viewer"}).status_code
        == 404
    )
    assert Membership.objects.filter(pk=theirs.pk).exists()


# -- Settings -----------------------------------------------------------------------------


def test_settings_page_shows_the_default_address_as_placeholder(
    alice_client: Client, workspace: Workspace, settings: Any
) -> None:
    workspace.tavus_base_url = ""
    workspace.save()
    body = _body(alice_client.get("/w/acme/settings/"))
    assert f'placeholder="{settings.TAVUS_API_BASE_URL}"' in body
    assert 'value="Acme"' in body


def _settings(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Acme",
        "tavus_base_url": "",
        "approvals_required": "1",
        "conversation_max_minutes": "30",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_saving_settings_audits_what_changed(
    alice_client: Client, workspace: Workspace, settings: Any
) -> None:
    settings.TAVUS_ALLOWED_BASE_URLS = ["https://tavusapi.com", "https://proxy.example.com"]
    make_member(workspace, make_user("rita"), Role.REVIEWER)  # a second member who can approve
    response = alice_client.post(
        "/w/acme/settings/",
        _settings(
            name="Acme Studio",
            requires_approval="on",
            approvals_required="2",
            tavus_base_url="https://proxy.example.com/",
        ),
        follow=True,
    )

    assert response.redirect_chain == [("/w/acme/settings/", 302)]
    workspace.refresh_from_db()
    assert workspace.name == "Acme Studio"
    assert workspace.requires_approval and workspace.approvals_required == 2
    assert workspace.tavus_base_url == "https://proxy.example.com"
    event = AuditEvent.objects.get(action="workspace.settings_changed")
    assert event.actor_name == "alice"
    assert "name: “Acme” → “Acme Studio”" in event.note
    assert "changes need approval: off → on" in event.note
    assert "approvals needed: 1 → 2" in event.note
    assert "conversation" not in event.note
    assert any(m.startswith("Saved:") for m in _messages(response))


def test_saving_unchanged_settings_writes_no_audit(
    alice_client: Client, workspace: Workspace
) -> None:
    alice_client.post("/w/acme/settings/", _settings(tavus_base_url=workspace.tavus_base_url))
    assert not AuditEvent.objects.filter(action="workspace.settings_changed").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tavus_base_url", "not a url", "Type a full web address"),
        ("tavus_base_url", "ftp://tavus.example.com", "must start with https://"),
        ("approvals_required", "0", "At least one approval is needed."),
        ("conversation_max_minutes", "0", "greater than or equal to 1"),
        ("name", "", "A workspace needs a name."),
    ],
)
def test_bad_settings_are_explained_and_what_was_typed_is_kept(
    alice_client: Client, workspace: Workspace, field: str, value: str, message: str
) -> None:
    typed_name = "" if field == "name" else "Typed Name"
    for extra in ({}, HX):
        data = {**_settings(name=typed_name), field: value}
        response = alice_client.post("/w/acme/settings/", data, **extra)
        body = _body(response)
        assert response.status_code == 200
        assert message in body
        if typed_name:
            assert f'value="{typed_name}"' in body
    workspace.refresh_from_db()
    assert workspace.name == "Acme"


def test_settings_with_htmx_reloads_the_page_after_saving(
    alice_client: Client, workspace: Workspace
) -> None:
    response = alice_client.post("/w/acme/settings/", _settings(name="Renamed"), **HX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/w/acme/settings/"


def test_settings_with_htmx_and_bad_input_returns_the_form_fragment(
    alice_client: Client, workspace: Workspace
) -> None:
    response = alice_client.post("/w/acme/settings/", _settings(approvals_required="0"), **HX)
    body = _body(response)
    assert 'id="settings-form"' in body and "<html" not in body


def test_approvals_needed_cannot_exceed_the_members_who_can_give_them(
    alice_client: Client, workspace: Workspace
) -> None:
    form = _settings(requires_approval="on", approvals_required="2")

    body = _body(alice_client.post("/w/acme/settings/", form))

    assert "Only 1 member(s) can approve changes" in body
    workspace.refresh_from_db()
    assert not workspace.requires_approval


def test_a_role_change_that_would_leave_too_few_approvers_is_refused(
    alice_client: Client, workspace: Workspace
) -> None:
    rita = make_member(workspace, make_user("rita"), Role.REVIEWER)
    workspace.requires_approval, workspace.approvals_required = True, 2
    workspace.save()

    response = alice_client.post(
        f"/w/acme/members/{rita.pk}/role/", {"role": "editor"}, follow=True
    )

    assert "Lower “Approvals needed” in the settings first" in _body(response)
    rita.refresh_from_db()
    assert rita.role == Role.REVIEWER


def test_changing_a_role_asks_for_confirmation_first(
    alice_client: Client, workspace: Workspace
) -> None:
    body = _body(alice_client.get("/w/acme/members/"))

    assert 'hx-confirm="Change the role of bob?' in body
    assert 'hx-trigger="change' not in body  # picking a role alone changes nothing

"""Single sign-on with OpenID Connect, against the in-test provider (tests/oidc_provider.py).

The browser's trip is followed by hand: the test client asks Persona Studio, requests asks the
provider (real HTTP on a loopback port), and the provider's redirect comes back to the test client.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from dashboard.settings import parse_group_roles
from personas_app.models import AuditEvent, Membership, MembershipSource, Role, Workspace
from personas_app.services.workspaces import member_change_role
from tests.builders import PASSWORD, make_member, make_workspace
from tests.oidc_provider import (
    CLIENT_ID,
    ProviderState,
    RunningProvider,
    configure,
    start_provider,
)

BACKEND = "personas_app.sso.SingleSignOnBackend"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def provider() -> Iterator[RunningProvider]:
    running = start_provider()
    yield running
    running.stop()


@pytest.fixture
def idp(settings: Any, provider: RunningProvider, db: None) -> ProviderState:
    """Single sign-on set up against the provider (GROUP_ROLES maps staging-editors,
    prod-admins and prod-viewers); it signs in dana@example.com, in no group, unless told."""
    configure(settings, provider)
    provider.state.sign_in_as("dana@example.com", groups=[])
    return provider.state


@pytest.fixture
def staging(alice: Any) -> Workspace:
    return make_workspace(owner=alice, base_url="", api_key=None, name="Staging", slug="staging")


@pytest.fixture
def production(alice: Any) -> Workspace:
    return make_workspace(
        owner=alice, base_url="", api_key=None, name="Production", slug="production"
    )


def _to_provider(client: Client, next_page: str = "") -> str:
    """Press "Sign in with …": the address of the provider's answer (the callback URL)."""
    start = client.get("/oidc/authenticate/", {"next": next_page} if next_page else {})
    assert start.status_code == 302, start.content
    answer = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def _sign_in(client: Client) -> Any:
    return client.get(_to_provider(client), follow=True)


def _signed_in_as(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    if user_id is None:
        return None
    return str(get_user_model().objects.get(pk=user_id).get_username())


def _role(workspace: Workspace, username: str) -> str | None:
    membership = Membership.objects.filter(workspace=workspace, user__username=username).first()
    return membership.role if membership else None


def test_the_login_page_offers_the_provider_only_when_single_sign_on_is_set_up(
    db: None, settings: Any
) -> None:
    assert "Sign in with" not in Client().get("/accounts/login/").content.decode()

    settings.OIDC_ISSUER = "https://idp.example.com"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_PROVIDER_NAME = "Okta"
    body = Client().get("/accounts/login/").content.decode()

    assert "Sign in with Okta" in body
    assert 'href="/oidc/authenticate/"' in body


def test_signing_in_with_the_provider_is_not_found_when_it_is_not_set_up(db: None) -> None:
    assert Client().get("/oidc/authenticate/").status_code == 404
    assert Client().get("/oidc/callback/?code=x&state=y").status_code == 404


def test_the_first_sign_in_creates_the_user_and_lands_on_the_home_page(
    idp: ProviderState,
) -> None:
    idp.sign_in_as("dana@example.com", given_name="Dana", family_name="Reyes")
    client = Client()

    response = _sign_in(client)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    assert _signed_in_as(client) == "dana"
    dana = get_user_model().objects.get(username="dana")
    assert (dana.email, dana.first_name, dana.last_name) == ("dana@example.com", "Dana", "Reyes")
    assert not dana.has_usable_password()


def test_signing_in_from_a_page_that_asked_for_login_goes_back_to_it(
    idp: ProviderState, production: Workspace
) -> None:
    idp.sign_in_as("dana@example.com", groups=["prod-viewers"])
    client = Client()
    login_page = client.get("/w/production/audit/", follow=True).content.decode()
    assert 'href="/oidc/authenticate/?next=/w/production/audit/"' in login_page

    response = client.get(_to_provider(client, "/w/production/audit/"), follow=True)

    assert response.redirect_chain[-1][0] == "/w/production/audit/"
    assert response.status_code == 200


def test_an_existing_account_with_the_same_email_is_the_one_signed_in(
    idp: ProviderState, bob: Any
) -> None:
    idp.sign_in_as("Bob@Example.com", preferred_username="robert")
    client = Client()

    _sign_in(client)

    assert _signed_in_as(client) == "bob"
    assert get_user_model().objects.filter(email__iexact="bob@example.com").count() == 1


def test_a_new_user_whose_username_is_taken_gets_another(idp: ProviderState, bob: Any) -> None:
    idp.sign_in_as("bob@elsewhere.example", preferred_username="bob")
    client = Client()

    _sign_in(client)

    assert _signed_in_as(client) == "bob-2"


def test_groups_give_roles_in_two_workspaces(
    idp: ProviderState, staging: Workspace, production: Workspace
) -> None:
    idp.sign_in_as("dana@example.com", groups=["staging-editors", "prod-viewers", "other"])

    _sign_in(Client())

    assert _role(staging, "dana") == Role.EDITOR
    assert _role(production, "dana") == Role.VIEWER
    assert set(
        Membership.objects.filter(user__username="dana").values_list("source", flat=True)
    ) == {MembershipSource.SSO}
    added = AuditEvent.objects.get(workspace=staging, action="member.added", target="dana")
    assert added.actor_name == "system"
    assert "single sign-on: group staging-editors" in added.note


def test_the_members_page_tells_admins_which_memberships_sign_in_made(
    idp: ProviderState, alice_client: Client, production: Workspace
) -> None:
    idp.sign_in_as("dana@example.com", groups=["prod-viewers"])
    _sign_in(Client())

    body = alice_client.get("/w/production/members/").content.decode()

    assert 'dana</strong> <span class="muted">(from single sign-on)</span>' in body
    assert 'alice</strong> <span class="muted">(you)</span></td>' in body


def test_the_highest_role_wins_when_two_groups_map_to_one_workspace(
    idp: ProviderState, production: Workspace
) -> None:
    idp.sign_in_as("dana@example.com", groups=["prod-viewers", "prod-admins"])

    _sign_in(Client())

    assert _role(production, "dana") == Role.ADMIN


def test_a_later_sign_in_follows_the_groups_and_never_touches_a_hand_made_membership(
    idp: ProviderState, bob: Any, staging: Workspace, production: Workspace
) -> None:
    make_member(staging, bob, Role.VIEWER)  # by hand, on the members page
    idp.sign_in_as("bob@example.com", groups=["staging-editors", "prod-admins"])
    _sign_in(Client())
    assert (_role(staging, "bob"), _role(production, "bob")) == (Role.VIEWER, Role.ADMIN)

    idp.sign_in_as("bob@example.com", groups=["prod-viewers"])
    _sign_in(Client())
    assert _role(production, "bob") == Role.VIEWER
    changed = AuditEvent.objects.get(workspace=production, action="member.role_changed")
    assert "admin → viewer" in changed.note

    idp.sign_in_as("bob@example.com", groups=[])
    _sign_in(Client())
    assert _role(production, "bob") is None
    assert _role(staging, "bob") == Role.VIEWER
    assert AuditEvent.objects.filter(
        workspace=production, action="member.removed", target="bob"
    ).exists()


def test_a_role_changed_by_an_admin_is_no_longer_managed_by_sign_in(
    idp: ProviderState, alice: Any, production: Workspace
) -> None:
    idp.sign_in_as("dana@example.com", groups=["prod-viewers"])
    _sign_in(Client())
    membership = Membership.objects.get(workspace=production, user__username="dana")

    member_change_role(workspace=production, membership=membership, role=Role.EDITOR, actor=alice)
    idp.sign_in_as("dana@example.com", groups=[])
    _sign_in(Client())

    assert _role(production, "dana") == Role.EDITOR


def test_sign_in_never_takes_away_the_last_admin_of_a_workspace(
    idp: ProviderState, alice: Any, production: Workspace
) -> None:
    idp.sign_in_as("dana@example.com", groups=["prod-admins"])
    _sign_in(Client())
    Membership.objects.filter(workspace=production, user=alice).delete()

    idp.sign_in_as("dana@example.com", groups=["prod-viewers"])
    client = Client()
    _sign_in(client)

    assert _signed_in_as(client) == "dana"
    assert _role(production, "dana") == Role.ADMIN


def _refused(response: Any, client: Client, words: str) -> None:
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert words in response.content.decode()
    assert _signed_in_as(client) is None


def test_an_answer_with_an_unknown_state_is_refused(idp: ProviderState) -> None:
    client = Client()
    callback = _to_provider(client)
    path, _, query = callback.partition("?")
    code = dict(pair.split("=", 1) for pair in query.split("&"))["code"]

    response = client.get(path, {"code": code, "state": "forged-state"}, follow=True)

    _refused(response, client, "could not be verified")
    assert not get_user_model().objects.filter(username="dana").exists()


def test_a_sign_in_link_from_another_browser_is_refused(idp: ProviderState) -> None:
    callback = _to_provider(Client())
    other = Client()

    response = other.get(callback, follow=True)

    _refused(response, other, "did not work")


def test_an_id_token_with_the_wrong_nonce_is_refused(idp: ProviderState) -> None:
    idp.nonce_override = "replayed-nonce"
    client = Client()

    response = _sign_in(client)

    _refused(response, client, "could not be verified")


def test_an_id_token_signed_by_another_key_is_refused(
    idp: ProviderState, staging: Workspace
) -> None:
    idp.sign_in_as("dana@example.com", groups=["staging-editors"])
    idp.sign_with_other_key = True
    client = Client()

    response = _sign_in(client)

    _refused(response, client, "could not be verified")
    assert _role(staging, "dana") is None


def test_an_unverified_email_is_refused_even_for_an_existing_account(
    idp: ProviderState, bob: Any
) -> None:
    idp.sign_in_as("bob@example.com", email_verified=False)
    client = Client()

    response = _sign_in(client)

    _refused(response, client, "has not verified your email address")


def test_a_refusal_from_the_provider_is_a_message(idp: ProviderState) -> None:
    client = Client()
    client.get("/oidc/authenticate/")

    response = client.get("/oidc/callback/", {"error": "access_denied"}, follow=True)

    _refused(response, client, "Signing in with Test IdP did not work (access_denied)")


def test_a_provider_that_is_down_is_a_message_on_the_login_page(
    idp: ProviderState, provider: RunningProvider
) -> None:
    provider.stop()
    client = Client()

    response = client.get("/oidc/authenticate/", follow=True)

    _refused(response, client, "Test IdP could not be reached")


def test_a_provider_that_goes_down_during_sign_in_is_a_message(
    idp: ProviderState, provider: RunningProvider
) -> None:
    client = Client()
    callback = _to_provider(client)
    provider.stop()

    response = client.get(callback, follow=True)

    _refused(response, client, "Test IdP could not be reached")


def test_the_provider_is_asked_once_for_its_discovery_document(
    idp: ProviderState,
) -> None:
    _sign_in(Client())
    _sign_in(Client())

    assert idp.log.count("GET /.well-known/openid-configuration") == 1


def test_an_id_token_signed_with_the_client_secret_works_when_set_to_hs256(
    idp: ProviderState, settings: Any
) -> None:
    settings.OIDC_RP_SIGN_ALGO = "HS256"
    idp.algorithm = "HS256"
    client = Client()

    _sign_in(client)

    assert _signed_in_as(client) == "dana"
    assert "GET /jwks" not in idp.log


def test_a_password_login_still_works_and_never_asks_the_provider(
    idp: ProviderState, bob: Any
) -> None:
    client = Client()

    response = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})

    assert response.status_code == 302
    assert _signed_in_as(client) == "bob"
    assert idp.log == []


def test_a_malformed_group_mapping_stops_the_server_with_a_plain_reason() -> None:
    with pytest.raises(ImproperlyConfigured, match="is not group=workspace:role"):
        parse_group_roles(["prod-admins=production:owner"])


def _settings_from(**env: str) -> subprocess.CompletedProcess[str]:
    """Print the single sign-on settings a server started with `env` would use."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DJANGO_"))}
    code = (
        "from django.conf import settings as s; "
        "print(s.AUTHENTICATION_BACKENDS[-1], s.OIDC_RP_SCOPES, s.OIDC_GROUP_ROLES)"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_single_sign_on_is_set_up_from_the_environment() -> None:
    result = _settings_from(
        OIDC_ISSUER="https://idp.example.com/",
        OIDC_CLIENT_ID="studio",
        OIDC_GROUP_ROLES="staging-editors=staging:editor, prod-admins=production:Admin",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"{BACKEND} openid email profile "
        "[('staging-editors', 'staging', 'editor'), ('prod-admins', 'production', 'admin')]"
    )


def test_production_refuses_a_provider_address_without_https() -> None:
    result = _settings_from(
        DEBUG="0",
        SECRET_KEY="s" * 60,
        FIELD_ENCRYPTION_KEYS="x" * 44,
        ALLOWED_HOSTS="studio.example.com",
        OIDC_ISSUER="http://idp.example.com",
        OIDC_CLIENT_ID="studio",
    )

    assert result.returncode != 0
    assert "OIDC_ISSUER must be an https:// address" in result.stderr

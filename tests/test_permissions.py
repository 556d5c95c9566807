"""The permission matrix over EVERY URL of the app, against every role and a foreign workspace.

The URL list comes from the resolver, so a URL added without a rule in permissions.URL_RULES, or
without an example in EXAMPLE_KWARGS below, makes this file fail. Expected answers:
anonymous -> login redirect; outsider (charlie, admin of another workspace) -> 404; a role without
the URL's permission -> 403 with the plain message; a role with it -> anything but 403 (other
areas' views may still be placeholders answering 404).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.html import escape

from personas_app.models import Role
from personas_app.permissions import (
    PERM_DENIED_MESSAGES,
    ROLE_PERMISSIONS,
    URL_RULES,
    Perm,
    role_can,
)
from personas_app.services.workspaces import api_key_add
from tests.builders import make_member, make_user, make_workspace

DOCS = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"

# URLs of the namespace that are not inside a workspace (no <slug>): no rule needed.
OUTSIDE_WORKSPACE = {
    "home",
    "invitation_accept",
    "notification_go",
    "notification_list",
    "notification_read",
    "notification_read_all",
    "notification_preferences",
}

# Placeholders replaced by real objects of the workspace "acme" (see `cast`).
KEY = "<key_id>"
MEMBER = "<member_id>"
# Objects of other areas: ids that do not exist, so an allowed role reaches the view and gets a
# 404 (not 403) whatever finer rules those views have. The middleware runs before any of them.
PERSONA, EVENT, CR, CONVERSATION = "p0000missing", 999_999, 999_999, "c0000missing"
LINK = 999_999
CS = 999_999

EXAMPLE_KWARGS: dict[str, dict[str, Any]] = {
    "persona_list": {},
    "persona_create": {},
    "persona_create_preview": {},
    "persona_detail": {"persona_id": PERSONA},
    "persona_edit": {"persona_id": PERSONA},
    "persona_edit_preview": {"persona_id": PERSONA},
    "persona_migrate_legacy": {"persona_id": PERSONA},
    "persona_delete": {"persona_id": PERSONA},
    "persona_export": {"persona_id": PERSONA},
    "picker_replicas": {},
    "picker_documents": {},
    "picker_objectives": {},
    "picker_guardrails": {},
    "persona_history": {"persona_id": PERSONA},
    "persona_version": {"persona_id": PERSONA, "event_id": EVENT},
    "persona_compare": {"persona_id": PERSONA},
    "persona_revert": {"persona_id": PERSONA, "event_id": EVENT},
    "audit_list": {},
    "audit_export": {},
    "review_queue": {},
    "review_detail": {"cr_id": CR},
    "review_edit": {"cr_id": CR},
    "review_submit": {"cr_id": CR},
    "review_comment": {"cr_id": CR},
    "review_decide": {"cr_id": CR},
    "review_apply": {"cr_id": CR},
    "review_close": {"cr_id": CR},
    "review_refresh": {"cr_id": CR},
    "changeset_list": {},
    "changeset_new": {},
    "changeset_preview": {},
    "changeset_detail": {"cs_id": CS},
    "changeset_submit": {"cs_id": CS},
    "changeset_comment": {"cs_id": CS},
    "changeset_decide": {"cs_id": CS},
    "changeset_apply": {"cs_id": CS},
    "changeset_close": {"cs_id": CS},
    "changeset_revert": {"cs_id": CS},
    "conversation_start": {"persona_id": PERSONA},
    "conversation_list": {},
    "conversation_end_mine": {},
    "conversation_status": {"conversation_id": CONVERSATION},
    "conversation_end": {"conversation_id": CONVERSATION},
    "member_list": {},
    "member_add": {},
    "member_role": {"member_id": MEMBER},
    "member_remove": {"member_id": MEMBER},
    "key_list": {},
    "key_add": {},
    "key_test": {"key_id": KEY},
    "key_rotate": {"key_id": KEY},
    "key_activate": {"key_id": KEY},
    "key_revoke": {"key_id": KEY},
    "workspace_settings": {},
    # required reviewers
    "review_rule_create": {},
    "review_rule_delete": {"rule_id": 999_999},
    "persona_link": {"persona_id": PERSONA},
    "persona_unlink": {"persona_id": PERSONA, "link_id": LINK},
    "persona_promote": {"persona_id": PERSONA, "link_id": LINK},
    "persona_promote_propose": {"persona_id": PERSONA, "link_id": LINK},
    "persona_follow": {"persona_id": PERSONA},
    "invitation_create": {},
    "invitation_resend": {"invitation_id": EVENT},
    "invitation_revoke": {"invitation_id": EVENT},
}


def _patterns(resolver: URLResolver) -> list[URLPattern]:
    found: list[URLPattern] = []
    for item in resolver.url_patterns:
        if isinstance(item, URLResolver):
            found += _patterns(item)
        else:
            found.append(item)
    return found


def _app_patterns() -> list[URLPattern]:
    _prefix, resolver = get_resolver().namespace_dict["personas"]
    return _patterns(resolver)


def _workspace_url_names() -> list[str]:
    return sorted(str(p.name) for p in _app_patterns() if "slug" in p.pattern.converters and p.name)


WORKSPACE_URLS = _workspace_url_names()
ROLES = [Role.VIEWER, Role.EDITOR, Role.REVIEWER, Role.ADMIN]
WHO = ["anonymous", "outsider", *ROLES]


@dataclass
class Cast:
    clients: dict[str, Client]
    refs: dict[str, Any]


def _client(user: Any | None) -> Client:
    # Other areas' views are written in parallel: an exception there must show as a status here.
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def cast(workspace: Any, alice: Any, bob: Any, charlie: Any) -> Cast:
    """acme: alice admin, bob editor, vera viewer, rita reviewer, dave (a target); charlie elsewhere."""
    vera, rita, dave = make_user("vera"), make_user("rita"), make_user("dave")
    make_member(workspace, vera, Role.VIEWER)
    make_member(workspace, rita, Role.REVIEWER)
    target = make_member(workspace, dave, Role.VIEWER)
    backup = api_key_add(
        workspace=workspace, label="backup", secret="backup-key-12345678", actor=alice
    )
    make_workspace(owner=charlie, base_url="", api_key=None, name="Other", slug="other")
    users = {"viewer": vera, "editor": bob, "reviewer": rita, "admin": alice, "outsider": charlie}
    clients = {who: _client(user) for who, user in users.items()}
    clients["anonymous"] = _client(None)
    return Cast(clients=clients, refs={KEY: backup.pk, MEMBER: target.pk})


def _url(name: str, refs: dict[str, Any]) -> str:
    kwargs = {
        k: refs.get(v, v) if isinstance(v, str) else v for k, v in EXAMPLE_KWARGS[name].items()
    }
    return reverse(f"personas:{name}", kwargs={"slug": "acme", **kwargs})


def test_every_workspace_url_has_a_rule_and_an_example() -> None:
    missing_rule = [n for n in WORKSPACE_URLS if n not in URL_RULES]
    missing_example = [n for n in WORKSPACE_URLS if n not in EXAMPLE_KWARGS]
    assert not missing_rule, f"URLs without a rule in permissions.URL_RULES: {missing_rule}"
    assert not missing_example, f"URLs without an example in EXAMPLE_KWARGS: {missing_example}"


def test_no_rule_or_example_names_a_url_that_does_not_exist() -> None:
    assert set(URL_RULES) - set(WORKSPACE_URLS) == set()
    assert set(EXAMPLE_KWARGS) - set(WORKSPACE_URLS) == set()


def test_urls_outside_a_workspace_are_only_the_known_ones() -> None:
    names = {str(p.name) for p in _app_patterns() if "slug" not in p.pattern.converters}
    assert names == OUTSIDE_WORKSPACE


def test_every_url_example_matches_its_pattern_arguments() -> None:
    by_name = {str(p.name): p for p in _app_patterns()}
    for name in WORKSPACE_URLS:
        expected = set(by_name[name].pattern.converters) - {"slug"}
        assert set(EXAMPLE_KWARGS.get(name, {})) == expected, name


@pytest.mark.parametrize(("url_name", "who"), [(n, w) for n in WORKSPACE_URLS for w in WHO])
def test_url_answers_each_role_as_the_matrix_says(url_name: str, who: str, cast: Cast) -> None:
    if url_name not in URL_RULES:
        pytest.fail(f"{url_name} has no rule in permissions.URL_RULES")
    if url_name not in EXAMPLE_KWARGS:
        pytest.fail(f"{url_name} has no example kwargs in tests/test_permissions.py")
    url = _url(url_name, cast.refs)
    client = cast.clients[who]
    rule = URL_RULES[url_name]

    if who == "anonymous":
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/"), url
    elif who == "outsider":
        for method in (client.get, client.post):
            assert method(url).status_code == 404, url
    elif not role_can(who, rule):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 403, url
            assert escape(PERM_DENIED_MESSAGES[rule]) in response.content.decode(), url
    else:
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url)
        assert response.status_code != 403, f"{who} was refused {url}"


def test_outsider_sees_the_same_404_as_for_a_workspace_that_does_not_exist(
    cast: Cast,
) -> None:
    charlie = cast.clients["outsider"]
    existing = charlie.get("/w/acme/keys/")
    missing = charlie.get("/w/no-such-workspace/keys/")
    assert existing.status_code == missing.status_code == 404
    assert [t.name for t in existing.templates] == [t.name for t in missing.templates]
    assert "Acme" not in existing.content.decode()


def test_each_role_includes_everything_of_the_role_below() -> None:
    for lower, higher in itertools.pairwise(ROLES):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]


def test_every_role_and_permission_has_a_denial_message_and_a_place() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role.values)
    assert set(PERM_DENIED_MESSAGES) == set(Perm)


def test_docs_mention_every_permission_and_every_role() -> None:
    text = DOCS.read_text()
    for perm in Perm:
        assert f"`{perm.value}`" in text, perm
    for role in Role:
        assert f"`{role.value}`" in text and role.label in text, role


def test_docs_list_every_url_with_its_permission() -> None:
    text = DOCS.read_text()
    for name, perm in URL_RULES.items():
        row = re.search(rf"^\|\s*`{name}`\s*\|.*\|\s*`(\w+)`\s*\|\s*$", text, re.MULTILINE)
        assert row is not None, f"docs/permissions.md has no row for {name}"
        assert row.group(1) == perm.value, f"docs/permissions.md gives {name} the wrong permission"

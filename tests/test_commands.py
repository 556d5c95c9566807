"""The `workspace` management command: create, add-member, rotate-key.

Each prints one line saying what it did, fails (non-zero) with a clear message on bad input, and
never prints the key, which it reads from a named environment variable.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from personas_app.crypto import unseal
from personas_app.models import AuditEvent, Membership, Role, Workspace
from tests.builders import make_workspace

KEY = "tvs-command-line-key-4321"
ENV = "PS_WORKSPACE_TEST_KEY"


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("workspace", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the command expecting failure; return its message.

    Django raises CommandError for the command's own checks; argparse errors in a sub-command
    exit with status 2 after printing to stderr (what `manage.py` does too).
    """
    try:
        _run(*args)
    except CommandError as exc:
        return str(exc)
    except SystemExit as exc:
        assert exc.code not in (0, None)
        return capsys.readouterr().err
    pytest.fail(f"workspace {' '.join(args)} did not fail")


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENV, KEY)
    return ENV


# -- create -------------------------------------------------------------------------------


def test_create_prints_one_line(db: None) -> None:
    out, err = _run("create", "--name", "Acme Studio")

    assert out == "Created workspace acme-studio “Acme Studio” (no API key yet).\n"
    assert err == ""
    assert Workspace.objects.get(slug="acme-studio").name == "Acme Studio"


def test_create_with_a_key_from_the_environment_never_prints_it(
    db: None, key_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    out, err = _run(
        "create", "--name", "Acme", "--slug", "acme", "--base-url", "https://tavus.example.com",
        "--api-key-env", key_env,
    )  # fmt: skip

    assert out == "Created workspace acme “Acme” with an active API key.\n"
    workspace = Workspace.objects.get(slug="acme")
    assert workspace.tavus_base_url == "https://tavus.example.com"
    assert unseal(workspace.api_keys.get(is_active=True).secret_sealed) == KEY
    assert KEY not in out + err + caplog.text


def test_create_with_an_unset_environment_variable_fails_and_creates_nothing(
    db: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)

    message = _fails(capsys, "create", "--name", "Acme", "--api-key-env", ENV)

    assert message == f"The environment variable {ENV} is empty or not set."
    assert not Workspace.objects.exists()


def test_create_with_a_bad_url_fails(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    message = _fails(capsys, "create", "--name", "Acme", "--base-url", "not a url")
    assert message == "--base-url “not a url” is not a valid URL."
    assert not Workspace.objects.exists()


def test_create_with_a_taken_slug_fails(alice: Any, capsys: pytest.CaptureFixture[str]) -> None:
    make_workspace(owner=alice, base_url="", api_key=None)
    message = _fails(capsys, "create", "--name", "Other", "--slug", "acme")
    assert "already exists" in message


def test_create_without_a_name_fails(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--name" in _fails(capsys, "create")


# -- add-member ---------------------------------------------------------------------------


def test_add_member_prints_one_line_and_is_audited(alice: Any, bob: Any) -> None:
    make_workspace(owner=alice, base_url="", api_key=None)

    out, _err = _run("add-member", "acme", "bob", "reviewer")

    assert out == "Added bob to acme as reviewer.\n"
    assert Membership.objects.get(workspace__slug="acme", user=bob).role == Role.REVIEWER
    event = AuditEvent.objects.get(action="member.added")
    assert event.actor_name == "system" and event.target == "bob"


def test_add_member_to_an_unknown_workspace_fails(
    bob: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    message = _fails(capsys, "add-member", "nope", "bob", "editor")
    assert message == "No workspace has the short name “nope”."


def test_add_member_with_an_unknown_user_fails(
    alice: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    make_workspace(owner=alice, base_url="", api_key=None)
    message = _fails(capsys, "add-member", "acme", "nobody", "editor")
    assert message == "No user is called “nobody”. They need an account first."


def test_add_member_with_a_bad_role_fails_listing_the_roles(
    alice: Any, bob: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    make_workspace(owner=alice, base_url="", api_key=None)

    message = _fails(capsys, "add-member", "acme", "bob", "boss")

    assert "invalid choice: 'boss'" in message
    assert "viewer" in message and "admin" in message
    assert not Membership.objects.filter(user=bob).exists()


def test_add_member_twice_fails(alice: Any, capsys: pytest.CaptureFixture[str]) -> None:
    make_workspace(owner=alice, base_url="", api_key=None)
    assert "already a member" in _fails(capsys, "add-member", "acme", "alice", "viewer")


# -- rotate-key ---------------------------------------------------------------------------


def test_rotate_key_replaces_the_named_key_and_prints_only_its_last_four(
    workspace: Workspace, key_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    out, err = _run("rotate-key", "acme", "--api-key-env", key_env)

    assert out == "Rotated key “default” of acme; it now ends in …4321.\n"
    key = workspace.api_keys.get(label="default")
    assert unseal(key.secret_sealed) == KEY and key.is_active
    assert AuditEvent.objects.filter(action="key.rotated", actor_name="system").exists()
    assert KEY not in out + err + caplog.text


def test_rotate_key_with_a_new_label_adds_a_key(workspace: Workspace, key_env: str) -> None:
    out, _err = _run("rotate-key", "acme", "--api-key-env", key_env, "--label", "backup")

    assert out == "Added key “backup” (…4321) to acme.\n"
    assert not workspace.api_keys.get(label="backup").is_active
    assert KEY not in out


def test_rotate_key_with_an_unset_variable_fails_and_keeps_the_key(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "   ")
    before = workspace.api_keys.get().secret_sealed

    message = _fails(capsys, "rotate-key", "acme", "--api-key-env", ENV)

    assert message == f"The environment variable {ENV} is empty or not set."
    assert workspace.api_keys.get().secret_sealed == before


def test_rotate_key_of_an_unknown_workspace_fails(
    db: None, key_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    message = _fails(capsys, "rotate-key", "nope", "--api-key-env", key_env)
    assert message == "No workspace has the short name “nope”."


def test_rotate_key_with_a_too_short_key_fails_without_printing_it(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "short")
    message = _fails(capsys, "rotate-key", "acme", "--api-key-env", ENV)
    assert "too short" in message
    assert "short" not in message.replace("too short", "")


def test_rotate_key_requires_the_variable_name(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--api-key-env" in _fails(capsys, "rotate-key", "acme")

"""Login throttling (django-axes): repeated failures lock the username and the address for a while."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from tests.builders import PASSWORD, make_user

LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture
def staff(db: None) -> Any:
    """A user who may use both login pages (the admin's needs is_staff)."""
    return make_user("dana", is_staff=True, is_superuser=True)


def _log_in(client: Client, page: str, password: str, username: str = "dana") -> Any:
    return client.post(page, {"username": username, "password": password})


def _fail(client: Client, page: str, times: int, username: str = "dana") -> None:
    for _ in range(times):
        _log_in(client, page, "wrong-password", username)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_right_password_is_refused_after_six_wrong_ones(staff: Any, page: str) -> None:
    client = Client()
    _fail(client, page, 6)

    response = _log_in(client, page, PASSWORD)

    assert response.status_code == 429
    assert not _logged_in(client)


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_lockout_page_says_when_to_try_again_and_who_can_unlock(staff: Any, page: str) -> None:
    client = Client()
    _fail(client, page, 6)

    body = _log_in(client, page, PASSWORD).content.decode()

    assert "Too many failed logins" in body
    assert "15 minutes" in body
    assert "administrator" in body


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_a_normal_login_works(staff: Any, page: str) -> None:
    client = Client()

    response = _log_in(client, page, PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_a_few_typos_then_the_right_password_logs_in(staff: Any) -> None:
    client = Client()
    _fail(client, "/accounts/login/", 4)

    response = _log_in(client, "/accounts/login/", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_a_locked_username_is_refused_from_another_address(staff: Any) -> None:
    _fail(Client(REMOTE_ADDR="198.51.100.1"), "/accounts/login/", 5)
    elsewhere = Client(REMOTE_ADDR="198.51.100.2")

    response = _log_in(elsewhere, "/accounts/login/", PASSWORD)

    assert response.status_code == 429


def test_a_locked_address_is_refused_for_another_username(staff: Any) -> None:
    make_user("erin")
    client = Client(REMOTE_ADDR="198.51.100.3")
    _fail(client, "/accounts/login/", 5, username="nobody")

    response = _log_in(client, "/accounts/login/", PASSWORD, username="erin")

    assert response.status_code == 429


@pytest.mark.parametrize("command", [["axes_reset"], ["axes_reset_username", "dana"]])
def test_an_admin_command_unlocks(staff: Any, command: list[str]) -> None:
    client = Client()
    _fail(client, "/accounts/login/", 6)

    call_command(*command)
    response = _log_in(client, "/accounts/login/", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)

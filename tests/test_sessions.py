"""Sessions end after SESSION_IDLE_TIMEOUT_HOURS without a request, however long they were used."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone


def _expiry(client: Client) -> Any:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def _idle_for(client: Client, idle: timedelta) -> None:
    """Make the session look as if its last request was `idle` ago (its expiry moves back)."""
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE) - idle
    )


def test_the_idle_timeout_is_twelve_hours_by_default() -> None:
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_each_request_pushes_the_expiry_a_full_timeout_ahead(alice_client: Client) -> None:
    _idle_for(alice_client, timedelta(hours=11))

    alice_client.get("/")

    left = _expiry(alice_client) - timezone.now()
    assert left > timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_a_session_used_within_the_timeout_stays_logged_in(alice_client: Client) -> None:
    _idle_for(alice_client, timedelta(hours=11, minutes=59))

    response = alice_client.get("/")

    assert response.status_code == 200


def test_a_session_idle_longer_than_the_timeout_is_logged_out(alice_client: Client) -> None:
    _idle_for(alice_client, timedelta(hours=12, seconds=1))

    response = alice_client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

"""Password reset by email: Django's views with our pages, reachable without logging in, under the
Content-Security-Policy, and beside login throttling (django-axes)."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client

from tests.builders import PASSWORD, make_user

NEW_PASSWORD = "plum-orchard-lantern-42"
LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/[\w-]+/[\w-]+/)")


def _ask_for_link(client: Client, email: str = "dana@example.com") -> Any:
    return client.post("/accounts/password-reset/", {"email": email})


def test_the_login_page_links_to_password_reset(db: None) -> None:
    body = Client().get("/accounts/login/").content.decode()

    assert 'href="/accounts/password-reset/">Forgot your password?' in body


def test_the_reset_page_answers_anonymous_visitors_with_the_sites_look_and_policy(db: None) -> None:
    response = Client().get("/accounts/password-reset/")

    assert response.status_code == 200
    assert "Reset your password" in response.content.decode()
    assert "css/app.css" in response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_reset_link_by_email_sets_a_new_password(db: None) -> None:
    make_user("dana")
    client = Client()

    sent = _ask_for_link(client)
    assert sent["Location"] == "/accounts/password-reset/sent/"
    assert "Check your email" in client.get(sent["Location"]).content.decode()
    assert mail.outbox[0].to == ["dana@example.com"]
    assert mail.outbox[0].subject == "Reset your Persona Studio password"
    match = LINK.search(mail.outbox[0].body)
    assert match is not None, mail.outbox[0].body
    html, _mimetype = mail.outbox[0].alternatives[0]
    assert f'{match.group(1)}">Choose a new password</a>' in html

    form_page = client.get(match.group(1), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert "Your password is changed" in done.content.decode()
    fresh = Client()
    assert (
        fresh.post("/accounts/login/", {"username": "dana", "password": PASSWORD}).status_code
        == 200
    )
    assert (
        fresh.post("/accounts/login/", {"username": "dana", "password": NEW_PASSWORD})["Location"]
        == "/"
    )


def test_a_reset_link_works_once(db: None) -> None:
    make_user("dana")
    client = Client()
    _ask_for_link(client)
    path = LINK.search(mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    form_url = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = Client().get(path, follow=True)

    assert "This link cannot be used" in again.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_email(db: None) -> None:
    response = _ask_for_link(Client(), "nobody@example.com")

    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_a_weak_new_password_is_refused_next_to_the_field(db: None) -> None:
    make_user("dana")
    client = Client()
    _ask_for_link(client)
    path = LINK.search(mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    form_url = client.get(path, follow=True).redirect_chain[-1][0]

    response = client.post(form_url, {"new_password1": "12345678", "new_password2": "12345678"})

    assert response.status_code == 200
    assert "This password is entirely numeric." in response.content.decode()


def test_a_locked_out_login_still_offers_password_reset_and_stays_locked(db: None) -> None:
    make_user("dana")
    client = Client()
    for _ in range(6):
        client.post("/accounts/login/", {"username": "dana", "password": "wrong"})

    locked = client.post("/accounts/login/", {"username": "dana", "password": PASSWORD})

    assert locked.status_code == 429
    assert 'href="/accounts/password-reset/"' in locked.content.decode()
    assert client.get("/accounts/password-reset/").status_code == 200

"""Error pages never show a secret, whatever DEBUG is, and a request that is too large is a plain 413."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from personas_app.logging import remember_secret

SECRET = "tvs-live-9f8e7d6c5b4a3f2e1d0c"
REMEMBERED = "tvs-remembered-1a2b3c4d5e6f7a8b"


def _explode(request: HttpRequest) -> HttpResponse:
    api_key = SECRET
    token = SECRET
    persona = {"persona_name": "Desk", "layers": {"llm": {"api_key": SECRET}}}
    headers = [("x-api-key", SECRET)]
    text = f"Bearer {REMEMBERED}"
    posted = request.POST.copy()
    if api_key and token and persona and headers and text and posted is not None:
        raise RuntimeError("boom")
    return HttpResponse()


urlpatterns = [path("explode/", _explode)]
handler500 = "personas_app.views.errors.server_error"

CREDENTIAL_FIELDS = {
    "api_key": SECRET,
    "apikey": SECRET,
    "token": SECRET,
    "secret": SECRET,
    "password": SECRET,
    "authorization": SECRET,
    "x-api-key": SECRET,
    "key_value": SECRET,
    "sealed": SECRET,
    "llm-api_key": SECRET,
}


@pytest.fixture
def raising_client() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.urls(__name__)
def test_the_debug_page_shows_no_posted_or_local_secret(
    raising_client: Client, settings: Any
) -> None:
    settings.DEBUG = True
    remember_secret(REMEMBERED)

    response = raising_client.post(
        "/explode/", {**CREDENTIAL_FIELDS, "note": "harmless"}, HTTP_X_API_KEY=SECRET
    )

    body = response.content.decode()
    assert response.status_code == 500
    assert "RuntimeError" in body and "harmless" in body  # it is the technical page
    assert SECRET not in body
    assert REMEMBERED not in body


@pytest.mark.urls(__name__)
def test_the_debug_page_hides_settings_that_can_hold_a_password(
    raising_client: Client, settings: Any
) -> None:
    settings.DEBUG = True
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"redis://:{SECRET}@cache.internal:6379/0",
        }
    }

    body = raising_client.post("/explode/").content.decode()

    assert SECRET not in body


@pytest.mark.urls(__name__)
def test_without_debug_the_page_is_plain(raising_client: Client, db: None) -> None:
    response = raising_client.post("/explode/", CREDENTIAL_FIELDS)

    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body
    assert "RuntimeError" not in body and SECRET not in body


def test_a_body_over_the_import_limit_gets_a_plain_413(
    alice_client: Client, workspace: Any
) -> None:
    response = alice_client.post(
        "/w/acme/personas/new/", {"import_json": "x" * (2 * 1024 * 1024 + 1)}
    )

    assert response.status_code == 413
    assert "too large" in response.content.decode()


def test_a_body_just_under_the_limit_is_read(alice_client: Client, workspace: Any) -> None:
    response = alice_client.post(
        "/w/acme/personas/new/", {"import_json": "x" * (2 * 1024 * 1024 - 100)}
    )

    assert response.status_code not in (400, 413, 500)


def test_too_many_fields_get_a_plain_413(alice_client: Client, workspace: Any) -> None:
    fields = {f"f{i}": "1" for i in range(20_001)}

    response = alice_client.post("/w/acme/personas/new/", fields)

    assert response.status_code == 413


def test_the_import_limit_is_two_megabytes_by_default(settings: Any) -> None:
    assert settings.MAX_IMPORT_BYTES == 2_097_152
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.MAX_IMPORT_BYTES
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == settings.MAX_IMPORT_BYTES


def test_another_bad_request_gets_the_plain_400_page(client: Client, db: None) -> None:
    response = client.get("/accounts/login/", headers={"host": "evil.example"})

    assert response.status_code == 400
    assert "could not read that request" in response.content.decode()

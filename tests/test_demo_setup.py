"""`make run`'s demo setup: a demo user and workspace, created once, talking to the emulator."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from personas_app.crypto import unseal
from personas_app.models import ApiKey, Workspace


@pytest.mark.django_db
def test_demo_setup_is_idempotent_and_uses_the_emulator(monkeypatch: Any) -> None:
    monkeypatch.delenv("TAVUS_API_KEY", raising=False)
    out = io.StringIO()

    call_command("demo_setup", "--emulator-url", "http://127.0.0.1:8765", stdout=out)
    call_command("demo_setup", "--emulator-url", "http://127.0.0.1:8765", stdout=out)

    workspace = Workspace.objects.get(slug="demo")
    assert workspace.base_url == "http://127.0.0.1:8765"
    key = ApiKey.objects.get(workspace=workspace, is_active=True)
    assert unseal(key.secret_sealed) == "demo-key"
    assert ApiKey.objects.count() == 1
    # With a request: the login throttle (django-axes) refuses to authenticate without one.
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="demo", password="demo-password") is not None
    assert "talks to the emulator" in out.getvalue()


@pytest.mark.django_db
def test_demo_setup_with_a_real_key_points_at_tavus(monkeypatch: Any) -> None:
    call_command("demo_setup", stdout=io.StringIO())
    monkeypatch.setenv("TAVUS_API_KEY", "tvs-real-key-1234")

    out = io.StringIO()
    call_command("demo_setup", stdout=out)

    workspace = Workspace.objects.get(slug="demo")
    assert workspace.base_url == "https://tavusapi.com"
    assert (
        unseal(ApiKey.objects.get(workspace=workspace, is_active=True).secret_sealed)
        == "tvs-real-key-1234"
    )
    assert "tvs-real-key-1234" not in out.getvalue()

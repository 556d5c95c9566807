"""Every page carries a strict Content-Security-Policy, and no template needs it relaxed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest
from tests.builders import persona_doc
from tests.formdata import form_data, with_values

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

EXPECTED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "media-src": "'self' https:",
}

PAGES = {
    "persona list": "/w/acme/",
    "persona detail": "/w/acme/personas/{persona_id}/",
    "persona edit": "/w/acme/personas/{persona_id}/edit/",
    "persona create": "/w/acme/personas/new/",
    "review": "/w/acme/reviews/{cr_id}/",
    "review queue": "/w/acme/reviews/",
    "persona history": "/w/acme/personas/{persona_id}/history/",
    "audit log": "/w/acme/audit/",
    "API keys": "/w/acme/keys/",
    "members": "/w/acme/members/",
    "workspace settings": "/w/acme/settings/",
    "conversations": "/w/acme/conversations/",
}


def _directives(response: Any) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.fixture
def ids(alice_client: Client, workspace: Any, tavus: EmulatorState) -> dict[str, Any]:
    """A persona in the emulator, and a change request proposed for it from the editor."""
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    editor = alice_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()
    changed = {"identity-persona_name": "Front Desk 2", "submit": "propose"}
    alice_client.post(
        f"/w/acme/personas/{persona_id}/edit/", with_values(form_data(editor), changed)
    )
    return {"persona_id": persona_id, "cr_id": ChangeRequest.objects.get().pk}


@pytest.mark.parametrize("name", PAGES)
def test_the_page_has_the_strict_policy(
    alice_client: Client, ids: dict[str, Any], name: str
) -> None:
    response = alice_client.get(PAGES[name].format(**ids))

    assert response.status_code == 200
    assert _directives(response) == EXPECTED


def test_the_login_page_has_the_strict_policy(client: Client, db: None) -> None:
    response = client.get("/accounts/login/")

    assert _directives(response) == EXPECTED


def test_no_policy_allows_inline_code_or_eval(client: Client, db: None) -> None:
    header = client.get("/accounts/login/")["Content-Security-Policy"]

    assert "unsafe-inline" not in header and "unsafe-eval" not in header


def test_no_template_has_inline_scripts_styles_or_handlers() -> None:
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|\bhx-on|javascript:")
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        for match in inline.finditer(path.read_text())
    ]

    assert found == []

"""Failure pages tell the truth.

After a write whose answer was lost (a 5xx, an unreadable answer, no answer in time) the dashboard
reads the persona back and says what Tavus holds: saved, not saved, or not known with the one safe
next step; a change request's state follows. A 404 is described by what was asked. A hanging Tavus
costs a page one read timeout: the request is sent once.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, ChangeRequest, ChangeStatus, Workspace
from personas_app.persona.redaction import redact
from personas_app.services import reviews as service
from personas_app.services.workspaces import tavus_client_for
from tests.builders import persona_doc
from tests.formdata import form_data, with_values

PROXY_PAGE = "<html><body><h1>503 Service Unavailable</h1></body></html>"


def _change_request(workspace: Workspace, author: Any, persona_id: str) -> ChangeRequest:
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    proposed = copy.deepcopy(base)
    proposed["context"] = "Acme sells garden tools and seeds."
    return service.change_request_create(
        workspace=workspace,
        actor=author,
        kind="edit",
        title="Seeds too",
        persona_id=persona_id,
        base=base,
        proposed=proposed,
        submit=True,
    )


def _apply(client: Any, cr: ChangeRequest) -> str:
    response = client.post(f"/w/acme/reviews/{cr.pk}/apply/", follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_a_5xx_before_tavus_saved_anything_says_not_saved_and_the_change_stays_retryable(
    bob_client: Any, bob: Any, workspace: Workspace, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    cr = _change_request(workspace, bob, persona_id)
    tavus.fail_next(1, 502, methods={"PATCH"})

    page = _apply(bob_client, cr)

    cr.refresh_from_db()
    assert "Tavus did not save this change" in page and "HTTP 502" in page
    assert cr.status == ChangeStatus.FAILED
    assert tavus.personas[persona_id]["context"] == "Acme sells garden tools."
    assert "Applied" not in page


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 502},
        {"status": 503, "raw_body": PROXY_PAGE},
        {"status": 500, "body": {"message": "upstream timeout"}},
    ],
    ids=["502", "html-503", "500"],
)
def test_a_change_tavus_saved_but_whose_answer_was_lost_is_applied(
    bob_client: Any, bob: Any, workspace: Workspace, tavus: EmulatorState, fault: dict[str, Any]
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    cr = _change_request(workspace, bob, persona_id)
    tavus.fail_next(1, fault.pop("status"), methods={"PATCH"}, after_handling=True, **fault)

    page = _apply(bob_client, cr)

    cr.refresh_from_db()
    assert cr.status == ChangeStatus.APPLIED
    assert "Applied: the persona is live with this change." in page
    assert tavus.count("PATCH") == 1  # read back, never sent again
    patched = AuditEvent.objects.get(persona_id=persona_id, action="persona.patched")
    assert patched.outcome == "ok" and "answer was lost" in patched.note


def test_a_write_with_no_answer_in_time_says_it_is_not_known_and_trying_again_is_safe(
    bob_client: Any, workspace: Workspace, tavus: EmulatorState, settings: Any
) -> None:
    settings.TAVUS_TIMEOUT_READ = 0.3
    persona_id = tavus.put_persona(persona_doc())
    data = form_data(bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode())
    typed = with_values(data, {"identity-context": "Seeds too.", "submit": "apply"})
    tavus.hang_next(1, 1.0, methods={"PATCH"})  # it lands after the page gave up on it

    page = bob_client.post(f"/w/acme/personas/{persona_id}/edit/", typed).content.decode()

    assert "It is not known whether Tavus saved this change" in page
    assert "Seeds too." in page  # what was typed is still in the form
    deadline = time.monotonic() + 10
    while tavus.count("PATCH") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the hung PATCH lands in Tavus
    again = bob_client.post(f"/w/acme/personas/{persona_id}/edit/", typed, follow=True)
    assert "Tavus already had these settings; nothing changed." in again.content.decode()
    assert tavus.count("PATCH") == 1


def test_a_hanging_tavus_costs_a_page_one_request_and_one_timeout(
    bob_client: Any, workspace: Workspace, tavus: EmulatorState, settings: Any
) -> None:
    settings.TAVUS_TIMEOUT_READ = 0.3
    persona_id = tavus.put_persona(persona_doc())
    tavus.hang_next(10, 1.0)

    page = bob_client.get(f"/w/acme/personas/{persona_id}/").content.decode()

    assert "did not answer before the time limit" in page
    assert tavus.arrived() == 1


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("/w/acme/", "Tavus answered “not found” at its address for personas"),
        ("/w/acme/personas/p123/", "This persona no longer exists on Tavus"),
    ],
)
def test_a_404_is_described_by_what_was_asked(
    bob_client: Any, workspace: Workspace, tavus: EmulatorState, url: str, said: str
) -> None:
    if url == "/w/acme/":
        tavus.fail_next(1, 404, methods={"GET"})

    page = bob_client.get(url).content.decode()

    assert said in page


def test_delete_keeps_the_form_and_the_typed_name_when_the_re_read_fails(
    alice_client: Any, workspace: Workspace, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    tavus.fail_next(5, 503, methods={"GET"})

    response = alice_client.post(
        f"/w/acme/personas/{persona_id}/delete/", {"confirm_name": "Front desk"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="confirm_name" value="Front desk"' in page
    assert "Nothing you typed was lost" in page
    assert persona_id in tavus.personas  # nothing was deleted


def test_a_change_whose_answer_was_cut_short_is_read_back_and_applied(
    bob_client: Any, bob: Any, workspace: Workspace, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    cr = _change_request(workspace, bob, persona_id)
    tavus.fail_next(1, 200, methods={"PATCH"}, cut_body=True)  # saved; the answer breaks off

    page = _apply(bob_client, cr)

    cr.refresh_from_db()
    assert cr.status == ChangeStatus.APPLIED
    assert "Applied: the persona is live with this change." in page
    assert tavus.count("PATCH") == 1


def test_a_direct_edit_whose_answer_was_cut_short_says_it_was_saved(
    bob_client: Any, workspace: Workspace, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = form_data(bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode())
    typed = with_values(data, {"identity-context": "Seeds too.", "submit": "apply"})
    tavus.fail_next(1, 200, methods={"PATCH"}, cut_body=True)

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/", dict(typed.lists()), follow=True
    )

    assert "Saved: 1 change sent to Tavus." in response.content.decode()
    assert tavus.personas[persona_id]["context"] == "Seeds too."
    patched = AuditEvent.objects.get(persona_id=persona_id, action="persona.patched")
    assert "answer was lost" in patched.note

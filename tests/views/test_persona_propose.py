"""From the editor to review: proposing a change, and editing a change request in the editor."""

from __future__ import annotations

from typing import Any

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest, ChangeStatus
from personas_app.persona.redaction import SECRET_MARKER
from tests.builders import persona_doc
from tests.formdata import form_data, with_values


def _editor(client: Any, url: str) -> Any:
    return form_data(client.get(url).content.decode())


def test_propose_saves_a_change_request_and_sends_nothing(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _editor(bob_client, f"/w/acme/personas/{persona_id}/edit/")

    response = bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(
            data,
            {
                "identity-context": "Proposed context",
                "submit": "propose",
                "cr_title": "Better context",
            },
        ),
    )

    change = ChangeRequest.objects.get()
    assert response["Location"] == f"/w/acme/reviews/{change.pk}/"
    assert change.title == "Better context" and change.status == ChangeStatus.OPEN
    assert change.ops == [{"op": "replace", "path": "/context", "value": "Proposed context"}]
    assert tavus.count(method="PATCH") == 0


def test_workspace_needing_approval_offers_only_propose(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    persona_id = tavus.put_persona(persona_doc())
    page = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()
    data = form_data(page)

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-context": "Sneaky direct apply", "submit": "apply"}),
    )

    assert "Apply to Tavus" not in page and "Propose change for review" in page
    assert tavus.count(method="PATCH") == 0
    assert ChangeRequest.objects.get().ops[0]["value"] == "Sneaky direct apply"


def test_proposed_secret_is_sealed_not_stored_in_clear(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _editor(bob_client, f"/w/acme/personas/{persona_id}/edit/")

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"llm-api_key": "sk-proposed-SECRET42", "submit": "propose"}),
    )

    change = ChangeRequest.objects.get()
    assert change.proposed_document["layers"]["llm"]["api_key"] == SECRET_MARKER
    assert "SECRET42" not in str(change.ops) + str(change.proposed_document) + change.secrets_sealed


def test_editing_a_change_request_in_the_editor_updates_it(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    data = _editor(bob_client, f"/w/acme/personas/{persona_id}/edit/")
    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(data, {"identity-context": "First idea", "submit": "propose"}),
    )
    change = ChangeRequest.objects.get()
    page = bob_client.get(f"/w/acme/personas/{persona_id}/edit/?cr={change.pk}").content.decode()
    assert "First idea" in page and "Save to the change request" in page

    bob_client.post(
        f"/w/acme/personas/{persona_id}/edit/",
        with_values(form_data(page), {"identity-context": "Second idea", "submit": "save_cr"}),
    )

    change.refresh_from_db()
    assert change.ops == [{"op": "replace", "path": "/context", "value": "Second idea"}]
    assert tavus.count(method="PATCH") == 0
    assert tavus.count(method="GET", path_prefix=f"/v2/personas/{persona_id}") == 1

"""When Tavus cannot show a persona, its pages still offer what the last recorded version allows:
restoring a persona deleted on Tavus, or drafting a change request while Tavus is down."""

from __future__ import annotations

from typing import Any

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest
from tests.builders import persona_doc
from tests.formdata import form_data, with_values


def _posted(data: Any) -> dict[str, list[str]]:
    return dict(data.lists())


def test_a_persona_deleted_on_tavus_can_be_restored_from_its_last_version(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    assert bob_client.get(f"/w/acme/personas/{persona_id}/").status_code == 200  # recorded
    del tavus.personas[persona_id]  # deleted in the Tavus portal

    page = bob_client.get(f"/w/acme/personas/{persona_id}/").content.decode()
    assert "Restore from the last version" in page
    create = bob_client.get(f"/w/acme/personas/new/?restore={persona_id}").content.decode()
    assert "Restoring “Front desk” from the last version" in create
    response = bob_client.post(
        "/w/acme/personas/new/", _posted(with_values(form_data(create), {"submit": "create"}))
    )

    assert response.status_code == 302
    [created] = [r.body for r in tavus.requests if r.method == "POST"]
    assert created["persona_name"] == "Front desk"
    assert created["context"] == "Acme sells garden tools."


def test_while_tavus_is_down_the_editor_drafts_a_change_request_from_the_last_version(
    bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    assert bob_client.get(f"/w/acme/personas/{persona_id}/").status_code == 200  # recorded
    tavus.fail_next(50, 503)

    page = bob_client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()
    assert "Draft a change request from the last version" in page
    draft = bob_client.get(f"/w/acme/personas/{persona_id}/edit/?from=last").content.decode()
    assert "Apply to Tavus" not in draft
    typed = with_values(form_data(draft), {"identity-context": "Seeds too.", "submit": "propose"})
    response = bob_client.post(f"/w/acme/personas/{persona_id}/edit/", _posted(typed))

    assert response.status_code == 302
    change = ChangeRequest.objects.get(persona_id=persona_id)
    assert change.ops == [{"op": "replace", "path": "/context", "value": "Seeds too."}]
    assert tavus.count("PATCH") == 0


def test_a_viewer_is_offered_neither(
    member_client: Any, bob_client: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front desk"))
    bob_client.get(f"/w/acme/personas/{persona_id}/")
    del tavus.personas[persona_id]

    page = member_client("viewer").get(f"/w/acme/personas/{persona_id}/").content.decode()

    assert "Restore from the last version" not in page

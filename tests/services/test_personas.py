"""persona_safe_apply: the one apply path of direct edits and change requests.

It re-reads the live persona, carries the change over to it (or reports a conflict and sends
nothing), sends one PATCH and audits it. Tavus is the emulator; what reached it is read from its
request log.
"""

from __future__ import annotations

import copy
from typing import Any

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Workspace
from personas_app.services.personas import persona_fetch, persona_safe_apply
from tests.builders import persona_doc


def _patches(tavus: EmulatorState) -> int:
    return tavus.count("PATCH")


def test_an_unchanged_persona_gets_exactly_the_edit(
    workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    base = tavus_persona(tavus, persona_id)
    proposed = copy.deepcopy(base)
    proposed["context"] = "Acme sells garden tools and seeds."

    applied = persona_safe_apply(
        workspace=workspace, persona_id=persona_id, base=base, proposed=proposed, actor=alice
    )

    assert applied.conflicts == [] and not applied.rebased
    assert applied.ops == [
        {"op": "replace", "path": "/context", "value": "Acme sells garden tools and seeds."}
    ]
    assert _patches(tavus) == 1
    assert tavus_persona(tavus, persona_id)["context"] == "Acme sells garden tools and seeds."
    assert AuditEvent.objects.filter(persona_id=persona_id, action="persona.patched").count() == 1


def test_an_outside_change_elsewhere_is_kept_and_recorded(
    workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    base = persona_fetch(workspace=workspace, persona_id=persona_id).persona  # the editor opens
    proposed = copy.deepcopy(base)
    proposed["context"] = "New context."
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/persona_name", "value": "Renamed in the portal"}]
    )

    applied = persona_safe_apply(
        workspace=workspace, persona_id=persona_id, base=base, proposed=proposed, actor=alice
    )

    live = tavus_persona(tavus, persona_id)
    assert applied.rebased and applied.conflicts == []
    assert (live["persona_name"], live["context"]) == ("Renamed in the portal", "New context.")
    assert AuditEvent.objects.filter(persona_id=persona_id, action="persona.changed_outside")


def test_a_conflict_on_the_same_field_sends_nothing(
    workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    base = tavus_persona(tavus, persona_id)
    proposed = copy.deepcopy(base)
    proposed["context"] = "Mine."
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "Theirs."}])

    applied = persona_safe_apply(
        workspace=workspace, persona_id=persona_id, base=base, proposed=proposed, actor=alice
    )

    assert [c.pointer for c in applied.conflicts] == ["/context"]
    assert applied.outcome is None and _patches(tavus) == 0
    assert tavus_persona(tavus, persona_id)["context"] == "Theirs."


def tavus_persona(tavus: EmulatorState, persona_id: str) -> dict[str, Any]:
    return copy.deepcopy(tavus.personas[persona_id])

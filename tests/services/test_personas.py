"""persona_safe_apply: the one apply path of direct edits and change requests.

It re-reads the live persona, carries the change over to it (or reports a conflict and sends
nothing), sends one PATCH and audits it. Tavus is the emulator; what reached it is read from its
request log.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import pytest
from django.db import connection

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Workspace
from personas_app.services.personas import persona_fetch, persona_safe_apply
from tests.builders import make_user, persona_doc


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


@pytest.mark.django_db(transaction=True)
def test_an_apply_waiting_for_tavus_holds_no_database_lock(
    settings: Any, workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    """While the PATCH waits for Tavus, the rest of the dashboard keeps writing (on SQLite an open
    transaction would hold the one write lock: every page saving its session would wait)."""
    settings.TAVUS_TIMEOUT_READ = 20.0
    persona_id = tavus.put_persona(persona_doc())
    base = tavus_persona(tavus, persona_id)
    proposed = {**copy.deepcopy(base), "context": "Acme sells garden tools and seeds."}
    tavus.hang_next(1, 4.0, methods={"PATCH"})
    before = tavus.arrived()
    done: list[object] = []

    def apply() -> None:
        try:
            done.append(
                persona_safe_apply(
                    workspace=workspace,
                    persona_id=persona_id,
                    base=base,
                    proposed=proposed,
                    actor=alice,
                )
            )
        finally:
            connection.close()

    worker = threading.Thread(target=apply)
    worker.start()
    deadline = time.monotonic() + 10
    while tavus.arrived() < before + 2 and time.monotonic() < deadline:  # the GET, then the PATCH
        time.sleep(0.01)

    make_user("zoe")  # a write of the dashboard's while the PATCH is in flight

    assert _patches(tavus) == 0  # the write did not wait for Tavus's answer
    worker.join(timeout=30)
    assert _patches(tavus) == 1 and len(done) == 1
    assert tavus_persona(tavus, persona_id)["context"] == "Acme sells garden tools and seeds."

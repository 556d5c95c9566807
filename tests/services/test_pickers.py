"""The picker lists (replicas, documents, objectives, guardrails): cached per workspace, and the
names of what a persona points at."""

from __future__ import annotations

from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from personas_app.services.personas import (
    guardrails_for_picker,
    objectives_for_picker,
    persona_reference_names,
)
from personas_app.tavus import TavusUnavailable
from tests.builders import persona_doc


def test_objectives_and_guardrails_are_read_once_per_workspace(
    workspace: Any, tavus: EmulatorState
) -> None:
    for _ in range(2):
        objectives = objectives_for_picker(workspace=workspace)
        guardrails = guardrails_for_picker(workspace=workspace)

    assert [o["objective_name"] for o in objectives][:1] == ["collect_contact_details"]
    assert {g["guardrail_name"] for g in guardrails} >= {"no_competitors", "check_if_alone"}
    assert tavus.count(path_prefix="/v2/objectives") == 1
    assert tavus.count(path_prefix="/v2/guardrails") == 1


def test_a_failed_read_raises_and_is_not_cached(workspace: Any, tavus: EmulatorState) -> None:
    tavus.fail_next(1, 500, methods={"GET"})

    with pytest.raises(TavusUnavailable):
        guardrails_for_picker(workspace=workspace)
    assert len(guardrails_for_picker(workspace=workspace)) == 4


def test_reference_names_read_only_the_lists_the_persona_points_into(
    workspace: Any, tavus: EmulatorState
) -> None:
    persona = persona_doc(objectives_id="o8b3f6a0d1c9")
    persona.pop("default_replica_id")

    names = persona_reference_names(workspace=workspace, persona=persona)

    assert set(names.by_pointer) == {"/objectives_id"}
    assert names.by_pointer["/objectives_id"]["o8b3f6a0d1c9"] == "qualify_lead"
    assert names.complete
    assert [r.path for r in tavus.requests] == ["/v2/objectives"]


def test_reference_names_from_the_cache_only_ask_tavus_nothing(
    workspace: Any, tavus: EmulatorState
) -> None:
    persona = persona_doc(guardrail_ids=["g7d2b5e1a0c3"])

    cold = persona_reference_names(workspace=workspace, persona=persona, cached_only=True)
    guardrails_for_picker(workspace=workspace)
    warm = persona_reference_names(workspace=workspace, persona=persona, cached_only=True)

    assert (cold.by_pointer, cold.complete) == ({}, False)
    assert set(warm.by_pointer) == {"/guardrail_ids"}
    assert warm.by_pointer["/guardrail_ids"]["g7d2b5e1a0c3"] == "no_competitors"
    assert not warm.complete  # the replica list is still not cached
    assert tavus.count() == 1


def test_reference_names_leave_out_a_list_tavus_cannot_give(
    workspace: Any, tavus: EmulatorState
) -> None:
    persona = persona_doc(objectives_id="o8b3f6a0d1c9")
    tavus.fail_next(1, 500, methods={"GET"})  # the replica list, read first

    names = persona_reference_names(workspace=workspace, persona=persona)

    assert "/default_replica_id" not in names.by_pointer
    assert names.by_pointer["/objectives_id"]["o8b3f6a0d1c9"] == "qualify_lead"
    assert not names.complete

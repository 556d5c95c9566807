"""The task queue: a real `manage.py db_worker` process runs what the dashboard enqueues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django_tasks import TaskResultStatus, task_backends
from django_tasks_db import DatabaseBackend

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeSetStatus, ItemStatus, Workspace
from personas_app.services.changesets import change_set_apply, change_set_create
from tests.builders import make_user, persona_doc
from tests.workers import count_users, wait_until, worker_pool

pytestmark = pytest.mark.django_db(transaction=True)


def test_tasks_use_the_database_backend() -> None:
    assert settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    assert isinstance(task_backends["default"], DatabaseBackend)


def test_a_worker_process_runs_a_task_against_the_test_database(tmp_path: Path) -> None:
    make_user("alice")
    make_user("bob")
    result = count_users.enqueue()
    assert result.status == TaskResultStatus.READY
    with worker_pool(tmp_path) as pool:
        pool.start()

        def finished() -> bool:
            result.refresh()
            return result.is_finished

        wait_until(finished, timeout=30, what="the worker to run the task", pool=pool)
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == 2


# -- Change sets on real workers --------------------------------------------------------------------

# Short Tavus timeouts for the workers: a claim's lease (claim_lease) is then a few seconds.
WORKER_ENV = {"TAVUS_TIMEOUT_CONNECT": "0.25", "TAVUS_TIMEOUT_READ": "1", "TAVUS_RETRIES": "0"}
ADD_SPARROW = [{"op": "add_item", "path": "/layers/stt/hotwords", "value": "Sparrow"}]


def _personas(tavus: EmulatorState, count: int) -> list[str]:
    return [tavus.put_persona(persona_doc(persona_name=f"Agent {i:02}")) for i in range(count)]


def _patches(tavus: EmulatorState, persona_id: str) -> list[int]:
    """The statuses of every PATCH the emulator answered for one persona."""
    return [
        r.status
        for r in tavus.requests
        if r.method == "PATCH" and r.path == f"/v2/personas/{persona_id}"
    ]


def test_a_worker_killed_mid_apply_leaves_no_persona_patched_twice(
    workspace: Workspace, bob: Any, tavus: EmulatorState, tmp_path: Path
) -> None:
    ids = _personas(tavus, 10)
    cs = change_set_create(
        workspace=workspace, actor=bob, persona_ids=ids, edit=ADD_SPARROW, title="Add Sparrow"
    )
    tavus.set_latency(40)
    with worker_pool(tmp_path, WORKER_ENV) as pool:
        first = pool.start("first")
        change_set_apply(change_set=cs, actor=bob)
        wait_until(
            lambda: cs.items.filter(status=ItemStatus.SENT).count() >= 3,
            timeout=60,
            what="three personas to be sent",
            pool=pool,
        )
        # The next PATCH hangs in Tavus for 1.5 s: kill the worker while it waits for the
        # answer (Tavus still saves the change after the worker is gone). The worker makes one
        # request at a time, each answered in 40 ms, so a request unanswered for several polls
        # in a row is the hanging PATCH.
        tavus.hang_next(1, 1.5, methods={"PATCH"})
        polls_in_flight = [0]

        def patch_hanging() -> bool:
            waiting = tavus.arrived() > len(tavus.requests)
            polls_in_flight[0] = polls_in_flight[0] + 1 if waiting else 0
            return polls_in_flight[0] >= 8

        wait_until(patch_hanging, timeout=30, what="a PATCH in flight", pool=pool)
        first.kill()
        [held] = cs.items.filter(status=ItemStatus.WAITING).exclude(claimed_by="")
        pool.start("second")

        def finished() -> bool:
            cs.refresh_from_db()
            return cs.is_finished

        wait_until(finished, timeout=60, what="the change set to finish", pool=pool)

    assert cs.status == ChangeSetStatus.APPLIED
    for persona_id in ids:
        assert _patches(tavus, persona_id) == [200], persona_id
        assert "Sparrow" in tavus.personas[persona_id]["layers"]["stt"]["hotwords"]
    held.refresh_from_db()
    assert held.status == ItemStatus.SENT
    assert "already holds this change" in held.message
    assert held.claimed_by.startswith("second:")
    assert held.attempts == 2


@pytest.mark.postgres
def test_two_workers_share_the_queue_and_each_persona_is_patched_once(
    workspace: Workspace, bob: Any, tavus: EmulatorState, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises every writer, so workers take turns.")
    ids = _personas(tavus, 16)
    cs = change_set_create(
        workspace=workspace, actor=bob, persona_ids=ids, edit=ADD_SPARROW, title="Add Sparrow"
    )
    tavus.set_latency(60)
    with worker_pool(tmp_path, WORKER_ENV) as pool:
        pool.start("w1")
        pool.start("w2")
        change_set_apply(change_set=cs, actor=bob)

        def finished() -> bool:
            cs.refresh_from_db()
            return cs.is_finished

        wait_until(finished, timeout=60, what="the change set to finish", pool=pool)

    assert cs.status == ChangeSetStatus.APPLIED
    for persona_id in ids:
        assert _patches(tavus, persona_id) == [200], persona_id
    workers = {item.claimed_by.split(":")[0] for item in cs.items.all()}
    assert workers == {"w1", "w2"}

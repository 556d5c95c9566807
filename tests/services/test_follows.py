"""Followed personas are checked on Tavus in the background: a change made in the Tavus portal
reaches the followers even when nobody opens the persona in the dashboard.

The check is a django-tasks task on the database queue; here the queued task's function is run
as a worker would run it, at its due time (tests/test_notifications_worker.py runs a real worker
for the notification emails)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import Notification, NotificationKind, PersonaFollow, Workspace
from personas_app.services import follows
from personas_app.services.personas import persona_fetch
from tests.builders import persona_doc

pytestmark = pytest.mark.django_db

CHECK_TASK = "personas_app.services.follows.followed_personas_check_task"


@pytest.fixture(autouse=True)
def _queue(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.FOLLOW_CHECK_MINUTES = 15


def _queued() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=CHECK_TASK).order_by("run_after"))


def _follow(user: Any, workspace: Workspace, persona_id: str) -> None:
    follows.persona_follow_set(
        user=user, workspace_id=workspace.pk, persona_id=persona_id, follow=True
    )


def _run_due(task: DBTaskResult, capture: Any) -> int:
    """What a worker does once the task is due (a worker commits as it goes: `capture` runs what
    waits for the commit, the followers' notifications)."""
    with (
        mock.patch("django.utils.timezone.now", return_value=task.run_after),
        capture(execute=True),
    ):
        return int(follows.followed_personas_check_task.call(*task.args_kwargs["args"]))


def test_following_schedules_one_check_of_the_workspace(
    workspace: Workspace, alice: Any, bob: Any, tavus: EmulatorState
) -> None:
    first, second = tavus.put_persona(persona_doc()), tavus.put_persona(persona_doc())
    before = timezone.now()

    _follow(bob, workspace, first)
    _follow(alice, workspace, second)  # the check is already scheduled: not a second one

    [task] = _queued()
    assert task.args_kwargs["args"] == [workspace.pk]
    assert (
        before + timedelta(minutes=15) <= task.run_after <= timezone.now() + timedelta(minutes=15)
    )
    assert tavus.count("GET") == 0  # nothing is read until the check runs


def test_a_change_made_on_tavus_reaches_the_followers_without_anyone_opening_it(
    workspace: Workspace,
    alice: Any,
    bob: Any,
    tavus: EmulatorState,
    django_capture_on_commit_callbacks: Any,
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    persona_fetch(workspace=workspace, persona_id=persona_id)  # the dashboard knows this version
    _follow(bob, workspace, persona_id)
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "New"}])
    [task] = _queued()

    assert _run_due(task, django_capture_on_commit_callbacks) == 1

    [note] = Notification.objects.filter(recipient=bob)
    assert note.kind == NotificationKind.PERSONA_CHANGED_OUTSIDE
    assert "Front Desk" in note.title
    assert not Notification.objects.filter(recipient=alice).exists()  # alice follows nothing
    # The next check is scheduled, one interval after this one.
    [task] = _queued()[-1:]
    assert task.run_after > timezone.now()


def test_an_unchanged_persona_notifies_nobody_and_a_check_without_followers_stops(
    workspace: Workspace,
    bob: Any,
    tavus: EmulatorState,
    django_capture_on_commit_callbacks: Any,
) -> None:
    persona_id = tavus.put_persona(persona_doc())
    persona_fetch(workspace=workspace, persona_id=persona_id)
    _follow(bob, workspace, persona_id)
    [task] = _queued()
    DBTaskResult.objects.all().delete()  # the worker took it

    assert _run_due(task, django_capture_on_commit_callbacks) == 0
    assert not Notification.objects.exists()
    [task] = _queued()  # still followed: checked again later

    PersonaFollow.objects.all().delete()
    DBTaskResult.objects.all().delete()
    assert _run_due(task, django_capture_on_commit_callbacks) == 0
    assert _queued() == []  # nobody follows anything: no more checks


def test_a_persona_tavus_cannot_give_is_skipped_and_the_others_still_checked(
    workspace: Workspace,
    bob: Any,
    tavus: EmulatorState,
    django_capture_on_commit_callbacks: Any,
) -> None:
    kept = tavus.put_persona(persona_doc(persona_name="Kept"))
    gone = tavus.put_persona(persona_doc(persona_name="Gone"))
    for persona_id in (kept, gone):
        persona_fetch(workspace=workspace, persona_id=persona_id)
        _follow(bob, workspace, persona_id)
    tavus.edit_persona(kept, [{"op": "replace", "path": "/context", "value": "New"}])
    del tavus.personas[gone]  # deleted in the Tavus portal
    [task] = _queued()

    assert _run_due(task, django_capture_on_commit_callbacks) == 1
    [note] = Notification.objects.filter(recipient=bob)
    assert "Kept" in note.title


def test_checks_can_be_turned_off(
    settings: Any, workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    settings.FOLLOW_CHECK_MINUTES = 0
    _follow(bob, workspace, tavus.put_persona(persona_doc()))
    assert _queued() == []

"""The task queue: a real `manage.py db_worker` process runs what the dashboard enqueues."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django_tasks import TaskResultStatus, task_backends
from django_tasks_db import DatabaseBackend

from tests.builders import make_user
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

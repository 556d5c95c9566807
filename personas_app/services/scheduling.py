"""One pending background task per row, at a due time: a user's daily digest, the check of a
workspace's followed personas.

The row holds the task's due time in a nullable DateTimeField. `schedule_once` sets it with one
conditional UPDATE, where no task is pending or where the pending one is overdue by more than
`lost_after` (its task was lost: a worker killed mid-run, a deleted task row), and enqueues the
task only when this call set it, so callers racing each other schedule one task. The task clears
the field when it starts, so what happens while it runs schedules the next one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

if TYPE_CHECKING:
    from django_tasks.base import Task

__all__ = ["schedule_once"]


def schedule_once(
    rows: QuerySet[Any],
    *,
    field: str,
    due: datetime,
    lost_after: timedelta,
    task: Task[..., Any],
    args: tuple[object, ...],
) -> bool:
    """Schedule `task(*args)` at `due` unless one is pending for `rows` (one row); True when
    this call scheduled it. A task backend that cannot wait (the immediate one some tests use)
    schedules nothing."""
    if not task.get_backend().supports_defer:
        return False
    now = timezone.now()
    not_pending = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now - lost_after})
    if not rows.filter(not_pending).update(**{field: due}):
        return False
    task.using(run_after=due).enqueue(*args)
    return True

"""Following a persona, and checking followed personas on Tavus in the background.

A follower hears when a persona is changed outside the dashboard (the Tavus portal, the API). The
dashboard notices such a change whenever it reads the persona (services.personas.persona_observe
records it and notifies the followers); so that followers hear of it even when nobody opens the
persona, the task workers also read every followed persona of a workspace every
FOLLOW_CHECK_MINUTES. One check per workspace is pending at a time: following a persona schedules
it (a conditional UPDATE of Workspace.follow_check_due_at, as the daily digest does), and each
check schedules the next while anyone in the workspace follows a persona.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_tasks import task

from ..models import Membership, PersonaFollow, Workspace
from ..tavus import TavusError
from .personas import persona_fetch
from .scheduling import schedule_once
from .workspaces import NoActiveKey

__all__ = [
    "follow_check_schedule",
    "followed_personas_check",
    "followed_personas_check_task",
    "persona_follow_set",
]

logger = logging.getLogger(__name__)


def persona_follow_set(
    *, user: AbstractBaseUser, workspace_id: int, persona_id: str, follow: bool
) -> None:
    """Follow or stop following a persona (doing it twice changes nothing); members only.
    Following schedules the workspace's background check of followed personas."""
    if not Membership.objects.filter(workspace_id=workspace_id, user_id=user.pk).exists():
        raise PermissionDenied("You are not a member of this workspace.")
    if follow:
        PersonaFollow.objects.get_or_create(
            user_id=user.pk, workspace_id=workspace_id, persona_id=persona_id
        )
        follow_check_schedule(workspace_id=workspace_id)
    else:
        PersonaFollow.objects.filter(
            user_id=user.pk, workspace_id=workspace_id, persona_id=persona_id
        ).delete()


def follow_check_schedule(*, workspace_id: int) -> None:
    """Make sure the workspace's check of followed personas is scheduled: one pending task per
    workspace, FOLLOW_CHECK_MINUTES from now (0 turns the checks off); one overdue by more than an
    interval was lost and is replaced (services.scheduling)."""
    interval = timedelta(minutes=settings.FOLLOW_CHECK_MINUTES)
    if not interval:
        return
    schedule_once(
        Workspace.objects.filter(pk=workspace_id),
        field="follow_check_due_at",
        due=timezone.now() + interval,
        lost_after=interval,
        task=followed_personas_check_task,
        args=(workspace_id,),
    )


def followed_personas_check(*, workspace_id: int) -> int:
    """Read every persona followed in the workspace once (persona_fetch records a change made
    elsewhere and notifies its followers). Returns how many had changed. A persona Tavus cannot
    give (gone, Tavus down, no key) is logged and left for the next check."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return 0
    followed = (
        PersonaFollow.objects.filter(workspace_id=workspace_id)
        .values_list("persona_id", flat=True)
        .distinct()
        .order_by("persona_id")
    )
    changed = 0
    for persona_id in followed:
        try:
            fetched = persona_fetch(
                workspace=workspace,
                persona_id=persona_id,
                request_id=f"follow-check-{workspace_id}",
            )
        except (TavusError, NoActiveKey) as exc:
            logger.warning("Followed persona %s not checked: %s", persona_id, exc)
            continue
        changed += fetched.outside_change is not None
    return changed


@task()
def followed_personas_check_task(workspace_id: int) -> int:
    """One check of a workspace's followed personas, then the next one scheduled (while anyone
    there follows a persona)."""
    Workspace.objects.filter(pk=workspace_id).update(follow_check_due_at=None)
    try:
        return followed_personas_check(workspace_id=workspace_id)
    finally:
        if PersonaFollow.objects.filter(workspace_id=workspace_id).exists():
            follow_check_schedule(workspace_id=workspace_id)

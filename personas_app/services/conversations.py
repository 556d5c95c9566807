"""Test conversations with a persona: start, check, end (one, all of mine, or forgotten ones).

Each start and each end is audited ("conversation.started" / "conversation.ended"), failures too,
so a forgotten call can always be traced to whoever started it. The Tavus call happens first; the
Conversation row and the audit record are then written together in one transaction.

Tavus counts every live conversation against a per-account cap (api-notes §1.5), so the dashboard
keeps its own list of what it started and ends the ones that outlive the workspace's limit.
Must not import views, forms or anything HTTP besides the Tavus client.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Conversation, Workspace
from ..persona.jsontypes import JSONObject
from ..tavus import TavusClient, TavusError, TavusNotFound
from .audit import audit_record
from .workspaces import NoActiveKey, tavus_client_for

ENDED = "ended"
ACTIVE = "active"
# Who "ended" a conversation when no person did.
ENDED_BY_TEST_MODE = "Tavus (test mode)"
ENDED_BY_TAVUS = "Tavus"
ENDED_BY_SYSTEM = "system"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _join_link(value: object) -> str:
    # The link is rendered as an href: only web addresses, never e.g. a "javascript:" URL.
    url = _text(value).strip()
    return url[:500] if url.startswith(("https://", "http://")) else ""


def default_conversation_name(*, persona_name: str, actor: AbstractBaseUser | None) -> str:
    """The name a test call gets unless the user types one: "Test of Sales Coach by alice"."""
    who = actor.get_username() if actor is not None else "Persona Studio"
    return f"Test of {persona_name or 'a persona'} by {who}"[:255]


def conversations_active(*, workspace: Workspace) -> QuerySet[Conversation]:
    """Conversations the dashboard started that are still running, newest first."""
    return (
        Conversation.objects.filter(workspace=workspace, ended_at__isnull=True)
        .exclude(status=ENDED)
        .select_related("started_by")
        .order_by("-started_at", "-id")
    )


def conversations_recently_ended(*, workspace: Workspace, limit: int = 20) -> list[Conversation]:
    return list(
        Conversation.objects.filter(workspace=workspace, ended_at__isnull=False).order_by(
            "-ended_at", "-id"
        )[:limit]
    )


def conversation_start(
    *,
    workspace: Workspace,
    persona_id: str,
    actor: AbstractBaseUser | None,
    replica_id: str | None = None,
    test_mode: bool = False,
    conversation_name: str | None = None,
    custom_greeting: str | None = None,
    conversational_context: str | None = None,
    request_id: str = "",
    persona: JSONObject | None = None,
) -> Conversation:
    """Start a Tavus conversation with a persona and record who started it.

    `persona` is the persona as already fetched by the caller (saves a GET); without it the
    persona is read here for its name and default replica. Without `replica_id` the persona's
    default replica joins. Raises the TavusError (TavusConcurrencyLimit when the account's cap is
    reached) after auditing the failed attempt; NoActiveKey when the workspace has no key.
    """
    client = tavus_client_for(workspace)
    if persona is None:
        try:
            persona = client.get_persona(persona_id)
        except TavusError:
            # The POST below reports the real problem (and is audited); the name is a nicety.
            persona = {}
    persona_name = _text(persona.get("persona_name"))
    replica_id = _blank_to_none(replica_id) or _blank_to_none(
        _text(persona.get("default_replica_id"))
    )
    conversation_name = _blank_to_none(conversation_name) or default_conversation_name(
        persona_name=persona_name, actor=actor
    )
    custom_greeting = _blank_to_none(custom_greeting)
    conversational_context = _blank_to_none(conversational_context)
    sent: JSONObject = {"persona_id": persona_id, "conversation_name": conversation_name}
    for key, value in (
        ("replica_id", replica_id),
        ("custom_greeting", custom_greeting),
        ("conversational_context", conversational_context),
    ):
        if value is not None:
            sent[key] = value
    if test_mode:
        sent["test_mode"] = True
    try:
        created = client.create_conversation(
            persona_id=persona_id,
            replica_id=replica_id,
            conversation_name=conversation_name,
            test_mode=test_mode,
            custom_greeting=custom_greeting,
            conversational_context=conversational_context,
        )
    except TavusError as exc:
        audit_record(
            workspace=workspace,
            actor=actor,
            action="conversation.started",
            request_id=request_id,
            persona_id=persona_id,
            persona_name=persona_name,
            payload=sent,
            error=exc,
            note="test mode" if test_mode else "",
        )
        raise
    conversation_id = _text(created.get("conversation_id"))
    status = _text(created.get("status")) or (ENDED if test_mode else ACTIVE)
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            workspace=workspace,
            conversation_id=conversation_id,
            conversation_name=(_text(created.get("conversation_name")) or conversation_name)[:255],
            conversation_url=_join_link(created.get("conversation_url")),
            persona_id=persona_id,
            persona_name=persona_name[:255],
            replica_id=replica_id or "",
            status=status[:20],
            test_mode=test_mode,
            started_by=actor,
            started_by_name=actor.get_username() if actor is not None else ENDED_BY_SYSTEM,
            # Test mode: no replica joins and Tavus answers with the call already over.
            ended_at=now if status == ENDED else None,
            ended_by_name=ENDED_BY_TEST_MODE if status == ENDED else "",
        )
        audit_record(
            workspace=workspace,
            actor=actor,
            action="conversation.started",
            request_id=request_id,
            persona_id=persona_id,
            persona_name=persona_name,
            target=conversation_id,
            payload=sent,
            http_status=200,
            note="test mode: no replica joined, nothing billed" if test_mode else "",
        )
    return conversation


def _mark_ended(
    *,
    conversation: Conversation,
    actor: AbstractBaseUser | None,
    ended_by_name: str,
    request_id: str,
    note: str,
) -> bool:
    """Mark the row ended and audit it, once: False when someone else already did."""
    with transaction.atomic():
        row = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not row.is_active:
            conversation.status, conversation.ended_at = row.status, row.ended_at
            conversation.ended_by_name = row.ended_by_name
            return False
        row.status = ENDED
        row.ended_at = timezone.now()
        row.ended_by_name = ended_by_name[:150]
        row.save(update_fields=["status", "ended_at", "ended_by_name"])
        audit_record(
            workspace=row.workspace,
            actor=actor,
            action="conversation.ended",
            request_id=request_id,
            persona_id=row.persona_id,
            persona_name=row.persona_name,
            target=row.conversation_id,
            http_status=200,
            note=note,
        )
    conversation.status, conversation.ended_at = row.status, row.ended_at
    conversation.ended_by_name = row.ended_by_name
    return True


def conversation_refresh(
    *,
    workspace: Workspace,
    conversation: Conversation,
    request_id: str = "",
    client: TavusClient | None = None,
) -> Conversation:
    """Ask Tavus for the conversation's status; mark it ended when Tavus says it is over.

    A conversation Tavus no longer knows counts as ended. Other failures raise TavusError and
    leave the row as it was.
    """
    if not conversation.is_active:
        return conversation
    client = client or tavus_client_for(workspace)
    try:
        current = client.get_conversation(conversation.conversation_id)
    except TavusNotFound:
        _mark_ended(
            conversation=conversation,
            actor=None,
            ended_by_name=ENDED_BY_TAVUS,
            request_id=request_id,
            note="Tavus no longer knows this conversation",
        )
        return conversation
    status = _text(current.get("status"))
    if status == ENDED:
        _mark_ended(
            conversation=conversation,
            actor=None,
            ended_by_name=ENDED_BY_TAVUS,
            request_id=request_id,
            note="ended on Tavus (everyone left, or it was ended elsewhere)",
        )
    elif status and status != conversation.status:
        conversation.status = status[:20]
        conversation.save(update_fields=["status"])
    return conversation


def conversations_refresh_active(*, workspace: Workspace, request_id: str = "") -> int:
    """Check every running conversation with one list request; returns how many had ended.

    Reads Tavus's list of active conversations (a few pages at most); when the list cannot be read
    completely nothing is changed, so a conversation is never marked ended by mistake.
    """
    running = list(conversations_active(workspace=workspace))
    if not running:
        return 0
    client = tavus_client_for(workspace)
    still_active: set[str] = set()
    page, limit, max_pages = 1, 100, 5
    while True:
        listing = client.list_conversations(page=page, limit=limit, status=ACTIVE)
        data = listing.get("data")
        items = data if isinstance(data, list) else []
        still_active |= {
            _text(item.get("conversation_id")) for item in items if isinstance(item, dict)
        }
        total = listing.get("total_count")
        seen_all = len(items) < limit or (isinstance(total, int) and page * limit >= total)
        if seen_all:
            break
        if page >= max_pages:
            return 0
        page += 1
    ended = 0
    for conversation in running:
        if conversation.conversation_id not in still_active:
            ended += _mark_ended(
                conversation=conversation,
                actor=None,
                ended_by_name=ENDED_BY_TAVUS,
                request_id=request_id,
                note="ended on Tavus (everyone left, or it was ended elsewhere)",
            )
    return ended


def conversation_end(
    *,
    workspace: Workspace,
    conversation: Conversation,
    actor: AbstractBaseUser | None,
    request_id: str = "",
    note: str = "",
    client: TavusClient | None = None,
) -> Conversation:
    """End a running conversation on Tavus and record who ended it.

    Ending one that is already over is fine and changes nothing. A failure is audited, then the
    TavusError is raised.
    """
    if not conversation.is_active:
        return conversation
    client = client or tavus_client_for(workspace)
    try:
        client.end_conversation(conversation.conversation_id)
    except TavusNotFound:
        pass  # already gone on Tavus: it is over either way
    except TavusError as exc:
        audit_record(
            workspace=workspace,
            actor=actor,
            action="conversation.ended",
            request_id=request_id,
            persona_id=conversation.persona_id,
            persona_name=conversation.persona_name,
            target=conversation.conversation_id,
            error=exc,
            note=note,
        )
        raise
    _mark_ended(
        conversation=conversation,
        actor=actor,
        ended_by_name=actor.get_username() if actor is not None else ENDED_BY_SYSTEM,
        request_id=request_id,
        note=note,
    )
    return conversation


def conversation_end_all_mine(
    *, workspace: Workspace, actor: AbstractBaseUser, request_id: str = ""
) -> int:
    """End every running conversation this user started in the workspace; returns how many.

    Stops at the first Tavus failure and raises it; the ones ended before it stay ended.
    """
    mine = list(conversations_active(workspace=workspace).filter(started_by=actor))
    if not mine:
        return 0
    client = tavus_client_for(workspace)
    ended = 0
    for conversation in mine:
        conversation_end(
            workspace=workspace,
            conversation=conversation,
            actor=actor,
            request_id=request_id,
            client=client,
        )
        ended += 1
    return ended


def conversations_stale(*, now: datetime | None = None) -> list[Conversation]:
    """Running conversations older than their workspace's limit, across all workspaces.

    A limit of 0 minutes means "never end automatically".
    """
    now = now or timezone.now()
    stale: list[Conversation] = []
    workspaces = Workspace.objects.filter(
        conversations__ended_at__isnull=True, conversation_max_minutes__gt=0
    ).distinct()
    for workspace in workspaces:
        cutoff = now - timedelta(minutes=workspace.conversation_max_minutes)
        stale += list(
            conversations_active(workspace=workspace)
            .filter(started_at__lt=cutoff)
            .order_by("started_at", "id")
        )
    return stale


def conversations_end_stale(
    *,
    now: datetime | None = None,
    on_error: Callable[[Conversation, Exception], None] | None = None,
) -> int:
    """End every conversation running longer than its workspace allows; returns how many.

    Meant for cron (manage.py end_stale_conversations). One failure does not stop the others:
    it is audited and handed to `on_error`.
    """
    ended = 0
    for conversation in conversations_stale(now=now):
        workspace = conversation.workspace
        minutes = workspace.conversation_max_minutes
        try:
            conversation_end(
                workspace=workspace,
                conversation=conversation,
                actor=None,
                note=f"ended automatically after {minutes} minute{'s' if minutes != 1 else ''}",
            )
        except (TavusError, NoActiveKey) as exc:
            if on_error is not None:
                on_error(conversation, exc)
            continue
        ended += 1
    return ended

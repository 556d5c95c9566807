"""The only writer of AuditEvent rows.

Every payload, op list and snapshot passes through redaction before it is stored, so no secret can
reach the audit table whatever the caller hands in.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from ..models import AuditEvent, Outcome, Workspace
from ..persona.jsontypes import JSON, JSONObject
from ..persona.redaction import redact, redact_ops
from ..tavus import TavusError


def _redact_payload(payload: JSON) -> JSON:
    if isinstance(payload, list):
        return redact_ops([op for op in payload if isinstance(op, dict)])  # type: ignore[return-value]
    if isinstance(payload, dict):
        return redact(payload)
    return payload


def audit_record(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    request_id: str = "",
    persona_id: str = "",
    persona_name: str = "",
    target: str = "",
    payload: JSON = None,
    before: JSONObject | None = None,
    after: JSONObject | None = None,
    error: TavusError | None = None,
    http_status: int | None = None,
    note: str = "",
    change_request_id: int | None = None,
    change_set_id: int | None = None,
) -> AuditEvent:
    """Append one audit record. `error` marks a failed upstream call and keeps its message."""
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        workspace=workspace,
        created_at=timezone.now(),
        request_id=request_id,
        actor=user,
        actor_name=user.get_username() if user is not None else "system",
        action=action,
        outcome=Outcome.ERROR if error is not None else Outcome.OK,
        persona_id=persona_id,
        persona_name=persona_name[:255],
        target=target[:255],
        http_status=error.status if error is not None else http_status,
        error_message=error.user_message if error is not None else "",
        payload=_redact_payload(payload),
        before=redact(before) if before is not None else None,
        after=redact(after) if after is not None else None,
        note=note,
        change_request_id=change_request_id,
        change_set_id=change_set_id,
    )

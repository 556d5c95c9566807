"""Persona reads and writes against Tavus, each write audited (successes and failures alike).

The HTTP call happens first; the audit record is written after it, so a failed call is still
recorded with Tavus's error. Every fetch of one persona compares it with the last version the
dashboard knows and records a "changed outside the dashboard" version when they differ.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from ..models import AuditEvent, Outcome, PersonaLock, Workspace
from ..persona.jsontypes import JSONObject, Op, from_pointer, lookup
from ..persona.patching import Conflict, apply_patch, minimal_patch, rebase
from ..persona.payloads import create_payload
from ..persona.redaction import contains_marker, redact, restore_ops
from ..persona.safety import storable
from ..tavus import TavusAnswerLost, TavusClient, TavusError
from .audit import audit_record
from .notifications import notify_persona_changed_outside
from .workspaces import NoActiveKey, tavus_client_for


def _name(doc: JSONObject | None) -> str:
    name = (doc or {}).get("persona_name")
    return name if isinstance(name, str) else ""


def last_known_version(*, workspace: Workspace, persona_id: str) -> AuditEvent | None:
    """The newest audit record holding a snapshot of this persona."""
    return (
        AuditEvent.objects.filter(
            workspace=workspace, persona_id=persona_id, outcome=Outcome.OK, after__isnull=False
        )
        .order_by("-id")
        .first()
    )


def known_stamp(*, workspace: Workspace, persona_id: str) -> object:
    """The updated_at of the last version the dashboard knows, read without loading the whole
    snapshot (None when it knows none)."""
    return (
        AuditEvent.objects.filter(
            workspace=workspace, persona_id=persona_id, outcome=Outcome.OK, after__isnull=False
        )
        .order_by("-id")
        .values_list("after__updated_at", flat=True)
        .first()
    )


def _stamp(persona: JSONObject) -> str | None:
    """The persona's updated_at (Tavus moves it on every change); None without one, and then
    versions are compared in full."""
    stamp = persona.get("updated_at")
    return stamp if isinstance(stamp, str) and stamp else None


_UNREAD = object()


def persona_observe(
    *,
    workspace: Workspace,
    persona: JSONObject,
    request_id: str = "",
    seen: JSONObject | None = None,
    known: object = _UNREAD,
) -> AuditEvent | None:
    """Record a version when a fetched persona differs from the last one the dashboard knows.

    Returns the new record ("changed outside" or "first seen"), or None when nothing changed.
    `seen` is redact(persona) and `known` is known_stamp(...) when the caller already has them.
    """
    persona_id = str(persona.get("persona_id", ""))
    if not persona_id:
        return None
    stamp = _stamp(persona)
    if stamp is not None and known is _UNREAD:
        known = known_stamp(workspace=workspace, persona_id=persona_id)
    if stamp is not None and known == stamp:
        return None
    seen = seen if seen is not None else redact(persona)
    last = last_known_version(workspace=workspace, persona_id=persona_id)
    if last is not None and last.after == seen:
        return None
    event = audit_record(
        workspace=workspace,
        actor=None,
        action="persona.first_seen" if last is None else "persona.changed_outside",
        request_id=request_id,
        persona_id=persona_id,
        persona_name=_name(persona),
        before=last.after if last is not None else None,
        after=persona,
    )
    if last is not None:
        notify_persona_changed_outside(event=event)
    return event


@dataclass
class Fetched:
    persona: JSONObject
    outside_change: AuditEvent | None

    @cached_property
    def redacted(self) -> JSONObject:
        """The persona with secrets masked, for pages (computed when first asked for)."""
        return redact(self.persona)


def persona_fetch(
    *,
    workspace: Workspace,
    persona_id: str,
    request_id: str = "",
    client: TavusClient | None = None,
) -> Fetched:
    """GET one persona (one upstream request) and note any change made outside the dashboard."""
    client = client or tavus_client_for(workspace)
    persona = _read_persona(client, persona_id)
    event = persona_observe(workspace=workspace, persona=persona, request_id=request_id)
    return Fetched(persona=persona, outside_change=_outside(event))


def _outside(event: AuditEvent | None) -> AuditEvent | None:
    """The "changed outside" record among what persona_observe returns (not "first seen")."""
    return event if event is not None and event.action == "persona.changed_outside" else None


def _read_persona(client: TavusClient, persona_id: str) -> JSONObject:
    """GET one persona, with any value the dashboard could not store or show replaced
    (persona.safety.storable): a persona given one through the Tavus API still opens."""
    persona = storable(client.get_persona(persona_id))
    assert isinstance(persona, dict)
    return persona


def persona_listing(
    *, workspace: Workspace, page: int, limit: int, persona_type: str
) -> JSONObject:
    """One page of the workspace's personas, as Tavus lists them (one upstream request)."""
    listing = storable(
        tavus_client_for(workspace).list_personas(page=page, limit=limit, persona_type=persona_type)
    )
    assert isinstance(listing, dict)
    return listing


_SEARCH_PAGE_LIMIT = 100
_SEARCH_MAX_PAGES = 10


def persona_search(
    *, workspace: Workspace, persona_type: str, query: str
) -> tuple[list[JSONObject], int]:
    """Personas whose name contains `query` or whose id is `query`, and how many.

    Tavus has no name search: up to 1 000 personas are read, a page after another, and filtered
    here.
    """
    client = tavus_client_for(workspace)
    found: list[JSONObject] = []
    needle = query.casefold()
    for page in range(1, _SEARCH_MAX_PAGES + 1):
        data = storable(
            client.list_personas(page=page, limit=_SEARCH_PAGE_LIMIT, persona_type=persona_type)
        ).get("data", [])
        assert isinstance(data, list)
        found += [
            p
            for p in data
            if isinstance(p, dict)
            and (
                needle in str(p.get("persona_name", "")).casefold()
                or needle == str(p.get("persona_id", "")).casefold()
            )
        ]
        if len(data) < _SEARCH_PAGE_LIMIT:
            break
    return found, len(found)


def _recorder(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser,
    action: str,
    request_id: str,
    persona_id: str,
    change_request_id: int | None,
    change_set_id: int | None = None,
    note: str = "",
) -> Callable[..., AuditEvent]:
    """audit_record with what every record of one write shares filled in."""
    return partial(
        audit_record,
        workspace=workspace,
        actor=actor,
        action=action,
        request_id=request_id,
        persona_id=persona_id,
        change_request_id=change_request_id,
        change_set_id=change_set_id,
        note=note,
    )


def persona_create(
    *,
    workspace: Workspace,
    document: JSONObject,
    actor: AbstractBaseUser,
    request_id: str = "",
    action: str = "persona.created",
    change_request_id: int | None = None,
    change_set_id: int | None = None,
) -> str:
    """POST a new persona; returns its id. Audited whether it succeeds or fails."""
    payload = create_payload(document)
    client = tavus_client_for(workspace)
    record = _recorder(
        workspace=workspace,
        actor=actor,
        action=action,
        request_id=request_id,
        persona_id="",
        change_request_id=change_request_id,
        change_set_id=change_set_id,
    )
    try:
        created = client.create_persona(payload)
    except TavusError as exc:
        record(persona_name=_name(payload), payload=payload, error=exc)
        raise
    persona_id = str(created.get("persona_id", ""))
    after: JSONObject = {**payload, **created}
    with suppress(TavusError):  # the create succeeded; the snapshot falls back to what was sent
        after = _read_persona(client, persona_id)
    record(
        persona_id=persona_id,
        persona_name=_name(after),
        payload=payload,
        after=after,
        http_status=200,
    )
    return persona_id


@dataclass
class PatchOutcome:
    changed: bool
    persona: JSONObject


def persona_apply_patch(
    *,
    workspace: Workspace,
    persona_id: str,
    ops: list[Op],
    before: JSONObject,
    actor: AbstractBaseUser,
    request_id: str = "",
    action: str = "persona.patched",
    note: str = "",
    change_request_id: int | None = None,
    change_set_id: int | None = None,
    client: TavusClient | None = None,
) -> PatchOutcome:
    """PATCH a persona with ops computed against `before`, re-read it and audit the change.

    An empty op list sends nothing. 304 from Tavus counts as "saved, nothing changed".
    """
    if not ops:
        return PatchOutcome(changed=False, persona=before)
    client = client or tavus_client_for(workspace)
    record = _recorder(
        workspace=workspace,
        actor=actor,
        action=action,
        request_id=request_id,
        persona_id=persona_id,
        change_request_id=change_request_id,
        change_set_id=change_set_id,
        note=note,
    )
    try:
        changed = client.patch_persona(persona_id, ops)
    except TavusError as exc:
        if not exc.answer_lost:
            record(persona_name=_name(before), payload=ops, before=before, error=exc)
            raise
        # The PATCH may have reached Tavus: read the persona back to tell what it holds.
        saved, live = _read_back(client, persona_id, before, ops, answered=exc.status is not None)
        if not saved:
            lost = TavusAnswerLost(exc, saved=saved)
            record(persona_name=_name(before), payload=ops, before=before, error=lost)
            raise lost from exc
        assert live is not None
        record(
            persona_name=_name(live),
            payload=ops,
            before=before,
            after=live,
            note=f"{note} (Tavus's answer was lost; reading the persona back showed it saved.)"
            if note
            else "Tavus's answer was lost; reading the persona back showed the change saved.",
        )
        return PatchOutcome(changed=True, persona=live)
    try:
        after = _read_persona(client, persona_id)
    except TavusError:
        after = apply_patch(copy.deepcopy(before), ops)
    record(
        persona_name=_name(after),
        payload=ops,
        before=before,
        after=after,
        http_status=200 if changed else 304,
    )
    return PatchOutcome(changed=changed, persona=after)


class MissingSecret(Exception):
    """A change would send a hidden secret whose value it does not hold: nothing is sent."""


# ops, the live persona, whether the ops were rebased -> the ops to send (secrets restored).
FinishOps = Callable[[list[Op], JSONObject, bool], list[Op]]


@dataclass
class SafeApply:
    """What persona_safe_apply did: `conflicts` (nothing sent) or `outcome` (one PATCH sent)."""

    live: JSONObject
    conflicts: list[Conflict]
    ops: list[Op]
    rebased: bool
    outcome: PatchOutcome | None


def persona_safe_apply(
    *,
    workspace: Workspace,
    persona_id: str,
    base: JSONObject,
    proposed: JSONObject,
    actor: AbstractBaseUser,
    request_id: str = "",
    action: str = "persona.patched",
    note: str = "",
    change_request_id: int | None = None,
    change_set_id: int | None = None,
    redacted: bool = False,
    planned_ops: list[Op] | None = None,
    finish_ops: FinishOps | None = None,
) -> SafeApply:
    """The one apply path for a change to an existing persona (direct edits and change requests).

    Re-reads the live persona (noting an outside change), carries the change base → proposed over
    to it with patching.rebase, or reports the fields both sides changed as conflicts and sends
    nothing; otherwise sends one PATCH and audits it (persona_apply_patch).

    `redacted`: base and proposed hold masked secrets (a change request's documents), so they are
    compared with the live persona redacted. `planned_ops`: the ops stored with the change, sent as
    they are while the persona has not changed since `base`. `finish_ops(ops, live, rebased)`
    turns the ops into what is sent (hidden secrets filled in); it may raise MissingSecret. By
    default, for a redacted change, every marker is filled from the live persona.
    """
    client = tavus_client_for(workspace)
    failure: TavusError | MissingSecret
    with _persona_serialized(workspace=workspace, persona_id=persona_id):
        try:
            live = persona_fetch(
                workspace=workspace, persona_id=persona_id, request_id=request_id, client=client
            ).persona
            seen = redact(live) if redacted else live
            rebased = bool(minimal_patch(base, seen))
            if planned_ops is not None and not rebased:
                ops = list(planned_ops)
            else:
                result = rebase(base, proposed, seen)
                if result.conflicts:
                    return SafeApply(live, list(result.conflicts), [], rebased, None)
                ops = list(result.ops)
            if finish_ops is not None:
                sent = finish_ops(ops, live, rebased)
            elif redacted:
                sent = _filled_from_live(ops, live)
            else:
                sent = ops
            outcome = persona_apply_patch(
                workspace=workspace,
                persona_id=persona_id,
                ops=sent,
                before=live,
                actor=actor,
                request_id=request_id,
                action=action,
                note=note,
                change_request_id=change_request_id,
                change_set_id=change_set_id,
                client=client,
            )
            return SafeApply(live, [], sent, rebased, outcome)
        except (TavusError, MissingSecret) as exc:
            failure = exc  # raised once the persona is let go
    raise failure


def _filled_from_live(ops: list[Op], live: JSONObject) -> list[Op]:
    """Ops from a redacted document with every secret marker filled from the live persona."""
    sent = restore_ops(ops, live)
    if contains_marker(sent):
        raise MissingSecret(
            "This change moves or keeps a secret that the editor does not hold (for example a "
            "renamed header): type it again in its field. Nothing was sent to Tavus."
        )
    return sent


def apply_lease() -> timedelta:
    """How long one apply may hold a persona (or a change-set item): long enough for every
    request it makes to have ended (three requests, each with its retries: the re-read, the PATCH
    and the read-back), so a lease that ran out can no longer be raced by its holder."""
    per_request = settings.TAVUS_TIMEOUT_CONNECT + settings.TAVUS_TIMEOUT_READ
    attempts = settings.TAVUS_RETRIES + 1
    one_request = attempts * per_request + settings.TAVUS_RETRIES * settings.TAVUS_RETRY_WAIT_MAX
    return timedelta(seconds=3 * one_request)


LOCK_POLL_SECONDS = 0.05


@contextmanager
def _persona_serialized(*, workspace: Workspace, persona_id: str) -> Iterator[None]:
    """Hold the persona's lease for the block: applies to one persona run one at a time, from
    the live re-read to the recorded result. Each step is its own short write, so no database
    transaction (on SQLite, the one write lock) is held while Tavus answers. A live holder lets
    go within its lease, and a dead one's lease runs out, so waiting one lease always suffices."""
    lock, _ = PersonaLock.objects.get_or_create(workspace=workspace, persona_id=persona_id)
    token = uuid.uuid4().hex
    lease = apply_lease()
    give_up = time.monotonic() + lease.total_seconds() + 1
    while True:
        now = timezone.now()
        free = Q(held_until__isnull=True) | Q(held_until__lte=now)
        if PersonaLock.objects.filter(free, pk=lock.pk).update(
            held_by=token, held_until=now + lease
        ):
            break
        if time.monotonic() > give_up:  # only if the clock or the lease were wrong
            raise RuntimeError(f"Persona {persona_id} stayed held past its lease.")
        time.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        PersonaLock.objects.filter(pk=lock.pk, held_by=token).update(held_by="", held_until=None)


def _read_back(
    client: TavusClient, persona_id: str, before: JSONObject, ops: list[Op], *, answered: bool
) -> tuple[bool | None, JSONObject | None]:
    """(saved, the persona read back) after a PATCH whose answer was lost: True when every
    field the ops touch holds what they set; False when every one still holds what it held
    before and Tavus did answer (a 5xx: the request is over); None when it cannot be told
    (mixed, the persona could not be read, or no answer came: the PATCH may still land)."""
    try:
        live = _read_persona(client, persona_id)
    except TavusError:
        return None, None
    expected = apply_patch(copy.deepcopy(before), ops)
    places = [from_pointer(str(op.get("path", ""))) for op in ops]
    if all(lookup(live, place) == lookup(expected, place) for place in places):
        return True, live
    if answered and all(lookup(live, place) == lookup(before, place) for place in places):
        return False, live
    return None, live


def persona_delete(
    *,
    workspace: Workspace,
    persona_id: str,
    before: JSONObject,
    actor: AbstractBaseUser,
    request_id: str = "",
    change_request_id: int | None = None,
) -> None:
    client = tavus_client_for(workspace)
    record = _recorder(
        workspace=workspace,
        actor=actor,
        action="persona.deleted",
        request_id=request_id,
        persona_id=persona_id,
        change_request_id=change_request_id,
    )
    try:
        client.delete_persona(persona_id)
    except TavusError as exc:
        record(persona_name=_name(before), before=before, error=exc)
        raise
    record(persona_name=_name(before), before=before, http_status=204)


def _picker_cache_key(workspace: Workspace, what: str) -> str:
    return f"picker:{workspace.pk}:{what}"


def _data(listing: JSONObject) -> list[JSONObject]:
    data = listing.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


# What each picker lists, read from Tavus (first page of 100, as the pickers show).
_PICKER_READS: dict[str, Callable[[TavusClient], list[JSONObject]]] = {
    "replicas": lambda client: _data(client.list_replicas(limit=100, verbose=True)),
    "documents": lambda client: _data(client.list_documents(limit=100)),
    "objectives": lambda client: _data(client.list_objectives(limit=100)),
    "guardrails": lambda client: _data(client.list_guardrails(limit=100)),
}


def _picker_list(workspace: Workspace, what: str) -> list[JSONObject]:
    """One of Tavus's lists for a picker, cached per workspace for a short time; a failed read
    raises (TavusError, NoActiveKey) and caches nothing."""
    key = _picker_cache_key(workspace, what)
    found: list[JSONObject] = cache.get_or_set(
        key,
        lambda: _PICKER_READS[what](tavus_client_for(workspace)),
        settings.TAVUS_PICKER_CACHE_SECONDS,
    )
    return found


def replicas_for_picker(*, workspace: Workspace) -> list[JSONObject]:
    """Completed replicas (stock and the account's own), cached per workspace for a short time."""
    return [r for r in _picker_list(workspace, "replicas") if r.get("status") == "completed"]


def documents_for_picker(*, workspace: Workspace) -> list[JSONObject]:
    """The workspace's documents (ids, names, tags), cached per workspace for a short time."""
    return _picker_list(workspace, "documents")


def objectives_for_picker(*, workspace: Workspace) -> list[JSONObject]:
    """The account's objectives (objectives_id, objective_name, ...), cached per workspace."""
    objectives = _picker_list(workspace, "objectives")
    return [o for o in objectives if isinstance(o.get("objectives_id"), str)]


def guardrails_for_picker(*, workspace: Workspace) -> list[JSONObject]:
    """The account's individual guardrails (uuid, guardrail_name, tags, ...), cached per
    workspace. Legacy guardrail sets are not listed: new personas use individual guardrails."""
    guardrails = _picker_list(workspace, "guardrails")
    return [g for g in guardrails if isinstance(g.get("uuid"), str)]


# Top-level persona fields that hold ids of other Tavus resources, and how to name them:
# (field, picker list, id key, name key).
_NAMED_FIELDS = (
    ("default_replica_id", "replicas", "replica_id", "replica_name"),
    ("objectives_id", "objectives", "objectives_id", "objective_name"),
    ("guardrail_ids", "guardrails", "uuid", "guardrail_name"),
)


@dataclass(frozen=True)
class ReferenceNames:
    """Names of the resources a persona points at: {pointer: {id: name}}; `complete` is False
    when a list the persona points into was not read (not cached, or Tavus failed)."""

    by_pointer: dict[str, dict[str, str]]
    complete: bool


def persona_reference_names(
    *, workspace: Workspace, persona: JSONObject, cached_only: bool = False
) -> ReferenceNames:
    """The names of the replica, objectives and guardrails `persona` points at, from the picker
    lists. Only the lists of fields the persona sets are read. `cached_only`: no Tavus call, only
    lists a picker read recently (a page that must make one upstream request)."""
    names: dict[str, dict[str, str]] = {}
    complete = True
    for key, what, id_key, name_key in _NAMED_FIELDS:
        if not persona.get(key):
            continue
        try:
            items = (
                cache.get(_picker_cache_key(workspace, what))
                if cached_only
                else _picker_list(workspace, what)
            )
        except (TavusError, NoActiveKey):
            items = None
        if items is None:
            complete = False
            continue
        names[f"/{key}"] = {
            str(item[id_key]): str(item[name_key])
            for item in items
            if isinstance(item.get(id_key), str) and isinstance(item.get(name_key), str)
        }
    return ReferenceNames(by_pointer=names, complete=complete)

"""Promotion between workspaces: link a persona to its counterpart, compare, propose the change.

A link (models.PersonaLink) pairs a persona of one workspace with one of another workspace the
same user belongs to. Comparing reads both personas, each with its own workspace's key, and plans
the minimal JSON Patch that would make the counterpart ("there") match this persona ("here"):

- every secret of "here" is masked the moment it is read, so none can reach the plan;
- every secret of "there" stays as it is (the plan is made on masked documents, and a change
  request fills masked values from the live persona when it is applied);
- read-only fields (persona_id, created_at, ...) are never part of a patch;
- replica and document ids are replaced by the counterparts the user chose in the link.

Proposing opens an edit change request in the OTHER workspace through services.reviews, so the
target's own review rules apply. Membership of that other workspace is checked here, before any
Tavus call: a refusal sends nothing to either Tavus account and writes nothing. Must not import
views or forms.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import cast

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from ..models import ChangeKind, ChangeRequest, Membership, PersonaLink, Workspace
from ..permissions import Perm, role_can
from ..persona.jsontypes import JSON, JSONObject, Op, from_pointer, lookup
from ..persona.patching import minimal_patch
from ..persona.payloads import READ_ONLY_FIELDS
from ..persona.redaction import (
    contains_marker,
    redact,
    redact_ops,
    secret_paths_present,
)
from ..tavus import TavusError, TavusNotFound
from .audit import audit_record
from .personas import last_known_version, persona_fetch
from .reviews import change_request_create
from .workspaces import NoActiveKey

__all__ = [
    "PromotionError",
    "PromotionPlan",
    "PromotionPlanChanged",
    "PromotionUpstreamError",
    "persona_link_create",
    "persona_link_delete",
    "persona_promotion_plan",
    "persona_promotion_propose",
]

MAPPED_KINDS = ("replicas", "documents")


class PromotionError(Exception):
    """A link or promotion that cannot be done, with a plain message for the user."""


class PromotionUpstreamError(PromotionError):
    """One workspace's Tavus failed; the message names the workspace."""


class PromotionPlanChanged(PromotionError):
    """One of the two personas changed between the comparison and the proposal."""

    def __init__(self, message: str, plan: PromotionPlan) -> None:
        super().__init__(message)
        self.plan = plan


# -- Who may do what ------------------------------------------------------------------------------


def _role(workspace: Workspace, user: AbstractBaseUser) -> str | None:
    return (
        Membership.objects.filter(workspace=workspace, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def _require(workspace: Workspace, user: AbstractBaseUser, perm: Perm, doing: str) -> None:
    """Refuse in plain words, before anything is read or written, when `user` may not `perm`
    in `workspace`. A workspace the user is not in is not named (no existence leak)."""
    role = _role(workspace, user)
    if role is None:
        raise PromotionError(f"You are not a member of that workspace, so you cannot {doing}.")
    if not role_can(role, perm):
        raise PromotionError(
            f"Your role in “{workspace.name}” is {role.title()}: you cannot {doing}. "
            f"Nothing was sent to “{workspace.name}”."
        )


# -- Reading each side ----------------------------------------------------------------------------


def _read(workspace: Workspace, persona_id: str, request_id: str) -> JSONObject:
    """The live persona of `workspace`, or a message naming the workspace whose Tavus failed."""
    try:
        return persona_fetch(
            workspace=workspace, persona_id=persona_id, request_id=request_id
        ).persona
    except TavusNotFound as exc:
        raise PromotionUpstreamError(
            f"The persona {persona_id} was not found in “{workspace.name}”: {exc.user_message}"
        ) from exc
    except TavusError as exc:
        raise PromotionUpstreamError(
            f"Reading the persona from “{workspace.name}” failed. {exc.user_message}"
        ) from exc
    except NoActiveKey as exc:
        raise PromotionUpstreamError(str(exc)) from exc


def _name(doc: JSONObject, fallback: str) -> str:
    name = doc.get("persona_name")
    return name if isinstance(name, str) and name else fallback


# -- Links ----------------------------------------------------------------------------------------


def persona_link_create(
    *,
    workspace: Workspace,
    persona_id: str,
    target_workspace: Workspace,
    target_persona_id: str,
    actor: AbstractBaseUser,
    replicas: dict[str, str] | None = None,
    documents: dict[str, str] | None = None,
    request_id: str = "",
) -> PersonaLink:
    """Link `persona_id` of `workspace` to its counterpart `target_persona_id` of
    `target_workspace`. The user must be an editor in both; the counterpart is read with the
    target's own key to check that it exists. Audited in both workspaces."""
    _require(workspace, actor, Perm.EDIT, "link its personas")
    if target_workspace.pk == workspace.pk:
        raise PromotionError("Choose a persona in another workspace: a link joins two workspaces.")
    _require(target_workspace, actor, Perm.EDIT, "link its personas")
    target_persona_id = target_persona_id.strip()
    if not target_persona_id:
        raise PromotionError("Choose the counterpart persona.")
    if (
        PersonaLink.objects.filter(
            source_workspace=workspace,
            source_persona_id=persona_id,
            target_workspace=target_workspace,
            target_persona_id=target_persona_id,
        ).exists()
        or PersonaLink.objects.filter(
            source_workspace=target_workspace,
            source_persona_id=target_persona_id,
            target_workspace=workspace,
            target_persona_id=persona_id,
        ).exists()
    ):
        raise PromotionError("These two personas are already linked.")
    counterpart = _read(target_workspace, target_persona_id, request_id)
    if counterpart.get("persona_type") == "system":
        raise PromotionError(
            "That persona is a Tavus stock persona: it cannot be changed, so it cannot be a "
            "counterpart."
        )
    known = last_known_version(workspace=workspace, persona_id=persona_id)
    source_name = known.persona_name if known is not None else ""
    target_name = _name(counterpart, target_persona_id)
    mapping = {
        kind: dict(pairs)
        for kind, pairs in (("replicas", replicas or {}), ("documents", documents or {}))
        if pairs
    }
    try:
        with transaction.atomic():
            link = PersonaLink.objects.create(
                source_workspace=workspace,
                source_persona_id=persona_id,
                source_persona_name=source_name[:255],
                target_workspace=target_workspace,
                target_persona_id=target_persona_id,
                target_persona_name=target_name[:255],
                mapping=mapping,
                created_by=actor,
                created_by_name=actor.get_username(),
            )
            _audit_link(link, actor, "persona.linked", request_id)
    except IntegrityError as exc:  # the same link made at the same moment
        raise PromotionError("These two personas are already linked.") from exc
    return link


def _audit_link(
    link: PersonaLink, actor: AbstractBaseUser, action: str, request_id: str, note: str = ""
) -> None:
    """One record on each side, each naming the other side."""
    sides = (
        (link.source_workspace, link.source_persona_id, link.source_persona_name),
        (link.target_workspace, link.target_persona_id, link.target_persona_name),
    )
    for (workspace, persona_id, name), (other, other_id, other_name) in (sides, sides[::-1]):
        audit_record(
            workspace=workspace,
            actor=actor,
            action=action,
            request_id=request_id,
            persona_id=persona_id,
            persona_name=name,
            target=f"Counterpart in {other.name}: {other_name or other_id}"[:255],
            payload={"mapping": copy.deepcopy(link.mapping)} if link.mapping else None,
            note=note or f"Counterpart: persona {other_id} in “{other.name}”.",
        )


def persona_link_delete(
    *, link: PersonaLink, actor: AbstractBaseUser, request_id: str = ""
) -> None:
    """Remove a link (an editor of both workspaces). Nothing changes on Tavus."""
    _require(link.source_workspace, actor, Perm.EDIT, "unlink its personas")
    _require(link.target_workspace, actor, Perm.EDIT, "unlink its personas")
    with transaction.atomic():
        _audit_link(link, actor, "persona.unlinked", request_id)
        link.delete()


# -- Comparing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapped:
    """One id replaced on the way: at `pointer`, `here_id` became `there_id`."""

    pointer: str
    here_id: str
    there_id: str


@dataclass(frozen=True)
class PromotionPlan:
    """What proposing would ask for in the other workspace. Every document here is masked:
    `here` (the persona being promoted), `there` (its counterpart now) and `proposed` (the
    counterpart after the change). `ops` is the minimal patch there → proposed."""

    link: PersonaLink
    here_workspace: Workspace
    here_persona_id: str
    there_workspace: Workspace
    there_persona_id: str
    here: JSONObject
    there: JSONObject
    proposed: JSONObject
    ops: list[Op]
    secrets_kept: list[str] = field(default_factory=list)  # there's own, left as they are
    secrets_left_behind: list[str] = field(default_factory=list)  # here's, never copied
    mapped: list[Mapped] = field(default_factory=list)
    unmapped: list[Mapped] = field(default_factory=list)  # ids proposed as they are

    @property
    def is_empty(self) -> bool:
        return not self.ops

    @property
    def fingerprint(self) -> str:
        """Identifies the patch, so a proposal opens what was compared."""
        text = json.dumps(self.ops, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def there_name(self) -> str:
        return _name(self.there, self.there_persona_id)

    @property
    def here_name(self) -> str:
        return _name(self.here, self.here_persona_id)


def _ends(link: PersonaLink, workspace: Workspace, persona_id: str) -> tuple[Workspace, str, bool]:
    """(the other workspace, the other persona id, whether `workspace` is the link's source)."""
    if link.source_workspace_id == workspace.pk and link.source_persona_id == persona_id:
        return link.target_workspace, link.target_persona_id, True
    if link.target_workspace_id == workspace.pk and link.target_persona_id == persona_id:
        return link.source_workspace, link.source_persona_id, False
    raise PromotionError("This link does not belong to this persona.")


def _map_ids(
    doc: JSONObject, link: PersonaLink, from_source: bool
) -> tuple[list[Mapped], list[Mapped]]:
    """Replace, in `doc`, replica and document ids by their chosen counterparts."""
    replicas = link.id_map("replicas", from_source=from_source)
    documents = link.id_map("documents", from_source=from_source)
    mapped: list[Mapped] = []
    unmapped: list[Mapped] = []
    replica = doc.get("default_replica_id")
    if isinstance(replica, str) and replica:
        if replica in replicas:
            doc["default_replica_id"] = replicas[replica]
            mapped.append(Mapped("/default_replica_id", replica, replicas[replica]))
        else:
            unmapped.append(Mapped("/default_replica_id", replica, replica))
    ids = doc.get("document_ids")
    if isinstance(ids, list):
        new_ids: list[JSON] = []
        for i, item in enumerate(ids):
            if isinstance(item, str) and item in documents:
                new_ids.append(documents[item])
                mapped.append(Mapped(f"/document_ids/{i}", item, documents[item]))
            else:
                new_ids.append(item)
                if isinstance(item, str):
                    unmapped.append(Mapped(f"/document_ids/{i}", item, item))
        doc["document_ids"] = new_ids
    return mapped, unmapped


def _with_their_secrets(wanted: JSONObject, there: JSONObject) -> tuple[JSONObject, list[str]]:
    """`wanted` (masked, from here) with no secret of its own: each secret `there` holds is put
    back where its section still exists, and secret places only `wanted` has are dropped.
    Returns the document and the secrets kept."""
    result = copy.deepcopy(wanted)
    for pointer in reversed(secret_paths_present(result)):
        segments = from_pointer(pointer)
        _, parent = lookup(result, segments[:-1])
        if isinstance(parent, dict):
            parent.pop(segments[-1], None)
            # A section that held only secrets (headers) and that `there` lacks goes too.
            _, grand = lookup(result, segments[:-2])
            if not parent and isinstance(grand, dict) and not lookup(there, segments[:-1])[0]:
                grand.pop(segments[-2], None)
    kept: list[str] = []
    for pointer in secret_paths_present(there):
        segments = from_pointer(pointer)
        _, value = lookup(there, segments)
        parent_found, parent = lookup(result, segments[:-1])
        if parent_found and isinstance(parent, dict):
            parent[segments[-1]] = copy.deepcopy(value)
            kept.append(pointer)
    return result, kept


def persona_promotion_plan(
    *,
    link: PersonaLink,
    workspace: Workspace,
    persona_id: str,
    actor: AbstractBaseUser,
    request_id: str = "",
) -> PromotionPlan:
    """Compare `persona_id` of `workspace` ("here") with its counterpart over `link` ("there").

    Two GETs, one per workspace with its own key; no write to Tavus. The user must be a member
    of the other workspace (checked before any call).
    """
    there_workspace, there_id, from_source = _ends(link, workspace, persona_id)
    _require(there_workspace, actor, Perm.VIEW, "compare with its personas")
    # Masked as soon as it is read: no secret of this persona can reach the plan.
    here = redact(_read(workspace, persona_id, request_id))
    there = redact(_read(there_workspace, there_id, request_id))
    wanted = {k: copy.deepcopy(v) for k, v in here.items() if k not in READ_ONLY_FIELDS}
    # The counterpart keeps its own id, type and times (minimal_patch never touches them).
    wanted.update({k: copy.deepcopy(v) for k, v in there.items() if k in READ_ONLY_FIELDS})
    mapped, unmapped = _map_ids(wanted, link, from_source)
    proposed, kept = _with_their_secrets(wanted, there)
    ops = minimal_patch(there, proposed)
    left_behind = [p for p in secret_paths_present(here) if p not in kept]
    return PromotionPlan(
        link=link,
        here_workspace=workspace,
        here_persona_id=persona_id,
        there_workspace=there_workspace,
        there_persona_id=there_id,
        here=here,
        there=there,
        proposed=proposed,
        ops=redact_ops(ops),
        secrets_kept=kept,
        secrets_left_behind=left_behind,
        mapped=mapped,
        unmapped=unmapped,
    )


# -- Proposing -------------------------------------------------------------------------------------


def persona_promotion_propose(
    *,
    link: PersonaLink,
    workspace: Workspace,
    persona_id: str,
    actor: AbstractBaseUser,
    expected_fingerprint: str = "",
    request_id: str = "",
) -> ChangeRequest:
    """Open a change request in the other workspace that makes the counterpart match this
    persona (secrets and read-only fields excepted), sent for review under that workspace's
    rules. Refused in plain words, before any Tavus call, when the user may not edit there."""
    there_workspace, _, _ = _ends(link, workspace, persona_id)
    _require(workspace, actor, Perm.EDIT, "promote its personas")
    _require(there_workspace, actor, Perm.EDIT, "propose changes there")
    plan = persona_promotion_plan(
        link=link, workspace=workspace, persona_id=persona_id, actor=actor, request_id=request_id
    )
    if expected_fingerprint and expected_fingerprint != plan.fingerprint:
        raise PromotionPlanChanged(
            "One of the two personas changed since you compared them, so the change would now "
            "be different. Check the updated comparison below and propose again.",
            plan,
        )
    if plan.is_empty:
        raise PromotionError(
            f"The persona in “{there_workspace.name}” already matches this one (secrets "
            "excepted): there is nothing to propose."
        )
    # Belt and braces: the plan is built from masked documents and never holds a value of a
    # secret of this workspace; no proposal may set a marker either.
    if any(contains_marker(op.get("value")) for op in plan.ops if op.get("op") != "remove"):
        raise PromotionError(
            "This change would move a hidden secret, which promotion never does. "
            "Change the secret in each workspace on its own."
        )
    source_words = f"“{plan.here_name}” ({persona_id}) in “{workspace.name}”"
    change_request = change_request_create(
        workspace=there_workspace,
        actor=actor,
        kind=ChangeKind.EDIT,
        title=f"Promote {plan.here_name} from {workspace.name}",
        description=(
            f"Promoted from {source_words} by {actor.get_username()}. Secrets are not copied "
            "between workspaces: this persona keeps its own."
        ),
        persona_id=plan.there_persona_id,
        persona_name=plan.there_name,
        base=plan.there,
        proposed=plan.proposed,
        secrets=None,
        submit=True,
        request_id=request_id,
    )
    with transaction.atomic():
        audit_record(
            workspace=workspace,
            actor=actor,
            action="persona.promotion_proposed",
            request_id=request_id,
            persona_id=persona_id,
            persona_name=plan.here_name,
            target=f"Proposed in {there_workspace.name}: change #{change_request.pk}"[:255],
            payload=cast(JSON, plan.ops),
            note=f"Proposed to persona {plan.there_persona_id} in “{there_workspace.name}”.",
        )
        audit_record(
            workspace=there_workspace,
            actor=actor,
            action="persona.promotion_proposed",
            request_id=request_id,
            persona_id=plan.there_persona_id,
            persona_name=plan.there_name,
            target=f"From {workspace.name}: {plan.here_name}"[:255],
            payload=cast(JSON, plan.ops),
            note=f"Promotion from {source_words}.",
            change_request_id=change_request.pk,
        )
    return change_request

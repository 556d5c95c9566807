"""Read-only queries used by views and the navigation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import BooleanField, Exists, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from .models import (
    DEFAULT_CHANNELS,
    AuditEvent,
    ChangeRequest,
    ChangeSet,
    ChangeSetReview,
    ChangeSetStatus,
    ChangeStatus,
    Invitation,
    Membership,
    Notification,
    NotificationPreference,
    NotificationSettings,
    Outcome,
    PersonaFollow,
    PersonaLink,
    Review,
    ReviewRule,
    Workspace,
)
from .models.invitations import invitation_token_hash
from .models.review_rules import ROLES_MEETING
from .permissions import ROLE_PERMISSIONS, Perm, role_can
from .persona.jsontypes import JSON


def workspaces_for(user: AbstractBaseUser) -> QuerySet[Workspace]:
    return Workspace.objects.filter(memberships__user=user).order_by("name")


class NavWorkspace(NamedTuple):
    """A workspace as the navigation's switcher lists it."""

    name: str
    slug: str


def nav_workspaces_for(*, user: AbstractBaseUser) -> list[NavWorkspace]:
    """The user's workspaces by name, for every full page's switcher."""
    rows = (
        Workspace.objects.filter(memberships__user_id=user.pk)
        .order_by("name")
        .values_list("name", "slug")
    )
    return [NavWorkspace(*row) for row in rows]


def _decided_by(user: AbstractBaseUser) -> QuerySet[Review, dict[str, int]]:
    """Change requests on which this user's review still counts (as ids, for a subquery)."""
    return Review.objects.filter(reviewer_id=user.pk, is_current=True).values("change_request_id")


_REVIEWER_ROLES = [role for role in ROLE_PERMISSIONS if role_can(role, Perm.REVIEW)]

# Statuses in which a change request waits for its author.
AUTHOR_NEXT_STEP_STATUSES = (
    ChangeStatus.CHANGES_REQUESTED,
    ChangeStatus.APPROVED,
    ChangeStatus.CONFLICT,
    ChangeStatus.FAILED,
)


def _waiting(workspace_id: int, user_id: int) -> QuerySet[ChangeRequest]:
    may_review = Exists(
        Membership.objects.filter(
            workspace_id=workspace_id, user_id=user_id, role__in=_REVIEWER_ROLES
        )
    )
    decided = Review.objects.filter(reviewer_id=user_id, is_current=True)
    to_review = (
        Q(may_review, status=ChangeStatus.OPEN)
        & ~Q(author_id=user_id)
        & ~Q(pk__in=decided.values("change_request_id"))
    )
    own_next_step = Q(author_id=user_id, status__in=AUTHOR_NEXT_STEP_STATUSES)
    return ChangeRequest.objects.filter(to_review | own_next_step, workspace_id=workspace_id)


def reviews_waiting_count(*, workspace: Workspace, user: AbstractBaseUser) -> int:
    """Change requests waiting for this user: open ones by others that they could review and have
    not decided on yet (their decision still counting), plus their own that need their next step
    (sent back, approved and ready to apply, failed, or in conflict).

    One query: the two sets never overlap, as one holds others' changes and the other the user's
    own.
    """
    return _waiting(workspace.pk, user.pk).count()


def change_sets_waiting_count(*, workspace: Workspace, user: AbstractBaseUser) -> int:
    """Change sets waiting for this user, as reviews_waiting_count counts change requests: open
    ones by others they could review and have not decided on, plus their own sent back or
    approved and ready to apply. One query."""
    may_review = Exists(
        Membership.objects.filter(
            workspace_id=workspace.pk, user_id=user.pk, role__in=_REVIEWER_ROLES
        )
    )
    decided = ChangeSetReview.objects.filter(reviewer_id=user.pk, is_current=True)
    to_review = (
        Q(may_review, status=ChangeSetStatus.OPEN)
        & ~Q(author_id=user.pk)
        & ~Q(pk__in=decided.values("change_set_id"))
    )
    own_next_step = Q(
        author_id=user.pk,
        status__in=[ChangeSetStatus.CHANGES_REQUESTED, ChangeSetStatus.APPROVED],
    )
    return ChangeSet.objects.filter(to_review | own_next_step, workspace=workspace).count()


# -- Audit log and persona versions (history area) ----------------------------------------------
# Every listing is keyset-paginated on the audit id: an equality on indexed columns plus
# `id < cursor`, newest first, LIMIT n+1 (the extra row says whether an older page exists).
# Never OFFSET, never count(*): both get slower with every row, and the log only grows.

AUDIT_PAGE_SIZE = 50
VERSIONS_PAGE_SIZE = 10


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page filters on; empty values mean "any"."""

    persona_id: str = ""
    actor: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.persona_id or self.actor or self.action or self.date_from or self.date_to)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _id_at_or_after(workspace: Workspace, moment: datetime) -> int | None:
    """The first audit id written at or after `moment` (walks the (workspace, created_at) index)."""
    return (
        AuditEvent.objects.filter(workspace=workspace, created_at__gte=moment)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
        .first()
    )


def _id_before(workspace: Workspace, moment: datetime) -> int | None:
    """The last audit id written before `moment`."""
    return (
        AuditEvent.objects.filter(workspace=workspace, created_at__lt=moment)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )


def audit_queryset(*, workspace: Workspace, filters: AuditFilters) -> QuerySet[AuditEvent] | None:
    """The filtered log, newest first; None when the date range cannot hold any record.

    Records are appended with the current time, so ids grow with time: a date range becomes an
    id range found through the (workspace, created_at) index, and every filter then walks one of
    the (workspace, <column>, -id) indexes instead of sorting the matching rows.
    """
    qs = AuditEvent.objects.filter(workspace=workspace)
    if filters.persona_id:
        qs = qs.filter(persona_id=filters.persona_id)
    if filters.actor:
        qs = qs.filter(actor_name=filters.actor)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.date_from is not None:
        start = _day_start(filters.date_from)
        first_id = _id_at_or_after(workspace, start)
        if first_id is None:
            return None
        qs = qs.filter(id__gte=first_id, created_at__gte=start)
    if filters.date_to is not None:
        end = _day_start(filters.date_to + timedelta(days=1))
        last_id = _id_before(workspace, end)
        if last_id is None:
            return None
        qs = qs.filter(id__lte=last_id, created_at__lt=end)
    return qs.order_by("-id")


@dataclass(frozen=True)
class KeysetPage:
    """One page of a newest-first listing. `older`/`newer` are cursors, None when there is none."""

    rows: list[AuditEvent]
    older: int | None
    newer: int | None


def _keyset(
    qs: QuerySet[AuditEvent] | None, *, before: int | None, after: int | None, limit: int
) -> KeysetPage:
    if qs is None:
        return KeysetPage(rows=[], older=None, newer=None)
    if after is not None and before is None:
        # Towards newer rows: oldest-first from the cursor, then flipped to newest-first.
        chunk = list(qs.filter(id__gt=after).order_by("id")[: limit + 1])
        rows = list(reversed(chunk[:limit]))
        if not rows:
            return _keyset(qs, before=None, after=None, limit=limit)
        older = rows[-1].pk if qs.filter(id__lt=rows[-1].pk).exists() else None
        return KeysetPage(rows=rows, older=older, newer=rows[0].pk if len(chunk) > limit else None)
    page_qs = qs.filter(id__lt=before) if before is not None else qs
    chunk = list(page_qs[: limit + 1])
    rows = chunk[:limit]
    older = rows[-1].pk if len(chunk) > limit else None
    newer = None
    if before is not None:
        top = rows[0].pk if rows else before - 1
        if qs.filter(id__gt=top).exists():
            newer = top
    return KeysetPage(rows=rows, older=older, newer=newer)


def audit_page(
    *,
    workspace: Workspace,
    filters: AuditFilters,
    before: int | None = None,
    after: int | None = None,
    limit: int = AUDIT_PAGE_SIZE,
) -> tuple[list[AuditEvent], int | None]:
    """One page of the audit log, newest first, and the cursor of the next (older) page.

    `before=<id>` gives the page of records older than that id; `after=<id>` the page just newer.
    """
    page = audit_keyset_page(
        workspace=workspace, filters=filters, before=before, after=after, limit=limit
    )
    return page.rows, page.older


def audit_keyset_page(
    *,
    workspace: Workspace,
    filters: AuditFilters,
    before: int | None = None,
    after: int | None = None,
    limit: int = AUDIT_PAGE_SIZE,
    documents: bool = True,
) -> KeysetPage:
    """Like audit_page, with the cursor of the newer page too (for a "Newer" link).

    `documents=False` leaves the payload and snapshots unread until a row's JSON is asked for.
    """
    qs = audit_queryset(workspace=workspace, filters=filters)
    if qs is not None and not documents:
        qs = qs.defer("payload", "before", "after")
    return _keyset(qs, before=before, after=after, limit=limit)


def audit_iter(
    *, workspace: Workspace, filters: AuditFilters, chunk_size: int = 500
) -> Iterator[AuditEvent]:
    """Every record of the filtered log, newest first, read in keyset chunks (for exports)."""
    qs = audit_queryset(workspace=workspace, filters=filters)
    if qs is None:
        return
    before: int | None = None
    while True:
        page_qs = qs.filter(id__lt=before) if before is not None else qs
        chunk = list(page_qs[:chunk_size])
        yield from chunk
        if len(chunk) < chunk_size:
            return
        before = chunk[-1].pk


def _persona_timeline(workspace: Workspace, persona_id: str) -> QuerySet[AuditEvent]:
    # Versions (a snapshot after the event), failed attempts, and deletions.
    return AuditEvent.objects.filter(workspace=workspace, persona_id=persona_id).filter(
        Q(outcome=Outcome.OK, after__isnull=False)
        | Q(outcome=Outcome.ERROR)
        | Q(action="persona.deleted")
    )


def persona_versions(
    *,
    workspace: Workspace,
    persona_id: str,
    before: int | None = None,
    after: int | None = None,
    limit: int = VERSIONS_PAGE_SIZE,
) -> KeysetPage:
    """A persona's timeline, newest first: its versions, failed attempts (greyed) and deletions.

    Rows come without their snapshots (`before`, `after`: ~90 KB of JSON each for a large
    persona); `has_snapshot` tells a version (AuditEvent.is_version would read `after`). A page
    reads the snapshots it needs with audit_snapshots.
    """
    qs = (
        _persona_timeline(workspace, persona_id)
        .defer("before", "after")
        .annotate(
            has_snapshot=ExpressionWrapper(
                Q(outcome=Outcome.OK, after__isnull=False), output_field=BooleanField()
            )
        )
        .order_by("-id")
    )
    return _keyset(qs, before=before, after=after, limit=limit)


def audit_snapshots(
    *, workspace: Workspace, event_ids: list[int], side: Literal["before", "after"]
) -> dict[int, JSON]:
    """The `before` or `after` snapshot of each of these audit records, by id (one query)."""
    if not event_ids:
        return {}
    return dict(
        AuditEvent.objects.filter(workspace=workspace, id__in=event_ids).values_list("id", side)
    )


def persona_version_before(
    *, workspace: Workspace, persona_id: str, event_id: int, snapshot: bool = True
) -> AuditEvent | None:
    """The version of a persona just older than the record `event_id` (None for its first).

    Only what a diff against it needs: its id, time, action and `after` snapshot (left unread
    with snapshot=False).
    """
    fields = ("id", "created_at", "action", "outcome", "persona_name")
    return (
        AuditEvent.objects.filter(
            workspace=workspace,
            persona_id=persona_id,
            outcome=Outcome.OK,
            after__isnull=False,
            id__lt=event_id,
        )
        .only(*fields, *(("after",) if snapshot else ()))
        .order_by("-id")
        .first()
    )


def persona_latest_version(*, workspace: Workspace, persona_id: str) -> AuditEvent | None:
    """The newest version of a persona the dashboard knows (no upstream request).

    Light: its id, time, action and persona name; the snapshots are not read.
    """
    return (
        AuditEvent.objects.filter(
            workspace=workspace, persona_id=persona_id, outcome=Outcome.OK, after__isnull=False
        )
        .only("id", "created_at", "action", "outcome", "persona_name")
        .order_by("-id")
        .first()
    )


def persona_event(*, workspace: Workspace, persona_id: str, event_id: int) -> AuditEvent | None:
    """One audit record of this persona in this workspace, or None."""
    return AuditEvent.objects.filter(
        workspace=workspace, persona_id=persona_id, id=event_id
    ).first()


# -- Review queue and change requests (reviews area) ---------------------------------------------

REVIEW_TABS: tuple[tuple[str, str], ...] = (
    ("waiting", "Waiting for review"),
    ("mine", "Mine"),
    ("ready", "Approved / ready"),
    ("applied", "Applied"),
    ("closed", "Closed"),
)
_TAB_FILTERS: dict[str, Q] = {
    "waiting": Q(status=ChangeStatus.OPEN),
    # Approved, or met a problem on the way to Tavus (failed, conflict) and needs another go.
    "ready": Q(status__in=[ChangeStatus.APPROVED, ChangeStatus.FAILED, ChangeStatus.CONFLICT]),
    "applied": Q(status=ChangeStatus.APPLIED),
    "closed": Q(status=ChangeStatus.CLOSED),
}


def review_queue(
    *, workspace: Workspace, user: AbstractBaseUser, tab: str
) -> QuerySet[ChangeRequest]:
    """One tab of the review queue, newest activity first."""
    changes = ChangeRequest.objects.filter(workspace=workspace)
    if tab == "mine":
        changes = changes.filter(author_id=user.pk)
    else:
        changes = changes.filter(_TAB_FILTERS.get(tab, _TAB_FILTERS["waiting"]))
    return changes.order_by("-updated_at", "-id")


def review_tab_counts(*, workspace: Workspace, user: AbstractBaseUser) -> dict[str, int]:
    counts = {
        tab: ChangeRequest.objects.filter(workspace=workspace).filter(q).count()
        for tab, q in _TAB_FILTERS.items()
    }
    counts["mine"] = ChangeRequest.objects.filter(workspace=workspace, author_id=user.pk).count()
    return counts


def review_waiting_ids(*, workspace: Workspace, user: AbstractBaseUser) -> set[int]:
    """Ids of the open change requests by others on which this user has not decided yet."""
    return set(
        ChangeRequest.objects.filter(workspace=workspace, status=ChangeStatus.OPEN)
        .exclude(author_id=user.pk)
        .exclude(pk__in=_decided_by(user))
        .values_list("id", flat=True)
    )


def review_required_of(
    *, workspace: Workspace, user: AbstractBaseUser, changes: Iterable[ChangeRequest]
) -> set[int]:
    """Ids of the changes among `changes` (open, by others) still waiting for a required-reviewer
    rule this user could meet: one naming them, or asking for a role they hold."""
    role = (
        Membership.objects.filter(workspace=workspace, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )
    rule_roles = [rule_role for rule_role, roles in ROLES_MEETING.items() if role in roles]
    mine = set(
        ReviewRule.objects.filter(workspace=workspace)
        .filter(Q(reviewers=user.pk) | Q(role__in=rule_roles))
        .values_list("id", flat=True)
    )
    if not mine or not role_can(role, Perm.REVIEW):
        return set()
    return {
        change.pk
        for change in changes
        if change.status == ChangeStatus.OPEN
        and change.author_id != user.pk
        and any(check.rule_id in mine and not check.met for check in change.rule_checks())
    }


def change_request_in(
    *, workspace: Workspace, cr_id: int, documents: bool = True
) -> ChangeRequest | None:
    """One change request of this workspace, or None.

    `documents=False` leaves the two persona documents (~90 KB each for a large persona) unread
    until they are asked for.
    """
    qs = ChangeRequest.objects.filter(workspace=workspace, pk=cr_id).select_related("workspace")
    if not documents:
        qs = qs.defer("base_document", "proposed_document")
    return qs.first()


def _change_request_events(change_request: ChangeRequest) -> QuerySet[AuditEvent]:
    """The audit records of one change request (the partial index audit_ws_cr_id serves this)."""
    return AuditEvent.objects.filter(
        workspace_id=change_request.workspace_id, change_request_id=change_request.pk
    )


def change_request_last_conflict(*, change_request: ChangeRequest) -> AuditEvent | None:
    """The newest "review.conflict" record of a change: its `after` is the live version met."""
    return (
        _change_request_events(change_request)
        .filter(action="review.conflict")
        .order_by("-id")
        .first()
    )


def change_request_history(*, change_request: ChangeRequest) -> QuerySet[AuditEvent]:
    """Everything recorded about one change request, oldest first (snapshots left unread)."""
    return _change_request_events(change_request).defer("payload", "before", "after").order_by("id")


def persona_version_choices(
    *, workspace: Workspace, persona_id: str, limit: int = 100
) -> list[AuditEvent]:
    """The newest versions of a persona, light (no snapshots loaded), for "compare" pickers."""
    return list(
        AuditEvent.objects.filter(
            workspace=workspace, persona_id=persona_id, outcome=Outcome.OK, after__isnull=False
        )
        .only("id", "created_at", "actor_name", "action")
        .order_by("-id")[:limit]
    )


# -- Links between workspaces (promotion) ---------------------------------------------------------


@dataclass(frozen=True)
class Counterpart:
    """A linked persona seen from one end: the other end, and what this user may do there."""

    link_id: int
    workspace_name: str  # "" when the user is not a member there (the name is not shown)
    workspace_slug: str
    persona_id: str
    persona_name: str
    role: str | None  # the user's role in the other workspace
    mapped: int  # how many ids the link maps


def counterparts_for(
    *, workspace: Workspace, persona_id: str, user: AbstractBaseUser
) -> list[Counterpart]:
    """Every persona linked to this one, whichever end it is, with the user's role there."""
    links = (
        PersonaLink.objects.filter(
            Q(source_workspace=workspace, source_persona_id=persona_id)
            | Q(target_workspace=workspace, target_persona_id=persona_id)
        )
        .select_related("source_workspace", "target_workspace")
        .order_by("-created_at", "-id")
    )
    roles = dict(Membership.objects.filter(user_id=user.pk).values_list("workspace_id", "role"))
    found: list[Counterpart] = []
    for link in links:
        is_source = link.source_workspace_id == workspace.pk
        other = link.target_workspace if is_source else link.source_workspace
        role = roles.get(other.pk)
        mapping = link.mapping if isinstance(link.mapping, dict) else {}
        found.append(
            Counterpart(
                link_id=link.pk,
                workspace_name=other.name if role else "",
                workspace_slug=other.slug if role else "",
                persona_id=link.target_persona_id if is_source else link.source_persona_id,
                persona_name=link.target_persona_name if is_source else link.source_persona_name,
                role=role,
                mapped=sum(len(v) for v in mapping.values() if isinstance(v, dict)),
            )
        )
    return found


def link_workspaces_for(*, user: AbstractBaseUser, exclude: Workspace) -> list[tuple[str, str]]:
    """(slug, name) of the other workspaces where the user may edit: where a counterpart can be."""
    editing = [role for role in ROLE_PERMISSIONS if role_can(role, Perm.EDIT)]
    return list(
        Membership.objects.filter(user_id=user.pk, role__in=editing)
        .exclude(workspace=exclude)
        .order_by("workspace__name")
        .values_list("workspace__slug", "workspace__name")
    )


def workspace_role_for(*, workspace: Workspace, user: AbstractBaseUser) -> str | None:
    """The user's role in `workspace` (None: not a member)."""
    return (
        Membership.objects.filter(workspace=workspace, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


# -- Invitations ------------------------------------------------------------------------------


def invitations_for(*, workspace: Workspace, limit: int = 50) -> list[Invitation]:
    """The workspace's latest invitations, newest first, for the Members page."""
    return list(workspace.invitations.order_by("-created_at")[:limit])


def invitation_for_token(*, token: str) -> Invitation | None:
    """The invitation a link's token belongs to (looked up by its hash), whatever its state."""
    return (
        Invitation.objects.select_related("workspace")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )


# -- Notifications --------------------------------------------------------------------------------

NOTIFICATIONS_PAGE_SIZE = 50


def notifications_unread_count(*, user: AbstractBaseUser) -> int:
    """The bell's number: one count over the partial index notification_unread."""
    return Notification.objects.filter(
        recipient_id=user.pk, in_app=True, read_at__isnull=True
    ).count()


def notifications_for(*, user: AbstractBaseUser, before: int | None = None) -> list[Notification]:
    """A page of the user's in-app notifications, newest first (keyset on the id: ids below
    `before`), with one extra row when an older page exists."""
    rows = Notification.objects.filter(recipient_id=user.pk, in_app=True).select_related(
        "workspace"
    )
    if before is not None:
        rows = rows.filter(pk__lt=before)
    return list(rows.order_by("-id")[: NOTIFICATIONS_PAGE_SIZE + 1])


def notification_choices_for(*, user: AbstractBaseUser) -> tuple[dict[str, str], bool]:
    """The user's channel for every kind (defaults filled in) and whether they take the digest."""
    chosen = dict(
        NotificationPreference.objects.filter(user_id=user.pk).values_list("kind", "channel")
    )
    digest = NotificationSettings.objects.filter(user_id=user.pk, daily_digest=True).exists()
    return {kind: chosen.get(kind, DEFAULT_CHANNELS[kind]) for kind in DEFAULT_CHANNELS}, digest


def persona_is_followed(*, user: AbstractBaseUser, workspace: Workspace, persona_id: str) -> bool:
    return PersonaFollow.objects.filter(
        user_id=user.pk, workspace=workspace, persona_id=persona_id
    ).exists()


def account_exists_for_email(*, email: str) -> bool:
    return get_user_model().objects.filter(email__iexact=email).exists()


# -- Change sets ----------------------------------------------------------------------------------


def change_sets_for(*, workspace: Workspace, status: str = "") -> QuerySet[ChangeSet]:
    """The workspace's change sets, most recently updated first (one status, or all)."""
    qs = ChangeSet.objects.filter(workspace=workspace)
    return qs.filter(status=status) if status else qs


def change_set_in(*, workspace: Workspace, cs_id: int) -> ChangeSet | None:
    """One change set of this workspace, or None."""
    return (
        ChangeSet.objects.filter(workspace=workspace, pk=cs_id)
        .select_related("workspace", "reverts")
        .first()
    )


def change_set_history(*, change_set: ChangeSet) -> QuerySet[AuditEvent]:
    """The audit records of one change set (its own actions, not each persona's PATCH)."""
    return AuditEvent.objects.filter(
        workspace_id=change_set.workspace_id,
        change_set_id=change_set.pk,
        action__startswith="changeset.",
    ).order_by("id")

"""Request id and workspace access control.

WorkspaceAccessMiddleware is the one place where permissions are enforced: for every view of the
app that takes a workspace slug it loads the workspace and the user's membership, answers 404 to
outsiders (no existence leak), 403 to members whose role lacks the URL's permission, and otherwise
attaches request.workspace and request.membership.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from time import monotonic
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import (
    DisallowedHost,
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.core.signals import setting_changed
from django.db.models import FilteredRelation, Q
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from .auth import FIELDS as USER_FIELDS
from .auth import UserModel, users_read_as
from .compiled import CompiledQuery, JoinedQuery
from .live import discard_expected
from .models import Membership, Workspace
from .permissions import PERM_DENIED_MESSAGES, URL_RULES, role_can
from .recent import Recent
from .services.workspaces import kept_active_key, remember_active_key
from .sessions import COLUMNS as SESSION_COLUMNS
from .sessions import SessionStore
from .sessions import read as session_read

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
# What sends a live page's call (views.personas.EARLY_READS): request, workspace, URL arguments.
EarlyRead = Callable[[HttpRequest, Workspace, dict[str, Any]], None]

_MEMBERSHIP_FIELDS = [f.attname for f in Membership._meta.concrete_fields]
_WORKSPACE_FIELDS = [f.attname for f in Workspace._meta.concrete_fields]
# The membership, its workspace, the workspace's active key (sealed) and the member's user row in
# one query, compiled once (compiled.py): every page reads them, and a live page needs the key
# before its call to Tavus can leave.
_membership = CompiledQuery(
    lambda slug, user_id: (
        Membership.objects.filter(workspace__slug=slug, user_id=user_id)
        .annotate(
            active_key=FilteredRelation(
                "workspace__api_keys", condition=Q(workspace__api_keys__is_active=True)
            )
        )
        .order_by()
        .values_list(
            *_MEMBERSHIP_FIELDS,
            *(f"workspace__{name}" for name in _WORKSPACE_FIELDS),
            "active_key__secret_sealed",
            *(f"user__{name}" for name in USER_FIELDS),
        )
    ),
    ["str", "int"],
)


def _session_user_id(request: HttpRequest) -> int | None:
    """The user id the session names, as django.contrib.auth reads it; None without one."""
    try:
        pk = UserModel._meta.pk.to_python(request.session[SESSION_KEY])
    except (KeyError, ValidationError):
        return None
    return pk if isinstance(pk, int) else None


# The session and the membership in one query, for a session whose user this process already
# knows: its key -> the user id its data named when last read. Only a guess: the membership read
# with it is used when the session's data, read in the same query, names that very user.
_session_and_membership = JoinedQuery(session_read, _membership)
_USERS_KEPT = 4096
_user_of_session: Recent[str, int] = Recent(_USERS_KEPT)


def _membership_row(request: HttpRequest, slug: str) -> tuple[int | None, tuple[Any, ...] | None]:
    """(the session's user id, that user's membership row of `slug` or None), in one query when
    the session's user is known from an earlier request, else two."""
    store = request.session
    key = store.session_key
    guess = None
    if isinstance(store, SessionStore) and key and not hasattr(store, "_session_cache"):
        guess = _user_of_session.get(key)
    if guess is not None:
        rows = _session_and_membership.rows(key, slug, guess)
        width = len(SESSION_COLUMNS)
        store.use_row(rows[0][:width] if rows else None)
        user_id = _session_user_id(request)
        if user_id == guess:
            row = rows[0][width:] if rows else None
            return user_id, row if row and row[0] is not None else None
    else:
        user_id = _session_user_id(request)
    if user_id is None:
        return None, None
    if key:
        _user_of_session.put(key, user_id)
    rows = _membership.rows(slug, user_id)
    return user_id, rows[0] if rows else None


def _member_of(request: HttpRequest, slug: str) -> Membership | None:
    """The session's user's membership of the workspace `slug`, with its workspace; None for an
    outsider or when the session names no user. Reading it also reads the user's row, which
    Django's own get_user then checks (backend, active, session hash) instead of reading it again.
    A request that only reads keeps the active key too (see tavus_client_for).
    """
    user_id, row = _membership_row(request, slug)
    if row is None:
        return None
    n, w = len(_MEMBERSHIP_FIELDS), len(_WORKSPACE_FIELDS)
    user = UserModel.from_db(_membership.using, USER_FIELDS, row[n + w + 1 :])
    with users_read_as(user):
        if not request.user.is_authenticated or request.user.pk != user_id:
            return None
    membership = Membership.from_db(_membership.using, _MEMBERSHIP_FIELDS, row[:n])
    workspace = Workspace.from_db(_membership.using, _WORKSPACE_FIELDS, row[n : n + w])
    if request.method in ("GET", "HEAD"):
        remember_active_key(workspace, row[n + w] or "")
    membership.workspace = workspace
    return membership


class RequestIdMiddleware:
    """Give every request an id, shared by the audit records it writes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request.headers.get("X-Request-Id", "")[:36] or uuid.uuid4().hex  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id  # type: ignore[attr-defined]
        return response


class EarlyReadMiddleware:
    """Send a live page's one Tavus GET before the rest of Django's request handling.

    A live page waits for Tavus once; every millisecond of work before its request leaves is
    added to the page's time, while work after it is done during the wait. So for the GET pages
    of views.personas.EARLY_READS, right after the session and the user are known, this reads the
    membership (and with it the user and the active key), checks what WorkspaceAccessMiddleware
    checks, and sends the page's call; the view reads its answer (live.overlap). A request that
    would be refused sends nothing: an unknown host, an anonymous user, an outsider or a role
    without the URL's permission. WorkspaceAccessMiddleware still enforces everything, reusing
    the membership read here.

    Comes right after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            try:
                _read_early(request)
            except Exception:  # never in the way: the view then sends the call itself
                logger.warning("Sending a live page's call early failed", exc_info=True)
        return self.get_response(request)


# path -> (app name, URL name, URL arguments), or None for a path that does not resolve: what
# _read_early needs of resolve(), which Django's own resolving repeats later (during the wait).
@lru_cache(maxsize=2048)
def _resolved_path(path: str) -> tuple[str, str, dict[str, Any]] | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.app_name, match.url_name or "", dict(match.kwargs)


@receiver(setting_changed)
def _forget_resolved(*, setting: str, **_: Any) -> None:
    if setting == "ROOT_URLCONF":
        _resolved_path.cache_clear()


@dataclass(frozen=True)
class _Vouched:
    """What the last early read of a (session, workspace) pair found that let its call leave."""

    user_id: int
    workspace: tuple[Any, ...]  # the workspace's row, _WORKSPACE_FIELDS
    sealed: str  # its active key, sealed
    at: float = field(compare=False)  # monotonic() of that read; not part of what the call used


# A live page's call may leave before its membership is read again when the same session read
# the same workspace's page moments ago: the call is made with what that read found, and the
# read done during the wait must find the very same user, workspace and key, with a role the
# URL allows, or the answer is discarded unread (and the call made again when the page may be
# shown). So a session that lost its access can at most send a GET whose answer nobody sees,
# for TRUST_SECONDS after its last page.
TRUST_SECONDS = 60.0
_vouched: Recent[tuple[str, str], _Vouched] = Recent(_USERS_KEPT)


def _trusted(session_key: str | None, slug: str) -> _Vouched | None:
    if not session_key:
        return None
    vouched = _vouched.get((session_key, slug))
    if vouched is None or monotonic() - vouched.at > TRUST_SECONDS:
        return None
    return vouched


def _vouch_for(membership: Membership) -> _Vouched | None:
    workspace = membership.workspace
    sealed = kept_active_key(workspace)
    if not sealed:
        return None  # without a key the page makes no call
    row = tuple(getattr(workspace, name) for name in _WORKSPACE_FIELDS)
    return _Vouched(membership.user_id, row, sealed, monotonic())


def _keep_vouch(session_key: str | None, slug: str, vouched: _Vouched | None) -> None:
    """Remember what this read found for the pair, or forget the pair (None: refused, no key)."""
    if not session_key:
        return
    if vouched is None:
        _vouched.pop((session_key, slug))
    else:
        _vouched.put((session_key, slug), vouched)


def _begin_on_trust(
    begin: EarlyRead, request: HttpRequest, vouched: _Vouched, kwargs: dict[str, Any]
) -> None:
    workspace = Workspace.from_db(_membership.using, _WORKSPACE_FIELDS, vouched.workspace)
    remember_active_key(workspace, vouched.sealed)
    begin(request, workspace, dict(kwargs))


def _read_early(request: HttpRequest) -> None:
    from .views.personas import EARLY_READS

    found = _resolved_path(request.path_info)
    if found is None:
        return
    app_name, url_name, kwargs = found
    begin = EARLY_READS.get(url_name) if app_name == "personas" else None
    slug = kwargs.get("slug")
    if begin is None or slug is None:
        return
    try:
        request.get_host()
    except DisallowedHost:
        return  # CommonMiddleware answers 400
    session_key = request.session.session_key
    trusted = _trusted(session_key, slug)
    if trusted is not None:
        _begin_on_trust(begin, request, trusted, kwargs)
    try:
        membership = _member_of(request, slug)
    except BaseException:
        discard_expected()  # unconfirmed: the view reads for itself
        raise
    rule = URL_RULES.get(url_name)
    if membership is not None and (rule is None or not role_can(membership.role, rule)):
        membership = None  # refused: nothing is sent, the access middleware answers
    vouched = _vouch_for(membership) if membership is not None else None
    _keep_vouch(session_key, slug, vouched)
    if membership is not None:
        request._early_member = (slug, membership)  # type: ignore[attr-defined]
    if trusted is not None:
        if trusted == vouched:
            return  # the call that left is the one this read allows
        discard_expected()  # refused, or another user, workspace or key: never read
    if membership is not None and vouched is not None:  # no active key: the page says so
        begin(request, membership.workspace, dict(kwargs))


class WorkspaceAccessMiddleware:
    """Enforce URL_RULES for every app view that has a workspace slug in its URL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: View, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or match.app_name != "personas":
            return None
        slug = kwargs.get("slug")
        # Before request.user is first looked at: the membership's query reads the user too.
        early = getattr(request, "_early_member", None)
        if early is not None and early[0] == slug:
            membership = early[1]  # read by EarlyReadMiddleware for this request
        else:
            membership = _member_of(request, slug) if slug is not None else None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if slug is None:
            return None
        rule = URL_RULES.get(match.url_name or "")
        if rule is None:
            raise ImproperlyConfigured(
                f"URL {match.url_name!r} has no rule in permissions.URL_RULES"
            )
        if membership is None:
            raise Http404("No such workspace.")
        if not role_can(membership.role, rule):
            raise PermissionDenied(PERM_DENIED_MESSAGES[rule])
        request.workspace = membership.workspace  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        return None

"""Request id and workspace access control.

WorkspaceAccessMiddleware is the one place where permissions are enforced: for every view of the
app that takes a workspace slug it loads the workspace and the user's membership, answers 404 to
outsiders (no existence leak), 403 to members whose role lacks the URL's permission, and otherwise
attaches request.workspace and request.membership.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import FilteredRelation, Q
from django.http import Http404, HttpRequest, HttpResponse

from .compiled import CompiledQuery
from .models import Membership, Workspace
from .permissions import PERM_DENIED_MESSAGES, URL_RULES, role_can
from .services.workspaces import remember_active_key

View = Callable[..., HttpResponse]

_MEMBERSHIP_FIELDS = [f.attname for f in Membership._meta.concrete_fields]
_WORKSPACE_FIELDS = [f.attname for f in Workspace._meta.concrete_fields]
# The membership, its workspace and the workspace's active key (sealed) in one query, compiled
# once (compiled.py): every page reads it, and a live page needs the key before it can send.
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
        )
    ),
    ["str", "int"],
)


def _membership_of(slug: str, user_id: int, *, keep_key: bool = False) -> Membership | None:
    """The user's membership of the workspace `slug`, with its workspace; None for an outsider.

    With keep_key, the workspace carries the active key as read here (see tavus_client_for), for
    a request that only reads: one query fewer before its call to Tavus can leave.
    """
    rows = _membership.rows(slug, user_id)
    if not rows:
        return None
    row, n, w = rows[0], len(_MEMBERSHIP_FIELDS), len(_WORKSPACE_FIELDS)
    membership = Membership.from_db(_membership.using, _MEMBERSHIP_FIELDS, row[:n])
    workspace = Workspace.from_db(_membership.using, _WORKSPACE_FIELDS, row[n : n + w])
    if keep_key:
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
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        slug = kwargs.get("slug")
        if slug is None:
            return None
        rule = URL_RULES.get(match.url_name or "")
        if rule is None:
            raise ImproperlyConfigured(
                f"URL {match.url_name!r} has no rule in permissions.URL_RULES"
            )
        membership = _membership_of(
            slug, request.user.pk, keep_key=request.method in ("GET", "HEAD")
        )
        if membership is None:
            raise Http404("No such workspace.")
        if not role_can(membership.role, rule):
            raise PermissionDenied(PERM_DENIED_MESSAGES[rule])
        request.workspace = membership.workspace  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        return None

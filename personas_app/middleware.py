"""Request ids and workspace access control.

RequestIdMiddleware gives every request an id, shared by the audit records it writes and sent back
as X-Request-Id. An incoming X-Request-Id is kept only when it looks like one (8 to 36 of
A-Z a-z 0-9 . _ -, so a UUID fits, as does AuditEvent.request_id); anything else (newlines, markup,
10 KB, non-ASCII) is replaced by a fresh id, never stored or echoed.

WorkspaceAccessMiddleware is the one place where access is decided, before any view runs: for
every view of the app that takes a workspace slug it reads the user's membership with its
workspace (one query), answers 404 to outsiders (no existence leak) and 403 to members whose role
lacks the URL's permission (permissions.URL_RULES), and otherwise attaches request.workspace and
request.membership. A refused request never reaches a view, so it never reaches Tavus. The
few app URLs listed in permissions.ANONYMOUS_URLS (an invitation's link) answer anyone.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from .models import Membership
from .permissions import ANONYMOUS_URLS, PERM_DENIED_MESSAGES, URL_RULES, role_can

View = Callable[..., HttpResponse]


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,36}")


class RequestIdMiddleware:
    """Give every request an id, shared by the audit records it writes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = (  # type: ignore[attr-defined]
            incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        )
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
        if match.url_name in ANONYMOUS_URLS:
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
        try:
            membership = Membership.objects.select_related("workspace").get(
                workspace__slug=slug, user=request.user
            )
        except Membership.DoesNotExist:
            raise Http404("No such workspace.") from None
        if not role_can(membership.role, rule):
            raise PermissionDenied(PERM_DENIED_MESSAGES[rule])
        request.workspace = membership.workspace  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        return None

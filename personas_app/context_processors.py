"""Navigation context: the user's workspaces, the current one and the review count waiting for them."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest

from .selectors import (
    change_sets_waiting_count,
    nav_workspaces_for,
    notifications_unread_count,
    reviews_waiting_count,
)


def navigation(request: HttpRequest) -> dict[str, object]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    workspace = getattr(request, "workspace", None)
    membership = getattr(request, "membership", None)
    context: dict[str, object] = {
        # Callables, like the count below: only full pages, which show them, run the queries.
        "nav_workspaces": partial(nav_workspaces_for, user=request.user),
        "current_workspace": workspace,
        "current_membership": membership,
    }
    if workspace is not None:
        # A callable: templates call it only when they show the navigation, so htmx fragments
        # (previews, rows) do not pay for the count.
        context["nav_reviews_waiting"] = partial(
            reviews_waiting_count, workspace=workspace, user=request.user
        )
        context["nav_change_sets_waiting"] = partial(
            change_sets_waiting_count, workspace=workspace, user=request.user
        )
    return context


def notifications(request: HttpRequest) -> dict[str, object]:
    """The bell's unread count, as a callable: only full pages, which show the bell, run its one
    indexed count query."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"nav_notifications_unread": partial(notifications_unread_count, user=request.user)}

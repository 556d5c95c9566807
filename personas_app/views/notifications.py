"""Notifications: the user's list (the bell's page), marking read, preferences, following a persona.

The list and preferences are the user's own, outside any workspace (the middleware only asks for
a login there); following a persona is a workspace URL (permissions.URL_RULES: view).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..forms.notifications import NotificationPreferencesForm
from ..http import AppRequest
from ..selectors import (
    NOTIFICATIONS_PAGE_SIZE,
    notification_choices_for,
    notifications_for,
    notifications_unread_count,
    persona_is_followed,
)
from ..services.follows import persona_follow_set
from ..services.notifications import (
    notification_mark_all_read,
    notification_mark_read,
    notification_open,
    notification_preferences_save,
)


def _cursor(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@require_GET
@login_required
def notification_list(request: AppRequest) -> HttpResponse:
    rows = notifications_for(user=request.user, before=_cursor(request.GET.get("before")))
    older = rows[NOTIFICATIONS_PAGE_SIZE - 1].pk if len(rows) > NOTIFICATIONS_PAGE_SIZE else None
    context = {
        "notifications": rows[:NOTIFICATIONS_PAGE_SIZE],
        "older": older,
        "unread": notifications_unread_count(user=request.user),
    }
    template = "notifications/list.html"
    return render(request, f"{template}#list" if request.htmx else template, context)


@require_GET
@login_required
def notification_go(request: AppRequest, notification_id: int) -> HttpResponse:
    """Open the page a notification is about, marking it read on the way."""
    link = notification_open(user=request.user, notification_id=notification_id)
    if link is None:
        raise Http404("No such notification.")
    if not url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}):
        return redirect("personas:notification_list")
    return redirect(link)


@require_POST
@login_required
def notification_read(request: AppRequest, notification_id: int) -> HttpResponse:
    if not notification_mark_read(user=request.user, notification_id=notification_id):
        raise Http404("No such notification.")
    return redirect("personas:notification_list")


@require_POST
@login_required
def notification_read_all(request: AppRequest) -> HttpResponse:
    count = notification_mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("personas:notification_list")


@require_http_methods(["GET", "POST"])
@login_required
def notification_preferences(request: AppRequest) -> HttpResponse:
    if request.method == "POST":
        form = NotificationPreferencesForm(request.POST)
        if form.is_valid():
            notification_preferences_save(
                user=request.user,
                channels=form.channels(),
                daily_digest=form.cleaned_data["daily_digest"],
            )
            messages.success(request, "Saved your notification preferences.")
            return redirect("personas:notification_preferences")
    else:
        channels, digest = notification_choices_for(user=request.user)
        form = NotificationPreferencesForm(initial={**channels, "daily_digest": digest})
    has_email = bool(getattr(request.user, "email", ""))
    return render(request, "notifications/preferences.html", {"form": form, "has_email": has_email})


@require_POST
def persona_follow(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    follow = request.POST.get("follow") == "1"
    persona_follow_set(
        user=request.user, workspace_id=request.workspace.pk, persona_id=persona_id, follow=follow
    )
    if request.htmx:
        following = persona_is_followed(
            user=request.user, workspace=request.workspace, persona_id=persona_id
        )
        return render(
            request,
            "personas/_follow.html",
            {"following": following, "persona_id": persona_id, "just_changed": True},
        )
    if follow:
        messages.success(
            request,
            "You follow this persona: you will hear when it is changed outside the dashboard.",
        )
    else:
        messages.success(request, "You no longer follow this persona.")
    return redirect("personas:persona_detail", slug=slug, persona_id=persona_id)

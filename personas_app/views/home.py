"""The landing page: straight to the user's only workspace, or a list to choose from."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from ..selectors import workspaces_for


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    workspaces = list(workspaces_for(request.user))
    if len(workspaces) == 1:
        return redirect("personas:persona_list", slug=workspaces[0].slug)
    return render(request, "home.html", {"workspaces": workspaces})

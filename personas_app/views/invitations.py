"""The page an invitation's link opens: /invitations/<token>/, outside any workspace.

It answers anonymous visitors too (permissions.ANONYMOUS_URLS). Who sees what:
- an unknown, expired, revoked or used link: a plain page saying why (404 or 410);
- a logged-in user whose email address is the invited one: a button to join;
- a logged-in user with another address: why they cannot use it;
- a visitor whose address already has an account: a link to log in first (then back here);
- anyone else: a form to choose a username and a password, which creates the account, logs in
  and joins.
Joining lands on the workspace's persona list with a welcome message. The token is only in the
URL: it is never put in a context, a message or an audit record.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from ..forms.invitations import InvitationSignupForm
from ..http import AppRequest
from ..models import Invitation, Membership
from ..selectors import account_exists_for_email, invitation_for_token
from ..services.invitations import (
    INVALID_LINK,
    InvitationError,
    invitation_accept_new_account,
)
from ..services.invitations import invitation_accept as invitation_accept_service

_TEMPLATE = "invitations/accept.html"


def _refused(request: AppRequest, message: str, status: int) -> HttpResponse:
    return render(request, _TEMPLATE, {"refusal": message}, status=status)


def _welcome(request: AppRequest, membership: Membership, invitation: Invitation) -> HttpResponse:
    workspace = membership.workspace
    if membership.role == invitation.role:
        messages.success(
            request,
            f"Welcome to {workspace.name}! You joined as {membership.get_role_display()}.",
        )
    else:
        messages.info(
            request,
            f"You were already a member of {workspace.name} "
            f"({membership.get_role_display()}): your role is unchanged.",
        )
    return redirect("personas:persona_list", slug=workspace.slug)


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def invitation_accept(request: AppRequest, token: str) -> HttpResponse:
    invitation = invitation_for_token(token=token)
    if invitation is None:
        return _refused(request, INVALID_LINK, 404)
    if refusal := invitation.refusal():
        return _refused(request, refusal, 410)
    context: dict[str, object] = {"invitation": invitation}
    user = request.user
    if user.is_authenticated:
        if request.method == "POST":
            try:
                membership = invitation_accept_service(
                    token=token, user=user, request_id=request.request_id
                )
            except InvitationError as exc:
                return _refused(request, str(exc), 409)
            return _welcome(request, membership, invitation)
        email = getattr(user, "email", "") or ""
        context["other_address"] = email.casefold() != invitation.email.casefold()
        return render(request, _TEMPLATE, context)
    if account_exists_for_email(email=invitation.email):
        next_url = reverse("personas:invitation_accept", args=[token])
        context["login_url"] = f"{reverse('login')}?{urlencode({'next': next_url})}"
        return render(request, _TEMPLATE, context)
    form = InvitationSignupForm(
        request.POST if request.method == "POST" else None, email=invitation.email
    )
    if form.is_valid():
        try:
            membership = invitation_accept_new_account(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                request_id=request.request_id,
            )
        except InvitationError as exc:
            form.add_error(None, str(exc))
        else:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return _welcome(request, membership, invitation)
    context["form"] = form
    return render(request, _TEMPLATE, context)

"""Workspace administration: members, Tavus API keys and workspace settings (admins only).

WorkspaceAccessMiddleware has already checked the membership and role (permissions.URL_RULES), so
these views never re-check them. Every write goes through services/workspaces.py, which audits it.
htmx requests get a named partial of the page plus the messages region (out of band); the same
forms post without JavaScript and are answered with a redirect and a message. A key's secret is
never put in a context, a message or a log line: views only see ApiKey rows (label, last four).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from ..forms.invitations import InvitationForm
from ..forms.workspaces import (
    ApiKeyAddForm,
    ApiKeyRotateForm,
    MemberAddForm,
    MemberRoleForm,
    ReviewRuleForm,
    WorkspaceSettingsForm,
)
from ..http import AppRequest, site_url
from ..models import ApiKey, Invitation, Membership, ReviewRule, Role
from ..selectors import invitations_for
from ..services.invitations import InvitationError
from ..services.invitations import invitation_create as invitation_create_service
from ..services.invitations import invitation_resend as invitation_resend_service
from ..services.invitations import invitation_revoke as invitation_revoke_service
from ..services.review_rules import ReviewRuleError, review_rule_add, review_rule_remove
from ..services.workspaces import (
    WorkspaceError,
    api_key_activate,
    api_key_add,
    api_key_revoke,
    api_key_rotate,
    api_key_test,
    member_change_role,
    workspace_update_settings,
)
from ..services.workspaces import member_add as member_add_service
from ..services.workspaces import member_remove as member_remove_service

Context = dict[str, object]


def _fragment(request: AppRequest, template: str, context: Context) -> HttpResponse:
    """An htmx answer: the named partial, then the messages region swapped out of band."""
    html = render_to_string(template, context, request)
    html += render_to_string("workspaces/_messages_oob.html", {}, request)
    return HttpResponse(html)


def _redirect(request: AppRequest, url: str) -> HttpResponse:
    """Redirect, as a full page load for htmx too (after own access or workspace name changed)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


# -- API keys ---------------------------------------------------------------------------------


def _key_or_404(request: AppRequest, key_id: int) -> ApiKey:
    return get_object_or_404(ApiKey, pk=key_id, workspace=request.workspace)


def _keys_context(request: AppRequest, **extra: object) -> Context:
    keys = list(request.workspace.api_keys.order_by("-is_active", "label"))
    context: Context = {
        "nav_section": "keys",
        "keys": keys,
        "active_key": next((k for k in keys if k.is_active), None),
        "add_form": ApiKeyAddForm(),
    }
    context.update(extra)
    return context


@require_GET
def key_list(request: AppRequest, slug: str) -> HttpResponse:
    return render(request, "workspaces/keys.html", _keys_context(request))


@sensitive_post_parameters("secret")
@require_POST
def key_add(request: AppRequest, slug: str) -> HttpResponse:
    form = ApiKeyAddForm(request.POST)
    if form.is_valid():
        try:
            key = api_key_add(
                workspace=request.workspace,
                label=form.cleaned_data["label"],
                secret=form.cleaned_data["secret"],
                activate=True if form.cleaned_data["activate"] else None,
                actor=request.user,
                request_id=request.request_id,
            )
        except WorkspaceError as exc:
            form.add_error("label", str(exc))
        else:
            active = " It is now the active key." if key.is_active else ""
            messages.success(request, f"Saved the key “{key.label}” (…{key.last4}).{active}")
            if request.htmx:
                return _fragment(request, "workspaces/keys.html#keys-area", _keys_context(request))
            return redirect("personas:key_list", slug=slug)
    context = _keys_context(request, add_form=form)
    if request.htmx:
        return _fragment(request, "workspaces/keys.html#keys-area", context)
    return render(request, "workspaces/keys.html", context)


@require_POST
def key_test(request: AppRequest, slug: str, key_id: int) -> HttpResponse:
    key = _key_or_404(request, key_id)
    result = api_key_test(workspace=request.workspace, key=key)
    if request.htmx:
        context = {"key": key, "result": result, "result_key_id": key.pk}
        return _fragment(request, "workspaces/keys.html#test-result", context)
    if result.ok:
        messages.success(request, result.message)
    else:
        messages.error(request, f"Testing “{key.label}”: {result.message}")
    return redirect("personas:key_list", slug=slug)


@sensitive_post_parameters("secret")
@require_POST
def key_rotate(request: AppRequest, slug: str, key_id: int) -> HttpResponse:
    key = _key_or_404(request, key_id)
    form = ApiKeyRotateForm(request.POST)
    if form.is_valid():
        try:
            key = api_key_rotate(
                workspace=request.workspace,
                key=key,
                secret=form.cleaned_data["secret"],
                actor=request.user,
                request_id=request.request_id,
            )
        except WorkspaceError as exc:
            form.add_error("secret", str(exc))
        else:
            messages.success(request, f"Rotated “{key.label}”: it now ends in …{key.last4}.")
            if request.htmx:
                return _fragment(request, "workspaces/keys.html#key-row", {"key": key})
            return redirect("personas:key_list", slug=slug)
    if request.htmx:
        context = {"key": key, "rotate_form": form, "rotate_key_id": key.pk}
        return _fragment(request, "workspaces/keys.html#key-row", context)
    context = _keys_context(request, rotate_form=form, rotate_key_id=key.pk)
    return render(request, "workspaces/keys.html", context)


def _after_key_change(request: AppRequest, slug: str) -> HttpResponse:
    if request.htmx:
        return _fragment(request, "workspaces/keys.html#key-table", _keys_context(request))
    return redirect("personas:key_list", slug=slug)


@require_POST
def key_activate(request: AppRequest, slug: str, key_id: int) -> HttpResponse:
    key = _key_or_404(request, key_id)
    try:
        api_key_activate(
            workspace=request.workspace,
            key=key,
            actor=request.user,
            request_id=request.request_id,
        )
    except WorkspaceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{key.label}” is now the active key: every page uses it.")
    return _after_key_change(request, slug)


@require_http_methods(["GET", "POST"])
def key_revoke(request: AppRequest, slug: str, key_id: int) -> HttpResponse:
    key = _key_or_404(request, key_id)
    if request.method == "GET":
        return render(
            request,
            "workspaces/confirm.html",
            {
                "nav_section": "keys",
                "title": f"Revoke the key “{key.label}”?",
                "text": f"The stored key (…{key.last4}) will be deleted from this dashboard. "
                "Its name and history stay; rotate it later to give it a new secret. "
                "This does not delete the key in the Tavus portal.",
                "warning": "This is the active key: pages that talk to Tavus will stop working "
                "until another key is active."
                if key.is_active
                else "",
                "action": reverse("personas:key_revoke", args=[slug, key.pk]),
                "button": "Revoke key",
                "cancel": reverse("personas:key_list", args=[slug]),
            },
        )
    was_active = key.is_active
    try:
        api_key_revoke(
            workspace=request.workspace, key=key, actor=request.user, request_id=request.request_id
        )
    except WorkspaceError as exc:
        messages.info(request, str(exc))
        return _after_key_change(request, slug)
    messages.success(request, f"Revoked “{key.label}”: its secret is deleted.")
    if was_active:
        messages.warning(request, "No key is active now. Activate another key or add a new one.")
    return _after_key_change(request, slug)


# -- Members ----------------------------------------------------------------------------------


def _members_context(request: AppRequest, **extra: object) -> Context:
    context: Context = {
        "nav_section": "members",
        "memberships": request.workspace.memberships.select_related("user").order_by(
            "user__username"
        ),
        "roles": Role.choices,
        "invite_form": MemberAddForm(),
        "invitations": invitations_for(workspace=request.workspace),
        "invitation_form": InvitationForm(),
    }
    context.update(extra)
    return context


def _member_or_404(request: AppRequest, member_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user"), pk=member_id, workspace=request.workspace
    )


@require_GET
def member_list(request: AppRequest, slug: str) -> HttpResponse:
    return render(request, "workspaces/members.html", _members_context(request))


@require_POST
def member_add(request: AppRequest, slug: str) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = member_add_service(
                workspace=request.workspace,
                username_or_email=form.cleaned_data["username_or_email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                request_id=request.request_id,
            )
        except WorkspaceError as exc:
            form.add_error("username_or_email", str(exc))
        else:
            name = membership.user.get_username()
            messages.success(request, f"Added {name} as {membership.get_role_display()}.")
            if request.htmx:
                return _fragment(
                    request, "workspaces/members.html#members-area", _members_context(request)
                )
            return redirect("personas:member_list", slug=slug)
    context = _members_context(request, invite_form=form)
    if request.htmx:
        return _fragment(request, "workspaces/members.html#members-area", context)
    return render(request, "workspaces/members.html", context)


def _after_member_change(request: AppRequest, slug: str) -> HttpResponse:
    if request.htmx:
        context = _members_context(request)
        return _fragment(request, "workspaces/members.html#member-table", context)
    return redirect("personas:member_list", slug=slug)


@require_POST
def member_role(request: AppRequest, slug: str, member_id: int) -> HttpResponse:
    membership = _member_or_404(request, member_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles in the list.")
        return _after_member_change(request, slug)
    if form.cleaned_data["role"] == membership.role:
        name = membership.user.get_username()
        messages.info(request, f"{name} is already {membership.get_role_display()}.")
        return _after_member_change(request, slug)
    try:
        membership = member_change_role(
            workspace=request.workspace,
            membership=membership,
            role=form.cleaned_data["role"],
            actor=request.user,
            request_id=request.request_id,
        )
    except WorkspaceError as exc:
        name = membership.user.get_username()
        messages.error(request, f"{name} keeps the {membership.get_role_display()} role: {exc}")
        return _after_member_change(request, slug)
    name = membership.user.get_username()
    messages.success(request, f"{name} is now {membership.get_role_display()}.")
    if membership.user_id == request.user.pk and membership.role != Role.ADMIN:
        return _redirect(request, reverse("personas:persona_list", args=[slug]))
    return _after_member_change(request, slug)


@require_http_methods(["GET", "POST"])
def member_remove(request: AppRequest, slug: str, member_id: int) -> HttpResponse:
    membership = _member_or_404(request, member_id)
    name = membership.user.get_username()
    is_self = membership.user_id == request.user.pk
    if request.method == "GET":
        return render(
            request,
            "workspaces/confirm.html",
            {
                "nav_section": "members",
                "title": "Leave this workspace?" if is_self else f"Remove {name}?",
                "text": f"{name} will no longer see or change anything in "
                f"“{request.workspace.name}”. Their past changes stay in the history.",
                "warning": "You are removing yourself." if is_self else "",
                "action": reverse("personas:member_remove", args=[slug, membership.pk]),
                "button": "Leave workspace" if is_self else "Remove member",
                "cancel": reverse("personas:member_list", args=[slug]),
            },
        )
    try:
        member_remove_service(
            workspace=request.workspace,
            membership=membership,
            actor=request.user,
            request_id=request.request_id,
        )
    except WorkspaceError as exc:
        messages.error(request, f"{name} was not removed: {exc}")
        return _after_member_change(request, slug)
    messages.success(request, f"Removed {name} from the workspace.")
    if is_self:
        return _redirect(request, reverse("personas:home"))
    return _after_member_change(request, slug)


# -- Invitations ------------------------------------------------------------------------------
# The clear token of an invitation exists only in its email: these views never see it.


def _invitation_or_404(request: AppRequest, invitation_id: int) -> Invitation:
    return get_object_or_404(Invitation, pk=invitation_id, workspace=request.workspace)


def _after_invitation_change(request: AppRequest, slug: str, **extra: object) -> HttpResponse:
    if request.htmx:
        context = _members_context(request, **extra)
        return _fragment(request, "workspaces/members.html#invitations-area", context)
    if extra:
        return render(request, "workspaces/members.html", _members_context(request, **extra))
    return redirect("personas:member_list", slug=slug)


@require_POST
def invitation_create(request: AppRequest, slug: str) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = invitation_create_service(
                workspace=request.workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                site_url=site_url(request),
                request_id=request.request_id,
            )
        except InvitationError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(
                request,
                f"Invited {invitation.email} as {invitation.get_role_display()}: the link in "
                f"their email works until {invitation.expires_at:%d %B %Y}.",
            )
            return _after_invitation_change(request, slug)
    return _after_invitation_change(request, slug, invitation_form=form)


@require_POST
def invitation_resend(request: AppRequest, slug: str, invitation_id: int) -> HttpResponse:
    invitation = _invitation_or_404(request, invitation_id)
    try:
        invitation = invitation_resend_service(
            workspace=request.workspace,
            invitation=invitation,
            actor=request.user,
            site_url=site_url(request),
            request_id=request.request_id,
        )
    except InvitationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Sent the invitation to {invitation.email} again: the new link works until "
            f"{invitation.expires_at:%d %B %Y}, the previous one no longer does.",
        )
    return _after_invitation_change(request, slug)


@require_http_methods(["GET", "POST"])
def invitation_revoke(request: AppRequest, slug: str, invitation_id: int) -> HttpResponse:
    invitation = _invitation_or_404(request, invitation_id)
    if request.method == "GET":
        return render(
            request,
            "workspaces/confirm.html",
            {
                "nav_section": "members",
                "title": f"Revoke the invitation to {invitation.email}?",
                "text": "The link in their email stops working at once. You can invite the "
                "address again later.",
                "warning": "",
                "action": reverse("personas:invitation_revoke", args=[slug, invitation.pk]),
                "button": "Revoke invitation",
                "cancel": reverse("personas:member_list", args=[slug]),
            },
        )
    try:
        invitation_revoke_service(
            workspace=request.workspace,
            invitation=invitation,
            actor=request.user,
            request_id=request.request_id,
        )
    except InvitationError as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, f"Revoked the invitation to {invitation.email}.")
    return _after_invitation_change(request, slug)


# -- Settings ---------------------------------------------------------------------------------


def _able_reviewers(request: AppRequest) -> list[tuple[str, str]]:
    """(user id, "name (role)") of the members who can review, for the rule form."""
    members = request.workspace.memberships.filter(
        role__in=[Role.REVIEWER, Role.ADMIN]
    ).select_related("user")
    return [(str(m.user_id), f"{m.user.get_username()} ({m.get_role_display()})") for m in members]


def _rule_form(request: AppRequest, data: object = None) -> ReviewRuleForm:
    return ReviewRuleForm(data, reviewers=_able_reviewers(request))


def _settings_context(
    request: AppRequest, form: WorkspaceSettingsForm, rule_form: ReviewRuleForm | None = None
) -> Context:
    workspace = request.workspace
    return {
        "nav_section": "settings",
        "form": form,
        "approvers": workspace.memberships.filter(role__in=[Role.REVIEWER, Role.ADMIN]).count(),
        "rules": workspace.review_rules.prefetch_related("reviewers"),
        "rule_form": rule_form or _rule_form(request),
    }


def _settings_initial(request: AppRequest) -> dict[str, object]:
    workspace = request.workspace
    return {
        "name": workspace.name,
        "tavus_base_url": workspace.tavus_base_url,
        "requires_approval": workspace.requires_approval,
        "approvals_required": workspace.approvals_required,
        "conversation_max_minutes": workspace.conversation_max_minutes,
    }


@require_http_methods(["GET", "POST"])
def workspace_settings(request: AppRequest, slug: str) -> HttpResponse:
    if request.method == "GET":
        form = WorkspaceSettingsForm(initial=_settings_initial(request))
        return render(request, "workspaces/settings.html", _settings_context(request, form))
    form = WorkspaceSettingsForm(request.POST)
    if form.is_valid():
        try:
            changes = workspace_update_settings(
                workspace=request.workspace,
                actor=request.user,
                request_id=request.request_id,
                **form.cleaned_data,
            )
        except WorkspaceError as exc:
            form.add_error(exc.field, str(exc))
        else:
            if changes:
                messages.success(request, "Saved: " + "; ".join(changes) + ".")
            else:
                messages.info(request, "Nothing changed.")
            # A full reload: the new name also shows in the navigation and the title.
            return _redirect(request, reverse("personas:workspace_settings", args=[slug]))
    context = _settings_context(request, form)
    if request.htmx:
        return _fragment(request, "workspaces/settings.html#settings-form", context)
    return render(request, "workspaces/settings.html", context)


# -- Required reviewers -------------------------------------------------------------------------


def _after_rule_change(request: AppRequest, slug: str, rule_form: ReviewRuleForm) -> HttpResponse:
    context = _settings_context(
        request, WorkspaceSettingsForm(initial=_settings_initial(request)), rule_form
    )
    if request.htmx:
        return _fragment(request, "workspaces/settings.html#review-rules", context)
    if rule_form.is_bound and rule_form.errors:
        return render(request, "workspaces/settings.html", context)
    return redirect(reverse("personas:workspace_settings", args=[slug]) + "#review-rules")


@require_POST
def review_rule_create(request: AppRequest, slug: str) -> HttpResponse:
    form = _rule_form(request, request.POST)
    if form.is_valid():
        try:
            rule = review_rule_add(
                workspace=request.workspace,
                actor=request.user,
                pointer=form.cleaned_data["pointer"],
                reviewer_ids=[int(pk) for pk in form.cleaned_data["reviewers"]],
                role=form.cleaned_data["role"],
                description=form.cleaned_data["description"],
                request_id=request.request_id,
            )
        except ReviewRuleError as exc:
            form.add_error(exc.field, str(exc))
        else:
            messages.success(request, f"Added the rule: {rule}.")
            return _after_rule_change(request, slug, _rule_form(request))
    return _after_rule_change(request, slug, form)


@require_POST
def review_rule_delete(request: AppRequest, slug: str, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(ReviewRule, pk=rule_id, workspace=request.workspace)
    review_rule_remove(
        workspace=request.workspace, rule=rule, actor=request.user, request_id=request.request_id
    )
    messages.success(request, f"Removed the rule for {rule.label}.")
    return _after_rule_change(request, slug, _rule_form(request))

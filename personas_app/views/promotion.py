"""Promotion pages: link a persona to its counterpart in another workspace, compare the two, and
propose the change there as a change request.

The middleware decides access for the workspace in the URL (this persona's); the OTHER
workspace's membership is checked by services.promotion, which refuses in plain words before any
Tavus call. Every document shown here is masked.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..forms.promotion import PersonaLinkForm
from ..http import AppRequest, tavus_error_message
from ..models import PersonaLink, Workspace
from ..permissions import Perm, role_can
from ..persona.diffs import describe_snapshots, group_changes
from ..persona.jsontypes import JSONObject
from ..persona.layers import label_for
from ..selectors import link_workspaces_for, workspace_role_for
from ..services.personas import last_known_version, persona_listing
from ..services.promotion import (
    PromotionError,
    PromotionPlan,
    PromotionPlanChanged,
    persona_link_create,
    persona_link_delete,
    persona_promotion_plan,
    persona_promotion_propose,
)
from ..services.workspaces import NoActiveKey
from ..tavus import TavusError

# -- Linking --------------------------------------------------------------------------------------


def _known(request: AppRequest, persona_id: str) -> JSONObject:
    """The last version of this persona the dashboard recorded (hints for the mapping; no call)."""
    last = last_known_version(workspace=request.workspace, persona_id=persona_id)
    return last.after if last is not None and isinstance(last.after, dict) else {}


def _their_personas(workspace: Workspace) -> tuple[list[tuple[str, str]], str]:
    """(id, name) of the other workspace's own personas (first 100, read with its key), or a
    message naming the workspace when its Tavus failed."""
    try:
        listing = persona_listing(workspace=workspace, page=1, limit=100, persona_type="user")
    except (TavusError, NoActiveKey) as exc:
        return [], f"The personas of “{workspace.name}” could not be listed. " + (
            tavus_error_message(exc)
        )
    data = listing.get("data")
    rows = [p for p in data if isinstance(p, dict)] if isinstance(data, list) else []
    return [
        (str(p.get("persona_id")), str(p.get("persona_name") or p.get("persona_id")))
        for p in rows
        if p.get("persona_id")
    ], ""


@require_http_methods(["GET", "POST"])
def persona_link(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    choices = link_workspaces_for(user=request.user, exclude=request.workspace)
    if request.method == "POST":
        chosen = request.POST.get("workspace", "")
        form = PersonaLinkForm(request.POST, workspaces=choices)
    else:  # step one chose the workspace (?workspace=): nothing typed yet to complain about
        chosen = request.GET.get("workspace", "")
        form = PersonaLinkForm(initial={"workspace": chosen}, workspaces=choices)
    target = Workspace.objects.filter(slug=chosen).first() if chosen in dict(choices) else None
    problem = ""
    if request.method == "POST" and form.is_valid() and target is not None:
        try:
            persona_link_create(
                workspace=request.workspace,
                persona_id=persona_id,
                target_workspace=target,
                target_persona_id=form.cleaned_data["persona_id"],
                actor=request.user,
                replicas=form.cleaned_data["replicas"],
                documents=form.cleaned_data["documents"],
                request_id=request.request_id,
            )
        except PromotionError as exc:
            problem = str(exc)
        else:
            messages.success(request, f"Linked to its counterpart in “{target.name}”.")
            return redirect("personas:persona_detail", slug=slug, persona_id=persona_id)
    their, listing_error = _their_personas(target) if target is not None else ([], "")
    known = _known(request, persona_id)
    documents = known.get("document_ids")
    context: dict[str, Any] = {
        "nav_section": "personas",
        "persona_id": persona_id,
        "persona_name": known.get("persona_name") or persona_id,
        "form": form,
        "has_choices": bool(choices),
        "target": target,
        "their_personas": their,
        "listing_error": listing_error,
        "problem": problem,
        "hint_replica": known.get("default_replica_id") or "",
        "hint_documents": [d for d in documents if isinstance(d, str)]
        if isinstance(documents, list)
        else [],
    }
    return render(request, "promotion/link.html", context)


def _link_or_404(request: AppRequest, persona_id: str, link_id: int) -> PersonaLink:
    link = (
        PersonaLink.objects.select_related("source_workspace", "target_workspace")
        .filter(pk=link_id)
        .first()
    )
    if link is None or not link.involves(workspace_id=request.workspace.pk, persona_id=persona_id):
        raise Http404("This persona has no such counterpart.")
    return link


@require_POST
def persona_unlink(request: AppRequest, slug: str, persona_id: str, link_id: int) -> HttpResponse:
    link = _link_or_404(request, persona_id, link_id)
    try:
        persona_link_delete(link=link, actor=request.user, request_id=request.request_id)
    except PromotionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The link was removed. Neither persona was changed.")
    return redirect("personas:persona_detail", slug=slug, persona_id=persona_id)


# -- Comparing and proposing ----------------------------------------------------------------------


def _plan_context(plan: PromotionPlan) -> dict[str, Any]:
    return {
        "plan": plan,
        "groups": group_changes(describe_snapshots(plan.there, plan.proposed)),
        "secrets_kept": [label_for(p) for p in plan.secrets_kept],
        "secrets_left_behind": [label_for(p) for p in plan.secrets_left_behind],
        "mapped": [(label_for(m.pointer), m) for m in plan.mapped],
        "unmapped": [(label_for(m.pointer), m) for m in plan.unmapped],
    }


def _render_compare(
    request: AppRequest, persona_id: str, link: PersonaLink, **extra: Any
) -> HttpResponse:
    here_is_source = link.source_workspace_id == request.workspace.pk
    other = link.target_workspace if here_is_source else link.source_workspace
    context: dict[str, Any] = {
        "nav_section": "personas",
        "persona_id": persona_id,
        "link": link,
        "other": other,
        "can_propose": role_can(request.membership.role, Perm.EDIT)
        and role_can(workspace_role_for(workspace=other, user=request.user), Perm.EDIT),
        **extra,
    }
    if "plan" in extra and extra["plan"] is not None:
        context.update(_plan_context(extra["plan"]))
    return render(request, "promotion/compare.html", context)


@require_GET
def persona_promote(request: AppRequest, slug: str, persona_id: str, link_id: int) -> HttpResponse:
    link = _link_or_404(request, persona_id, link_id)
    try:
        plan = persona_promotion_plan(
            link=link,
            workspace=request.workspace,
            persona_id=persona_id,
            actor=request.user,
            request_id=request.request_id,
        )
    except PromotionError as exc:
        return _render_compare(request, persona_id, link, plan=None, problem=str(exc))
    return _render_compare(request, persona_id, link, plan=plan)


@require_POST
def persona_promote_propose(
    request: AppRequest, slug: str, persona_id: str, link_id: int
) -> HttpResponse:
    link = _link_or_404(request, persona_id, link_id)
    try:
        change = persona_promotion_propose(
            link=link,
            workspace=request.workspace,
            persona_id=persona_id,
            actor=request.user,
            expected_fingerprint=request.POST.get("fingerprint", ""),
            request_id=request.request_id,
        )
    except PromotionPlanChanged as exc:
        return _render_compare(request, persona_id, link, plan=exc.plan, plan_changed=str(exc))
    except PromotionError as exc:
        return _render_compare(request, persona_id, link, plan=None, problem=str(exc))
    target = change.workspace
    messages.success(
        request,
        f"The change was proposed in “{target.name}” as a change request"
        + (" and waits for review." if target.requires_approval else "."),
    )
    return redirect("personas:review_detail", slug=target.slug, cr_id=change.pk)

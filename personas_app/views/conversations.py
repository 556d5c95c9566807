"""Conversation pages: try a persona, watch a call's status, end calls, the workspace's list.

Permissions come from URL_RULES (start/end need edit, list/status need view); views never check
membership. Every Tavus failure becomes a plain message with the form's values kept.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from ..forms.conversations import TryPersonaForm
from ..http import AppRequest, tavus_error_message
from ..models import Conversation
from ..persona.jsontypes import JSONObject
from ..services import conversations as service
from ..services.personas import persona_fetch, replicas_for_picker
from ..services.workspaces import NoActiveKey
from ..tavus import TavusConcurrencyLimit, TavusError

_TEMPLATE_TRY = "conversations/try.html"
_TEMPLATE_STATUS = "conversations/status.html"
_TEMPLATE_LIST = "conversations/list.html"


def _persona_name(persona: JSONObject | None) -> str:
    name = (persona or {}).get("persona_name")
    return name if isinstance(name, str) else ""


def _try_form(
    request: AppRequest, persona: JSONObject | None, context: dict[str, object]
) -> TryPersonaForm:
    """The try form, with a replica picker only when the persona has no default replica."""
    needs_replica = persona is not None and not persona.get("default_replica_id")
    replicas: list[JSONObject] = []
    if needs_replica:
        try:
            replicas = replicas_for_picker(workspace=request.workspace)
        except (TavusError, NoActiveKey) as exc:
            context["tavus_error"] = tavus_error_message(exc)
        context["no_replicas"] = not replicas
    initial = {
        "conversation_name": service.default_conversation_name(
            persona_name=_persona_name(persona), actor=request.user
        )
    }
    data = request.POST if request.method == "POST" else None
    return TryPersonaForm(data, initial=initial, replicas=replicas, needs_replica=needs_replica)


def _running_counts(request: AppRequest) -> dict[str, int]:
    running = service.conversations_active(workspace=request.workspace)
    return {
        "running_count": running.count(),
        "my_running_count": running.filter(started_by=request.user).count(),
    }


@require_http_methods(["GET", "POST"])
def conversation_start(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    context: dict[str, object] = {"nav_section": "personas", "persona_id": persona_id}
    persona: JSONObject | None = None
    try:
        persona = persona_fetch(
            workspace=request.workspace, persona_id=persona_id, request_id=request.request_id
        ).persona
    except (TavusError, NoActiveKey) as exc:
        context["tavus_error"] = tavus_error_message(exc)
    form = _try_form(request, persona, context)
    context.update(persona=persona, persona_name=_persona_name(persona) or persona_id, form=form)
    if request.method == "POST" and persona is not None and form.is_valid():
        data = form.cleaned_data
        try:
            conversation = service.conversation_start(
                workspace=request.workspace,
                persona_id=persona_id,
                actor=request.user,
                replica_id=data.get("replica_id") or None,
                test_mode=data["test_mode"],
                conversation_name=data["conversation_name"],
                custom_greeting=data["custom_greeting"],
                conversational_context=data["conversational_context"],
                request_id=request.request_id,
                persona=persona,
            )
        except TavusConcurrencyLimit:
            context.update(concurrency_limit=True, **_running_counts(request))
        except (TavusError, NoActiveKey) as exc:
            context["tavus_error"] = tavus_error_message(exc)
        else:
            started = (
                "Test conversation checked" if conversation.test_mode else "Conversation started"
            )
            messages.success(request, f"{started}: {conversation.conversation_name}.")
            url = reverse("personas:conversation_status", args=[slug, conversation.conversation_id])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    template = f"{_TEMPLATE_TRY}#try-form" if request.htmx else _TEMPLATE_TRY
    return render(request, template, context)


def _status_context(request: AppRequest, conversation: Conversation) -> dict[str, object]:
    return {
        "nav_section": "conversations",
        "conversation": conversation,
        "can_end": request.membership.role != "viewer",
    }


@require_GET
def conversation_status(request: AppRequest, slug: str, conversation_id: str) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation, workspace=request.workspace, conversation_id=conversation_id
    )
    context = _status_context(request, conversation)
    try:
        service.conversation_refresh(
            workspace=request.workspace, conversation=conversation, request_id=request.request_id
        )
    except (TavusError, NoActiveKey) as exc:
        context["check_error"] = tavus_error_message(exc)
    template = f"{_TEMPLATE_STATUS}#status" if request.htmx else _TEMPLATE_STATUS
    return render(request, template, context)


def _list_context(request: AppRequest, *, check: bool) -> dict[str, object]:
    workspace = request.workspace
    context: dict[str, object] = {"nav_section": "conversations"}
    if check:
        try:
            service.conversations_refresh_active(workspace=workspace, request_id=request.request_id)
        except (TavusError, NoActiveKey) as exc:
            context["check_error"] = tavus_error_message(exc)
    active = list(service.conversations_active(workspace=workspace))
    context.update(
        active=active,
        recently_ended=service.conversations_recently_ended(workspace=workspace, limit=20),
        my_running_count=len([c for c in active if c.started_by == request.user]),
        can_end=request.membership.role != "viewer",
        max_minutes=workspace.conversation_max_minutes,
    )
    return context


@require_GET
def conversation_list(request: AppRequest, slug: str) -> HttpResponse:
    context = _list_context(request, check=True)
    template = f"{_TEMPLATE_LIST}#conversations" if request.htmx else _TEMPLATE_LIST
    return render(request, template, context)


def _after_write(
    request: AppRequest,
    *,
    to_list: bool,
    conversation: Conversation | None,
    notice: str,
    error: str,
) -> HttpResponse:
    """htmx gets the updated fragment with the outcome in it; a plain POST a message + redirect."""
    if request.htmx:
        if to_list or conversation is None:
            context = _list_context(request, check=False)
            context.update(notice=notice, end_error=error)
            return render(request, f"{_TEMPLATE_LIST}#conversations", context)
        context = _status_context(request, conversation)
        context.update(notice=notice, end_error=error)
        return render(request, f"{_TEMPLATE_STATUS}#status", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    slug = request.workspace.slug
    if to_list or conversation is None:
        return redirect("personas:conversation_list", slug=slug)
    return redirect(
        "personas:conversation_status", slug=slug, conversation_id=conversation.conversation_id
    )


@require_POST
def conversation_end(request: AppRequest, slug: str, conversation_id: str) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation, workspace=request.workspace, conversation_id=conversation_id
    )
    was_active = conversation.is_active
    notice = error = ""
    try:
        service.conversation_end(
            workspace=request.workspace,
            conversation=conversation,
            actor=request.user,
            request_id=request.request_id,
        )
    except (TavusError, NoActiveKey) as exc:
        error = f"“{conversation}” could not be ended. {tavus_error_message(exc)}"
    else:
        notice = (
            f"Ended “{conversation}”." if was_active else f"“{conversation}” had already ended."
        )
    to_list = request.POST.get("next") == "list"
    return _after_write(
        request, to_list=to_list, conversation=conversation, notice=notice, error=error
    )


@require_POST
def conversation_end_mine(request: AppRequest, slug: str) -> HttpResponse:
    notice = error = ""
    try:
        count = service.conversation_end_all_mine(
            workspace=request.workspace, actor=request.user, request_id=request.request_id
        )
    except (TavusError, NoActiveKey) as exc:
        error = f"Not all of your conversations could be ended. {tavus_error_message(exc)}"
    else:
        if count:
            notice = f"Ended {count} conversation{'s' if count != 1 else ''} you started."
        else:
            notice = "You have no conversations running."
    return _after_write(request, to_list=True, conversation=None, notice=notice, error=error)

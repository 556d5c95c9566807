"""Typed request for views and the plain-words message for any Tavus failure."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from .models import Membership, Workspace
from .services.workspaces import NoActiveKey
from .tavus import TavusError


class AppRequest(HttpRequest):
    """An HttpRequest as the app's middleware leaves it (for type checkers)."""

    htmx: HtmxDetails
    user: AbstractBaseUser  # type: ignore[assignment]
    workspace: Workspace
    membership: Membership
    request_id: str


def tavus_error_message(exc: TavusError | NoActiveKey) -> str:
    """What to tell the user when a Tavus call failed (their work is kept)."""
    if isinstance(exc, NoActiveKey):
        return str(exc)
    return exc.user_message


def site_url(request: HttpRequest) -> str:
    """The dashboard's address for links in emails: SITE_URL, or else the one this request used
    (its host already checked against ALLOWED_HOSTS)."""
    return settings.SITE_URL or request.build_absolute_uri("/").rstrip("/")

"""Error pages that speak plainly and never show a traceback or a secret.

Also the exception reporter filter (settings.DEFAULT_EXCEPTION_REPORTER_FILTER) that keeps secrets
off Django's technical error pages and error reports, whatever DEBUG is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

from personas_app.logging import scrub
from personas_app.persona.redaction import credential_named

_TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Django answers a body over DATA_UPLOAD_MAX_MEMORY_SIZE (or with too many fields) through
    # handler400; 413 says what went wrong.
    too_large = isinstance(exception, _TOO_LARGE)
    context = {"too_large": too_large, "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    return render(request, "errors/400.html", context, status=413 if too_large else 400)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "You may not do that here."
    return render(request, "errors/403.html", {"message": message}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: the page must render even when the database is what failed.
    return HttpResponse(loader.get_template("errors/500.html").render({}), status=500)


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, always on, and hiding anything named or holding like a credential.

    Hidden: settings, headers and cookies named like a credential (Django's list plus bearer,
    sealed values, credentials and cache/database locations, which can carry a password); POST
    fields and local variables named so, or as redaction.credential_named says, at any depth of a
    dict, list, (name, value) pair or form data; any value that holds a secret the app has seen
    (personas_app.logging.remember_secret). Broad on purpose: a debug page may hide too much.
    """

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|BEARER|SEAL|CREDENTIAL|PRIVATE"
        "|LOCATION|DATABASE_URL|CACHE_URL",
        flags=re.IGNORECASE,
    )

    def is_active(self, request: HttpRequest | None) -> bool:
        # Django turns the filter off when DEBUG is on; a debug page must not show a key either.
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        if request is None:
            return {}
        return self._cleanse("", super().get_post_parameters(request))

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: FrameType
    ) -> Iterable[tuple[str, Any]]:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self._cleanse(name, value)) for name, value in variables]

    def _cleanse(self, name: str, value: Any) -> Any:
        if name and (self.hidden_settings.search(name) or credential_named(name)):
            return self.cleansed_substitute
        if isinstance(value, MultiValueDict):
            cleansed = value.copy()
            for key in cleansed:
                cleansed.setlist(key, [self._cleanse(key, v) for v in value.getlist(key)])
            return cleansed
        if isinstance(value, dict):
            return {k: self._cleanse(str(k), v) for k, v in value.items()}
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            return (value[0], self._cleanse(value[0], value[1]))  # a (name, value) pair
        if isinstance(value, list | tuple):
            return [self._cleanse("", v) for v in value]
        try:
            shown = repr(value)
        except Exception:  # The page shows the repr; one that fails shows nothing to hide.
            return value
        return self.cleansed_substitute if scrub(shown) != shown else value

"""Single sign-on with OpenID Connect: mozilla-django-oidc's backend and views, set up from settings.

Wiring through the library's documented hooks (a backend subclass overriding verify_claims,
create_user, update_user, get_userinfo, verify_token; view subclasses). What it adds:
- the provider's endpoints come from OIDC_ISSUER's discovery document, fetched when a sign-in needs
  them and cached for an hour; nothing is fetched at start-up or for a local (password) login;
- the ID token's issuer and audience are checked (the library checks signature, expiry and nonce);
- users are matched by email, and only by an email the provider has not said is unverified;
  a new user gets a username from the claims;
- at each sign-in the provider's groups set workspace roles (services.sso);
- every failure (provider down, bad state, nonce or signature) is a message on the login page.

This module and the library are the only ones speaking HTTP to the provider. It never imports
devtools, and views do not import it (dashboard/urls.py wires its views).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from .logging import remember_secret
from .services.sso import sso_memberships_sync

logger = logging.getLogger(__name__)

DISCOVERY_CACHE_SECONDS = 3600

# The library's endpoint settings and the discovery document's names for them (OpenID Connect
# Discovery 1.0, section 3). A setting that is not empty wins over discovery.
_ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered nonsense; the message is for the user."""


class SignInRefused(Exception):
    """The provider answered, but its answer cannot sign this person in; the message says why."""


def sso_enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


def _provider_name() -> str:
    return str(settings.OIDC_PROVIDER_NAME)


def _unreachable() -> ProviderUnavailable:
    return ProviderUnavailable(
        f"{_provider_name()} could not be reached, so you were not signed in. Try again in a "
        "moment, or log in with your username and password."
    )


def _discovery() -> dict[str, Any]:
    """The provider's discovery document, from the cache or fetched (ProviderUnavailable)."""
    issuer = settings.OIDC_ISSUER
    key = f"oidc-discovery:{issuer}"
    document = cache.get(key)
    if document is not None:
        return dict(document)
    try:
        response = requests.get(
            f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT
        )
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OIDC discovery at %s failed: %s", issuer, type(exc).__name__)
        raise _unreachable() from exc
    # Discovery 1.0 section 4.3: the document must name the issuer it was fetched for.
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
        logger.warning("OIDC discovery at %s names another issuer", issuer)
        raise ProviderUnavailable(
            f"Single sign-on with {_provider_name()} is not set up correctly (its address does "
            "not match OIDC_ISSUER), so you were not signed in. Tell your administrator."
        )
    cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return document


def _endpoint(setting: str) -> str:
    """The provider endpoint for one of the library's endpoint settings."""
    configured = getattr(settings, setting, "")
    if configured:
        return str(configured)
    found = _discovery().get(_ENDPOINTS[setting])
    if not found:
        raise ProviderUnavailable(
            f"Single sign-on with {_provider_name()} is not set up correctly (its discovery "
            f"document has no {_ENDPOINTS[setting]}). Tell your administrator."
        )
    return str(found)


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (realm_access.roles)."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _groups(claims: dict[str, Any]) -> list[str]:
    value = _claim(claims, settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


_NOT_USERNAME = re.compile(r"[^\w.@+-]")


class SingleSignOnBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, with discovery, claim checks and group → role mapping."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> AbstractBaseUser | None:
        # Django asks every backend about every login: only the callback view's (which passes
        # the nonce) is ours, so a password login never reaches the provider.
        if request is None or "nonce" not in kwargs or not sso_enabled():
            return None
        remember_secret(self.OIDC_RP_CLIENT_SECRET)  # never in a log line, whatever fails
        self.OIDC_OP_TOKEN_ENDPOINT = _endpoint("OIDC_OP_TOKEN_ENDPOINT")
        self.OIDC_OP_USER_ENDPOINT = _endpoint("OIDC_OP_USER_ENDPOINT")
        if not self.OIDC_RP_SIGN_ALGO.startswith("HS") and self.OIDC_RP_IDP_SIGN_KEY is None:
            self.OIDC_OP_JWKS_ENDPOINT = _endpoint("OIDC_OP_JWKS_ENDPOINT")
        try:
            user: AbstractBaseUser | None = super().authenticate(request, **kwargs)
        except requests.RequestException as exc:
            logger.warning("OIDC sign-in: the provider failed: %s", type(exc).__name__)
            raise _unreachable() from exc
        except jwt.PyJWTError as exc:
            # Expired, not yet valid, malformed: the library turns only a bad signature into
            # SuspiciousOperation.
            raise SuspiciousOperation(f"ID token refused: {type(exc).__name__}") from exc
        return user

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        # OpenID Connect Core 1.0, 3.1.3.7: the issuer must be ours and the audience include us.
        if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation("ID token from another issuer.")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience or []
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client.")
        return payload

    def get_userinfo(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """The ID token's claims with the userinfo endpoint's on top (groups may be in either)."""
        userinfo: dict[str, Any] = super().get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 1.0, 5.3.2: userinfo must be about the ID token's subject.
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("Userinfo about another subject.")
        return {**payload, **userinfo}

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        if not claims.get("email"):
            raise SignInRefused(
                f"{_provider_name()} did not tell us your email address, so you were not "
                "signed in. Ask your administrator to share it with Persona Studio."
            )
        if "email_verified" in claims and claims["email_verified"] not in (True, "true"):
            raise SignInRefused(
                f"{_provider_name()} has not verified your email address, so you were not "
                "signed in. Verify it there first, then try again."
            )
        return True

    def create_user(self, claims: dict[str, Any]) -> AbstractBaseUser:
        """A new account (no password: it signs in through the provider only)."""
        user: AbstractBaseUser = self.UserModel.objects.create_user(
            self._free_username(claims),
            email=claims["email"],
            first_name=str(claims.get("given_name", ""))[:150],
            last_name=str(claims.get("family_name", ""))[:150],
        )
        self._sync_roles(user, claims)
        return user

    def update_user(self, user: AbstractBaseUser, claims: dict[str, Any]) -> AbstractBaseUser:
        self._sync_roles(user, claims)
        return user

    def _free_username(self, claims: dict[str, Any]) -> str:
        """preferred_username, else the email's local part, made a valid username not taken."""
        wanted = str(claims.get("preferred_username") or claims["email"].split("@")[0])
        base = _NOT_USERNAME.sub("-", wanted)[:140].strip("-") or "user"
        username, n = base, 2
        while self.UserModel.objects.filter(username__iexact=username).exists():
            username, n = f"{base}-{n}", n + 1
        return username

    def _sync_roles(self, user: AbstractBaseUser, claims: dict[str, Any]) -> None:
        if not user.is_active or not settings.OIDC_GROUP_ROLES:
            return
        sso_memberships_sync(
            user=user,
            groups=_groups(claims),
            mapping=settings.OIDC_GROUP_ROLES,
            request_id=getattr(self.request, "request_id", ""),
        )


def _back_to_login(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return HttpResponseRedirect(reverse("login"))


class SignInView(OIDCAuthenticationRequestView):
    """GET: send the browser to the provider (the "Sign in with …" button)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso_enabled():
            raise Http404("Single sign-on is not set up.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = _endpoint("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except ProviderUnavailable as exc:
            return _back_to_login(request, str(exc))
        response: HttpResponse = super().get(request)
        return response


class CallbackView(OIDCAuthenticationCallbackView):
    """GET: the provider sends the browser back here with a code; sign in, or say why not."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso_enabled():
            raise Http404("Single sign-on is not set up.")
        try:
            response: HttpResponse = super().get(request)
        except (ProviderUnavailable, SignInRefused) as exc:
            return _back_to_login(request, str(exc))
        except SuspiciousOperation as exc:
            logger.warning("OIDC sign-in refused: %s", exc)
            return _back_to_login(
                request,
                f"The answer from {_provider_name()} could not be verified, so you were not "
                "signed in. Start again from this page (a sign-in link works once, in the "
                "browser that opened it).",
            )
        return response

    def login_failure(self) -> HttpResponse:
        error = self.request.GET.get("error", "")
        reason = f" ({error})" if re.fullmatch(r"[a-z_]{1,40}", error) else ""
        return _back_to_login(
            self.request,
            f"Signing in with {_provider_name()} did not work{reason}. Try again, or log in "
            "with your username and password.",
        )


def login_context(request: HttpRequest) -> dict[str, object]:
    """Template context: the "Sign in with …" button's label when single sign-on is set up."""
    return {"sso_provider_name": _provider_name()} if sso_enabled() else {}

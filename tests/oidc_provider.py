"""A small OpenID Connect provider for the tests, served on a loopback port.

Discovery, authorize (no login form: it signs in `state.user` at once and redirects back with a
code), token (an RS256 ID token, PKCE and the client's secret checked), userinfo and JWKS. Knobs
make it misbehave the ways a real provider or an attacker could: a token signed by another key, a
wrong nonce, a user whose email is not verified. Every request is logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "persona-studio"
CLIENT_SECRET = "test-client-secret-0001-long-enough-for-hs256"
KEY_ID = "test-key-1"


@lru_cache(maxsize=2)
def _rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One key per name for the whole test run (generating one takes a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class ProviderState:
    """What the provider knows and how it should behave; tests change it between requests."""

    user: dict[str, Any] = field(default_factory=dict)
    algorithm: str = "RS256"  # or "HS256": signed with the client secret
    sign_with_other_key: bool = False
    nonce_override: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def sign_in_as(self, email: str, *, groups: list[str] | None = None, **claims: Any) -> None:
        """The person the next authorize request signs in."""
        self.user = {
            "sub": hashlib.sha256(email.encode()).hexdigest()[:16],
            "email": email,
            "email_verified": True,
            "preferred_username": email.split("@")[0],
            "groups": groups or [],
            **claims,
        }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        state.log.append(f"GET {url.path}")
        issuer = self.server.issuer
        if url.path == "/.well-known/openid-configuration":
            self._json(
                200,
                {
                    "issuer": issuer,
                    "authorization_endpoint": f"{issuer}/authorize",
                    "token_endpoint": f"{issuer}/token",
                    "userinfo_endpoint": f"{issuer}/userinfo",
                    "jwks_uri": f"{issuer}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        elif url.path == "/jwks":
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(
                _rsa_key("provider").public_key(), as_dict=True
            )
            self._json(200, {"keys": [{**jwk, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]})
        elif url.path == "/authorize":
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                self._json(400, {"error": "invalid_request"})
                return
            code = secrets.token_urlsafe(16)
            state.codes[code] = {**query, "user": dict(state.user)}
            back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            self.send_response(302)
            self.send_header("Location", back)
            self.end_headers()
        elif url.path == "/userinfo":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            user = state.access_tokens.get(token)
            if user is None:
                self._json(401, {"error": "invalid_token"})
                return
            self._json(200, user)
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        state.log.append(f"POST {self.path}")
        if self.path != "/token":
            self._json(404, {"error": "not_found"})
            return
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            self._json(401, {"error": "invalid_client"})
            return
        grant = state.codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            self._json(400, {"error": "invalid_grant"})
            return
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant.get("code_challenge"):
            self._json(400, {"error": "invalid_grant", "error_description": "PKCE"})
            return
        user = grant["user"]
        now = int(time.time())
        claims = {
            **user,
            "iss": self.server.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": state.nonce_override or grant.get("nonce"),
        }
        key: Any = _rsa_key("attacker" if state.sign_with_other_key else "provider")
        if state.algorithm == "HS256":
            key = CLIENT_SECRET
        id_token = jwt.encode(claims, key, algorithm=state.algorithm, headers={"kid": KEY_ID})
        access_token = secrets.token_urlsafe(16)
        state.access_tokens[access_token] = user
        self._json(
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ProviderState
    issuer: str


@dataclass
class RunningProvider:
    """A provider on a loopback port; stop() it when done."""

    state: ProviderState
    url: str
    _server: _Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


GROUP_ROLES = [
    "staging-editors=staging:editor",
    "prod-admins=production:admin",
    "prod-viewers=production:viewer",
]


def configure(settings: Any, provider: RunningProvider) -> None:
    """Set single sign-on up against `provider` (pytest-django's `settings` fixture), as the
    OIDC_* environment variables would."""
    from dashboard.settings import parse_group_roles

    settings.OIDC_ISSUER = provider.url
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_GROUP_ROLES = parse_group_roles(GROUP_ROLES)
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "personas_app.sso.SingleSignOnBackend",
    ]


def start_provider() -> RunningProvider:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = ProviderState()
    server.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return RunningProvider(server.state, server.issuer, server, thread)

"""The only code that speaks HTTP to Tavus: TavusClient, one method per endpoint the dashboard uses.

Methods return parsed JSON and raise TavusError subclasses; callers never see requests
exceptions or status codes. The API key travels only in the x-api-key header and is never logged,
put in an error, or shown by repr(). Must not import django or anything from personas_app
outside tavus/.

Every client of the process shares one `requests.Session` (per retry policy), whose
`HTTPAdapter` keeps connections alive: the dashboard makes a client per page (each workspace has
its own key), and a session per client would open a new connection, with its TCP and TLS
handshakes, for every page. The retry policy is urllib3's `Retry`, set on the adapter:

- GETs are retried with exponential backoff on fast failures: a connection that could not be
  made, and 429/502/503/504 answers (429 and 503 wait for `Retry-After`, capped at
  `max_retry_after`). A read timeout or a connection cut after the request left is not retried:
  a hanging Tavus costs a page one read timeout, not one per attempt;
- writes (POST, PATCH, DELETE) are tried again only when the connection could not be made, so
  nothing was sent; once a write has left, its answer (or its failure) is final;
- connect and read timeouts are always set; proxies and CA bundles come from the environment
  as requests reads them (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, ...);
- redirects are not followed: one would copy the x-api-key header to wherever it points.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from ._types import JSON, JSONObject
from .errors import (
    TavusAuthError,
    TavusBadRequest,
    TavusConcurrencyLimit,
    TavusError,
    TavusNotFound,
    TavusRateLimited,
    TavusUnavailable,
    UnavailableReason,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://tavusapi.com"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_NOT_FOUND_TEXTS = {
    "invalid persona_id": "persona",
    "invalid conversation_id": "conversation",
}
_CONCURRENCY_TEXT = "maximum concurrent conversations"


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds, decimal seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _Retry(Retry):
    """urllib3's Retry, reading Retry-After as the client does: decimal seconds are accepted and
    a header that cannot be read means "no Retry-After" (urllib3 would raise)."""

    def get_retry_after(self, response: object) -> float | None:
        seconds = _parse_retry_after(getattr(response, "headers", {}).get("Retry-After"))
        return None if seconds is None else min(seconds, self.retry_after_max)


@functools.lru_cache(maxsize=8)
def shared_session(max_retries: int, backoff: float, max_retry_after: float) -> requests.Session:
    """The process's session for one retry policy (in production there is one policy)."""
    retry = _Retry(
        total=max_retries,
        connect=max_retries,
        read=0,
        status=max_retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),  # statuses; connect errors: every method (not sent)
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=max_retry_after,
        retry_after_max=max_retry_after,  # type: ignore[arg-type]
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer comes back and becomes a TavusError
    )
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=retry)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": "persona-studio"})
    return session


class _ApiKeyAuth(AuthBase):
    """Adds x-api-key to each request; an auth object keeps the key out of locals and reprs."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["x-api-key"] = self._api_key
        return request

    def __repr__(self) -> str:
        return "<x-api-key ****>"


@dataclass(frozen=True)
class _Reply:
    method: str
    path: str
    status: int
    text: str

    def json_body(self) -> JSON:
        if not self.text.strip():
            return None
        try:
            parsed: JSON = json.loads(self.text)
        except (ValueError, RecursionError):  # not JSON, or nested past what Python can parse
            raise TavusUnavailable(
                f"{self.method} {self.path} -> {self.status}: answer is not JSON",
                reason="bad_response",
                status=self.status,
                method=self.method,
            ) from None
        return parsed

    def json_object(self) -> JSONObject:
        body = self.json_body()
        if not isinstance(body, dict):
            raise TavusUnavailable(
                f"{self.method} {self.path} -> {self.status}: expected a JSON object, "
                f"got {type(body).__name__}",
                reason="bad_response",
                status=self.status,
                method=self.method,
            )
        return body


def _segment(value: str) -> str:
    # Ids come from URLs and forms; quoting keeps a stray "/" or "?" from changing the route.
    return quote(value, safe="")


def _tavus_text(body: JSON) -> str | None:
    # 400 bodies use "error"; 401/422 and the concurrency 400 use "message" (api-notes §1.1).
    if isinstance(body, dict):
        for key in ("error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _connection_reason(exc: BaseException) -> UnavailableReason:
    """Walk the wrapped urllib3/socket errors to tell refused from reset from DNS failures."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError):
            return "refused"
        if isinstance(item, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return "reset"
        name = type(item).__name__
        if name in {"NameResolutionError", "gaierror"}:
            return "dns"
        if name in {"RemoteDisconnected", "IncompleteRead", "ProtocolError"}:
            return "reset"
        stack.extend(item.args)
        stack.extend(x for x in (item.__cause__, item.__context__) if x is not None)
        reason = getattr(item, "reason", None)
        if reason is not None:
            stack.append(reason)
    text = str(exc).lower()
    if "refused" in text:
        return "refused"
    if "reset" in text or "aborted" in text:
        return "reset"
    return "connection"


def _resource_from_path(path: str) -> str:
    """What a 404 on `path` is about: the item its id names, or, for an address without an id
    (a list, a create), the address itself ("persona list", ...)."""
    for prefix, noun in (
        ("/v2/personas", "persona"),
        ("/v2/conversations", "conversation"),
        ("/v2/replicas", "replica"),
        ("/v2/documents", "document"),
        ("/v2/objectives", "objective"),
        ("/v2/guardrails", "guardrail"),
    ):
        if path.startswith(prefix):
            return noun if path[len(prefix) :].strip("/") else f"{noun} list"
    return "address"


def _listing(body: JSONObject) -> JSONObject:
    # Callers index body["data"] and body["total_count"]; a missing key means an odd answer.
    data = body.get("data")
    if not isinstance(data, list):
        raise TavusUnavailable(
            "list answer has no 'data' array", reason="bad_response", status=200, method="GET"
        )
    if not isinstance(body.get("total_count"), int):
        body["total_count"] = len(data)
    return body


def _single(reply: _Reply, *, resource: str, id_key: str) -> JSONObject:
    """The one item of a single-item answer: flat, or wrapped as {"data": [item]}."""
    body = reply.json_object()
    if id_key in body:
        return body
    data = body.get("data")
    if isinstance(data, list):
        if not data:
            raise TavusNotFound(
                f"{reply.method} {reply.path} -> {reply.status}: empty data",
                resource=resource,
                status=reply.status,
                method=reply.method,
            )
        data = data[0]
    if isinstance(data, dict):
        return data
    return body


class TavusClient:
    """A small, typed client for the Tavus v2 REST API."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: tuple[float, float] = (3.05, 15.0),
        max_retries: int = 3,
        backoff: float = 0.25,
        max_retry_after: float = 10.0,
    ) -> None:
        self._api_key = api_key
        self._auth = _ApiKeyAuth(api_key)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = shared_session(
            max(0, max_retries), max(0.0, backoff), max(0.0, max_retry_after)
        )

    def __repr__(self) -> str:
        return f"TavusClient(base_url={self.base_url!r})"

    def _scrub(self, text: str) -> str:
        # Defence in depth: should any text ever echo the key, it never reaches an error or log.
        if len(self._api_key) >= 4:
            return text.replace(self._api_key, "****")
        return text

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: JSON = None,
    ) -> _Reply:
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                auth=self._auth,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = self._network_error(method, path, exc)
            logger.debug(
                "Tavus %s %s failed (%s) after %.0f ms",
                method,
                path,
                error.reason,
                (time.monotonic() - started) * 1000,
            )
            raise error from None
        status = response.status_code
        logger.debug(
            "Tavus %s %s -> %s in %.0f ms",
            method,
            path,
            status,
            (time.monotonic() - started) * 1000,
        )
        reply = _Reply(method=method, path=path, status=status, text=response.text)
        if status >= 400 or (300 <= status < 400 and status != 304):
            raise self._http_error(reply, response.headers.get("Retry-After"))
        return reply

    def _network_error(
        self, method: str, path: str, exc: requests.RequestException
    ) -> TavusUnavailable:
        reason: UnavailableReason
        # ConnectTimeout is both a Timeout and a ConnectionError, so it is checked first.
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            reason = "connect_timeout"
        elif isinstance(exc, requests.exceptions.Timeout):
            reason = "read_timeout"
        elif isinstance(exc, requests.exceptions.ConnectionError):
            reason = _connection_reason(exc)
            # Retries of a connection that kept timing out end as a ConnectionError too.
            if reason == "connection" and "timed out" in str(exc).lower():
                reason = (
                    "read_timeout" if "read timed out" in str(exc).lower() else "connect_timeout"
                )
        else:
            reason = "connection"
        detail = self._scrub(f"{method} {path} failed: {reason} ({type(exc).__name__}: {exc})")
        return TavusUnavailable(detail, reason=reason, method=method)

    def _http_error(self, reply: _Reply, retry_after_header: str | None) -> TavusError:
        status, method = reply.status, reply.method
        try:
            body = reply.json_body()
        except TavusUnavailable:
            body = None
        raw_text = _tavus_text(body)
        text = self._scrub(raw_text) if raw_text is not None else None
        detail = f"{method} {reply.path} -> {status}" + (f": {text}" if text else "")
        lowered = (text or "").lower()
        if status in (401, 403):
            # Inferred: 403 (e.g. a key restricted to other IP addresses) is a key problem too.
            return TavusAuthError(detail, status=status, tavus_message=text, method=method)
        if status == 404 or (status == 400 and lowered in _NOT_FOUND_TEXTS):
            resource = _NOT_FOUND_TEXTS.get(lowered) or _resource_from_path(reply.path)
            return TavusNotFound(
                detail, resource=resource, status=status, tavus_message=text, method=method
            )
        if status == 400 and _CONCURRENCY_TEXT in lowered:
            return TavusConcurrencyLimit(detail, status=status, tavus_message=text, method=method)
        if status in (400, 422):
            return TavusBadRequest(detail, status=status, tavus_message=text, method=method)
        if status == 429:
            return TavusRateLimited(
                detail,
                retry_after=_parse_retry_after(retry_after_header),
                status=status,
                tavus_message=text,
                method=method,
            )
        if status >= 500:
            return TavusUnavailable(
                detail, reason="server_error", status=status, tavus_message=text, method=method
            )
        return TavusError(detail, status=status, tavus_message=text, method=method)

    # -- Personas ---------------------------------------------------------------------------

    # Tavus: https://docs.tavus.io/api-reference/personas/get-personas
    def list_personas(
        self, page: int = 1, limit: int = 10, persona_type: str | None = None
    ) -> JSONObject:
        params = {"page": str(page), "limit": str(limit)}
        if persona_type is not None:
            params["persona_type"] = persona_type
        return _listing(self._request("GET", "/v2/personas", params=params).json_object())

    # Tavus: https://docs.tavus.io/api-reference/personas/get-persona
    # The docs show {"data": [persona]}; other clients see a flat persona, so both are read.
    def get_persona(self, persona_id: str) -> JSONObject:
        reply = self._request("GET", f"/v2/personas/{_segment(persona_id)}")
        return _single(reply, resource="persona", id_key="persona_id")

    # Tavus: https://docs.tavus.io/api-reference/personas/create-persona
    # Documented answer: {persona_id, persona_name, created_at}; a full persona is accepted too.
    def create_persona(self, payload: Mapping[str, JSON]) -> JSONObject:
        return self._request("POST", "/v2/personas", json=dict(payload)).json_object()

    # Tavus: https://docs.tavus.io/api-reference/personas/patch-persona
    # True when Tavus saved a change (200), False on 304 "no changes". The body is a JSON array
    # sent as plain application/json, as the docs show. Re-read with get_persona afterwards:
    # the 200 body is undocumented.
    def patch_persona(self, persona_id: str, ops: Sequence[Mapping[str, JSON]]) -> bool:
        body: list[JSON] = [dict(op) for op in ops]
        reply = self._request("PATCH", f"/v2/personas/{_segment(persona_id)}", json=body)
        return reply.status != 304

    # Tavus: https://docs.tavus.io/api-reference/personas/delete-persona
    def delete_persona(self, persona_id: str) -> None:
        self._request("DELETE", f"/v2/personas/{_segment(persona_id)}")

    # -- Pickers: replicas and documents ----------------------------------------------------

    # Tavus: https://docs.tavus.io/api-reference/phoenix-replica-model/get-replicas
    def list_replicas(
        self,
        page: int = 1,
        limit: int = 100,
        replica_type: str | None = None,
        verbose: bool = True,
    ) -> JSONObject:
        params = {"page": str(page), "limit": str(limit), "verbose": "true" if verbose else "false"}
        if replica_type is not None:
            params["replica_type"] = replica_type
        return _listing(self._request("GET", "/v2/replicas", params=params).json_object())

    # Tavus: https://docs.tavus.io/api-reference/documents/get-documents
    # Documents pages are 0-based, unlike every other list.
    def list_documents(
        self,
        page: int = 0,
        limit: int = 100,
        tags: Sequence[str] | None = None,
        name_or_uuid: str | None = None,
    ) -> JSONObject:
        params = {"page": str(page), "limit": str(limit)}
        if tags:
            params["tags"] = ",".join(tags)
        if name_or_uuid:
            params["name_or_uuid"] = name_or_uuid
        return _listing(self._request("GET", "/v2/documents", params=params).json_object())

    # -- Pickers: objectives and guardrails -------------------------------------------------

    # Tavus: https://docs.tavus.io/api-reference/objectives/get-objectives-list
    # Items carry objectives_id (the value a persona's objectives_id takes) and objective_name.
    def list_objectives(self, page: int = 1, limit: int = 100) -> JSONObject:
        params = {"page": str(page), "limit": str(limit)}
        return _listing(self._request("GET", "/v2/objectives", params=params).json_object())

    # Tavus: https://docs.tavus.io/api-reference/guardrails/list-guardrails
    # Without legacy=false Tavus answers the legacy guardrail *sets* (what guardrails_id points
    # at); with it, individual guardrails, whose id (for guardrail_ids) is the item's "uuid".
    # Pages are 0-based when legacy=false, as for documents.
    def list_guardrails(self, page: int = 0, limit: int = 100) -> JSONObject:
        params = {"legacy": "false", "page": str(page), "limit": str(limit)}
        return _listing(self._request("GET", "/v2/guardrails", params=params).json_object())

    # -- Conversations ----------------------------------------------------------------------

    # Tavus: https://docs.tavus.io/api-reference/conversations/create-conversation
    def create_conversation(
        self,
        *,
        persona_id: str,
        replica_id: str | None = None,
        conversation_name: str | None = None,
        test_mode: bool = False,
        custom_greeting: str | None = None,
        conversational_context: str | None = None,
        callback_url: str | None = None,
    ) -> JSONObject:
        body: JSONObject = {"persona_id": persona_id}
        optional: dict[str, str | None] = {
            "replica_id": replica_id,
            "conversation_name": conversation_name,
            "custom_greeting": custom_greeting,
            "conversational_context": conversational_context,
            "callback_url": callback_url,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        if test_mode:
            body["test_mode"] = True
        return self._request("POST", "/v2/conversations", json=body).json_object()

    # Tavus: https://docs.tavus.io/api-reference/conversations/get-conversations
    def list_conversations(
        self, page: int = 1, limit: int = 10, status: str | None = None
    ) -> JSONObject:
        params = {"page": str(page), "limit": str(limit)}
        if status is not None:
            params["status"] = status
        return _listing(self._request("GET", "/v2/conversations", params=params).json_object())

    # Tavus: https://docs.tavus.io/api-reference/conversations/get-conversation
    # Inferred: read both the flat object and a {"data": [...]} wrapper, as for personas.
    def get_conversation(self, conversation_id: str) -> JSONObject:
        reply = self._request("GET", f"/v2/conversations/{_segment(conversation_id)}")
        return _single(reply, resource="conversation", id_key="conversation_id")

    # Tavus: https://docs.tavus.io/api-reference/conversations/end-conversation
    # The docs answer a bare "OK", so the body is not read.
    def end_conversation(self, conversation_id: str) -> None:
        self._request("POST", f"/v2/conversations/{_segment(conversation_id)}/end")

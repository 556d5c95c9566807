"""The only code that speaks HTTP to Tavus: TavusClient, one method per endpoint the dashboard uses.

Methods return parsed JSON and raise TavusError subclasses; callers never see requests
exceptions or status codes. GETs are retried on network errors, 502/503/504 and 429; writes
never are. The API key travels only in the x-api-key header and is never logged, put in an
error, or shown by repr(). Must not import django or anything from personas_app outside tavus/.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3

from . import transport
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

Reuse = Callable[[str], JSON]
"""Given the text of an answer, the value it parses to when the caller already holds that value
(parsed from the same text earlier), else None. Lets a caller that expected this very answer skip
parsing it again; see personas_app/live.py."""

# Module-level so tests can patch it; the suite keeps waits tiny through backoff/Retry-After.
_sleep = time.sleep

DEFAULT_BASE_URL = "https://tavusapi.com"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_NOT_FOUND_TEXTS = {
    "invalid persona_id": "persona",
    "invalid conversation_id": "conversation",
}
_CONCURRENCY_TEXT = "maximum concurrent conversations"


_sent_callbacks = threading.local()


@contextmanager
def when_sent(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` each time a request made on this thread is on the wire, just before its
    answer is awaited: a caller overlapping work with the call (personas_app/live.py) starts that work
    once the request has left, not while it is still being written."""
    previous = getattr(_sent_callbacks, "callback", None)
    _sent_callbacks.callback = callback
    try:
        yield
    finally:
        _sent_callbacks.callback = previous


def _announce_sent() -> None:
    callback = getattr(_sent_callbacks, "callback", None)
    if callback is not None:
        callback()


class _AnnouncingHTTPConnection(urllib3.connection.HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _announce_sent()
        return super().getresponse(*args, **kwargs)


class _AnnouncingHTTPSConnection(urllib3.connection.HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _announce_sent()
        return super().getresponse(*args, **kwargs)


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _AnnouncingHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _AnnouncingHTTPSConnection


@functools.lru_cache(maxsize=64)
def _environment_settings(base_url: str) -> tuple[str | None, str | bool]:
    """(proxy URL or None, verify) for a base URL, from the environment, read once per process.

    The variables requests and curl honour: HTTPS_PROXY/HTTP_PROXY/ALL_PROXY with NO_PROXY (looked
    up for the base URL itself), and REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE for the CA bundle. They do
    not change while the process runs.
    """
    proxies = requests.utils.get_environ_proxies(base_url)
    proxy = requests.utils.select_proxy(base_url, proxies) if proxies else None
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return proxy, verify


# One set of connection pools per process, shared by every client: the dashboard makes a client
# per page (each workspace has its own key), and a pool per client would open a new connection,
# with its TCP and TLS handshakes, for every page's one call to Tavus. Kept-alive connections carry
# no credentials: the key travels in each request's header.
_managers: dict[tuple[str | None, str | bool], urllib3.PoolManager] = {}
_managers_lock = threading.Lock()


def _manager(base_url: str) -> urllib3.PoolManager:
    settings = _environment_settings(base_url)
    manager = _managers.get(settings)
    if manager is None:
        with _managers_lock:
            manager = _managers.get(settings)
            if manager is None:
                manager = _managers[settings] = _new_manager(*settings)
    return manager


def _new_manager(proxy: str | None, verify: str | bool) -> urllib3.PoolManager:
    tls: dict[str, Any]
    if verify is False:
        tls = {"cert_reqs": "CERT_NONE"}
    else:
        bundle = verify if isinstance(verify, str) else requests.certs.where()
        where = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
        tls = {"cert_reqs": "CERT_REQUIRED", where: bundle}
    manager: urllib3.PoolManager
    if proxy:
        user, password = requests.utils.get_auth_from_url(proxy)
        headers = urllib3.make_headers(proxy_basic_auth=f"{user}:{password}") if user else None
        manager = urllib3.ProxyManager(proxy, num_pools=8, maxsize=16, proxy_headers=headers, **tls)
    else:
        manager = urllib3.PoolManager(num_pools=8, maxsize=16, **tls)
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


@functools.lru_cache(maxsize=64)
def _origin(base_url: str) -> tuple[str, str, int, str, str | bool] | None:
    """(scheme, host, port, path prefix, verify) of a base URL reached directly, or None when the
    environment names a proxy for it (then urllib3 carries the call)."""
    proxy, verify = _environment_settings(base_url)
    if proxy:
        return None
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, parts.hostname, port, parts.path.rstrip("/"), verify


# What _request reads of an answer: transport.Answer, or urllib3's HTTPResponse through a proxy
# (both have .status, .headers with .get(), .data).
_Response = transport.Answer | urllib3.BaseHTTPResponse


def _charset(content_type: str | None) -> str:
    # JSON is UTF-8 (RFC 8259); an error page may name another charset.
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return "utf-8"


def _decode(data: bytes, content_type: str | None) -> str:
    try:
        return data.decode(_charset(content_type), errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


_USER_AGENT = "persona-studio"
_json_dumps = json.dumps  # the name `json` is the body parameter in TavusClient
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)


@dataclass(frozen=True)
class _Reply:
    method: str
    path: str
    status: int
    text: str

    def json_body(self, reuse: Reuse | None = None) -> JSON:
        if reuse is not None:
            known = reuse(self.text)
            if known is not None:
                return known
        if not self.text.strip():
            return None
        try:
            parsed: JSON = json.loads(self.text)
        except ValueError:
            raise TavusUnavailable(
                f"{self.method} {self.path} -> {self.status}: answer is not JSON",
                reason="bad_response",
                status=self.status,
                method=self.method,
            ) from None
        return parsed

    def json_object(self, reuse: Reuse | None = None) -> JSONObject:
        body = self.json_body(reuse)
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


def _parse_retry_after(value: str | None) -> float | None:
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
    for prefix, noun in (
        ("/v2/personas", "persona"),
        ("/v2/conversations", "conversation"),
        ("/v2/replicas", "replica"),
        ("/v2/documents", "document"),
    ):
        if path.startswith(prefix):
            return noun
    return "item"


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


def _single(reply: _Reply, *, resource: str, id_key: str, reuse: Reuse | None = None) -> JSONObject:
    return _one(
        reply.json_object(reuse),
        resource=resource,
        id_key=id_key,
        where=f"{reply.method} {reply.path} -> {reply.status}",
        status=reply.status,
        method=reply.method,
    )


def _one(
    body: JSONObject, *, resource: str, id_key: str, where: str, status: int, method: str
) -> JSONObject:
    """The one item of a single-item answer: flat, or wrapped as {"data": [item]}."""
    if id_key in body:
        return body
    data = body.get("data")
    if isinstance(data, list):
        if not data:
            raise TavusNotFound(
                f"{where}: empty data", resource=resource, status=status, method=method
            )
        data = data[0]
    if isinstance(data, dict):
        return data
    return body


def persona_from_body(body: JSONObject) -> JSONObject:
    """What get_persona returns for an answer that parsed to `body` (TavusNotFound when empty)."""
    return _one(
        body,
        resource="persona",
        id_key="persona_id",
        where="GET /v2/personas/{id} -> 200",
        status=200,
        method="GET",
    )


def listing_from_body(body: JSONObject) -> JSONObject:
    """What a list_* method returns for an answer that parsed to `body`."""
    return _listing(body)


class Begun:
    """A GET sent ahead of the code that reads its answer (TavusClient.begin).

    The call that reads it (get_persona(..., begun=...)) must be the same request by the same
    client: anything else leaves it unread, and it is discarded. Read at most once.
    """

    def __init__(
        self,
        client: TavusClient,
        path: str,
        params: dict[str, str],
        pending: transport.Pending | transport.TransportError,
    ) -> None:
        self._client, self._path, self._params = client, path, params
        self._pending: transport.Pending | transport.TransportError | None = pending

    def take(
        self, client: TavusClient, method: str, path: str, params: Mapping[str, str] | None
    ) -> Begun | None:
        """This call when it is the one that was sent; otherwise it is discarded, and None."""
        same = client is self._client and (method, path) == ("GET", self._path)
        if same and dict(params or {}) == self._params and self._pending is not None:
            return self
        self.discard()
        return None

    def response(self) -> _Response:
        pending, self._pending = self._pending, None
        if pending is None:
            raise RuntimeError("A begun call is read once")
        if isinstance(pending, transport.TransportError):
            raise pending
        _announce_sent()
        return pending.receive()

    def discard(self) -> None:
        pending, self._pending = self._pending, None
        if isinstance(pending, transport.Pending):
            pending.discard()


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
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self.max_retries = max(0, max_retries)
        self.backoff = max(0.0, backoff)
        self.max_retry_after = max(0.0, max_retry_after)
        self._counter_lock = threading.Lock()
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"TavusClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Nothing to release: connections belong to the process-wide pools, kept for the next
        client (a client is made per page)."""

    def __enter__(self) -> TavusClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _scrub(self, text: str) -> str:
        # Defence in depth: should any text ever echo the key, it never reaches an error or log.
        if len(self._api_key) >= 4:
            return text.replace(self._api_key, "****")
        return text

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return min(self.backoff * 2.0**attempt, self.max_retry_after)

    def _prepared(
        self, method: str, url: str, params: Mapping[str, str] | None, json: JSON
    ) -> tuple[str, dict[str, str], bytes | None]:
        """(url with its query, headers, body) of a call, counted as made."""
        with self._counter_lock:
            self.requests_made += 1
        body = None
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": _USER_AGENT,
        }
        if json is not None:
            body = _json_dumps(json, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        if params:
            url = f"{url}?{urlencode(params)}"
        # The key goes in its header and nowhere else.
        headers["x-api-key"] = self._api_key
        return url, headers, body

    def _send_direct(
        self,
        origin: tuple[str, str, int, str, str | bool],
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
    ) -> transport.Pending:
        """The request written straight to Tavus (tavus/transport.py), its answer not yet read."""
        scheme, host, port, prefix, verify = origin
        return transport.send(
            method,
            scheme,
            host,
            port,
            prefix + url[len(self.base_url) :],
            headers=headers,
            body=body,
            timeout=self.timeout,
            verify=verify,
        )

    def _send(
        self, method: str, url: str, *, params: Mapping[str, str] | None, json: JSON
    ) -> _Response:
        url, headers, body = self._prepared(method, url, params, json)
        origin = _origin(self.base_url)
        if origin is not None:
            pending = self._send_direct(origin, method, url, headers, body)
            _announce_sent()
            return pending.receive()
        # Through a proxy: urllib3's ProxyManager (CONNECT tunnels, proxy authentication).
        return _manager(self.base_url).urlopen(
            method,
            url,
            body=body,
            headers=headers,
            timeout=self._timeout,
            retries=False,  # retries are ours (GETs only); errors come as they happened
            # A redirect would copy the x-api-key header to wherever it points.
            redirect=False,
        )

    def begin(self, path: str, params: Mapping[str, str] | None = None) -> Begun | None:
        """Send GET `path` now; its answer is read by the method call given `begun=` (for a page
        whose other work runs while the answer travels). None when it cannot be split so (the
        call goes through a proxy): the method then sends as usual."""
        origin = _origin(self.base_url)
        if origin is None:
            return None
        url, headers, _ = self._prepared("GET", self.base_url + path, params, None)
        pending: transport.Pending | transport.TransportError
        try:
            pending = self._send_direct(origin, "GET", url, headers, None)
        except transport.TransportError as exc:
            pending = exc  # raised where the answer is read, as sending there would have
        return Begun(self, path, dict(params or {}), pending)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: JSON = None,
        begun: Begun | None = None,
    ) -> _Reply:
        url = self.base_url + path
        may_retry = method == "GET"
        attempt = 0
        first = begun.take(self, method, path, params) if begun is not None else None
        while True:
            started = time.monotonic()
            try:
                if first is not None:  # the first attempt was sent ahead; retries send anew
                    sent, first = first, None
                    response = sent.response()
                else:
                    response = self._send(method, url, params=params, json=json)
            except (transport.TransportError, *_NETWORK_ERRORS) as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                error = self._network_error(method, path, exc)
                logger.debug(
                    "Tavus %s %s failed (%s) after %.0f ms", method, path, error.reason, elapsed_ms
                )
                if may_retry and attempt < self.max_retries:
                    _sleep(self._delay(attempt, None))
                    attempt += 1
                    continue
                raise error from None
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status
            logger.debug("Tavus %s %s -> %s in %.0f ms", method, path, status, elapsed_ms)
            if may_retry and status in _RETRY_STATUSES and attempt < self.max_retries:
                retry_after = _parse_retry_after(response.headers.get("Retry-After"))
                _sleep(self._delay(attempt, retry_after))
                attempt += 1
                continue
            text = _decode(response.data, response.headers.get("Content-Type"))
            reply = _Reply(method=method, path=path, status=status, text=text)
            if status >= 400 or (300 <= status < 400 and status != 304):
                raise self._http_error(reply, response.headers.get("Retry-After"))
            return reply

    def _network_error(
        self,
        method: str,
        path: str,
        exc: transport.TransportError | urllib3.exceptions.HTTPError | OSError,
    ) -> TavusUnavailable:
        reason: UnavailableReason
        if isinstance(exc, transport.TransportError):
            reason = exc.reason
        # NewConnectionError (refused, DNS) is a ConnectTimeoutError too, so it is checked first.
        elif isinstance(exc, urllib3.exceptions.NewConnectionError):
            reason = _connection_reason(exc)
        elif isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
            reason = "connect_timeout"
        elif isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
            reason = "read_timeout"
        else:
            reason = _connection_reason(exc)
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

    @staticmethod
    def listing_params(
        page: int = 1, limit: int = 10, persona_type: str | None = None
    ) -> dict[str, str]:
        params = {"page": str(page), "limit": str(limit)}
        if persona_type is not None:
            params["persona_type"] = persona_type
        return params

    # Tavus: https://docs.tavus.io/api-reference/personas/get-personas
    def list_personas(
        self,
        page: int = 1,
        limit: int = 10,
        persona_type: str | None = None,
        *,
        reuse: Reuse | None = None,
        begun: Begun | None = None,
    ) -> JSONObject:
        reply = self._request(
            "GET",
            "/v2/personas",
            params=self.listing_params(page, limit, persona_type),
            begun=begun,
        )
        return _listing(reply.json_object(reuse))

    # Tavus: https://docs.tavus.io/api-reference/personas/get-persona
    # The docs show {"data": [persona]}; other clients see a flat persona, so both are read.
    def persona_path(self, persona_id: str) -> str:
        return f"/v2/personas/{_segment(persona_id)}"

    def get_persona(
        self, persona_id: str, *, reuse: Reuse | None = None, begun: Begun | None = None
    ) -> JSONObject:
        reply = self._request("GET", self.persona_path(persona_id), begun=begun)
        return _single(reply, resource="persona", id_key="persona_id", reuse=reuse)

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

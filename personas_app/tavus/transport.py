"""HTTP/1.1 to Tavus on the standard library's http.client, connections kept alive per origin.

Used by TavusClient for every call that goes straight to Tavus (no proxy in the environment; a
proxy is urllib3's job, see client.py). A live page makes one call and waits for it, so what
matters is the Python between "the page needs the persona" and "the request is on the wire", and
between "the answer arrived" and "the page has it": http.client does the protocol and nothing
else, where urllib3's pool, retry and response layers cost about half a millisecond more of a
call made after the process sat idle.

Connections are shared by every client of the process and carry no credentials (the key travels
in each request's header). A connection goes back to its origin's pool only after its answer was
read to the end and the server did not ask to close it; one that the server has closed while it
sat in the pool is noticed before it is used. Errors come as `TransportError` with the reason
TavusUnavailable reports.
"""

from __future__ import annotations

import functools
import http.client
import os
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Literal

Reason = Literal[
    "refused", "reset", "dns", "connection", "connect_timeout", "read_timeout", "bad_response"
]

_KEPT_PER_ORIGIN = 16  # idle connections kept per (scheme, host, port, verify)


class TransportError(Exception):
    """A call that got no complete answer; `reason` says why (TavusUnavailable's reasons)."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message  # case-insensitive .get(), as http.client gives them
    data: bytes  # the body, with any gzip or deflate content-encoding undone


@functools.lru_cache(maxsize=8)
def _tls_context(verify: str | bool) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    bundle = verify if isinstance(verify, str) else _default_bundle()
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def _default_bundle() -> str:
    import requests.certs  # the bundle requests verifies against (certifi's)

    return str(requests.certs.where())


Origin = tuple[str, str, int, str | bool]  # scheme, host, port, verify

_idle: dict[Origin, list[http.client.HTTPConnection]] = {}
_idle_lock = threading.Lock()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether a kept connection can no longer carry a request: closed, or the server hung up or
    sent something unasked while it sat idle (readable before any request)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _take(origin: Origin) -> http.client.HTTPConnection | None:
    while True:
        with _idle_lock:
            kept = _idle.get(origin)
            conn = kept.pop() if kept else None
        if conn is None:
            return None
        if not _dropped(conn):
            return conn
        conn.close()


def _give_back(origin: Origin, conn: http.client.HTTPConnection) -> None:
    with _idle_lock:
        kept = _idle.setdefault(origin, [])
        if len(kept) < _KEPT_PER_ORIGIN:
            kept.append(conn)
            return
    conn.close()


def close_idle() -> None:
    """Close every kept connection (tests; a process about to fork)."""
    with _idle_lock:
        conns = [c for kept in _idle.values() for c in kept]
        _idle.clear()
    for conn in conns:
        conn.close()


def _connect(origin: Origin, connect_timeout: float) -> http.client.HTTPConnection:
    scheme, host, port, verify = origin
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=connect_timeout, context=_tls_context(verify)
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    try:
        conn.connect()
    except TimeoutError as exc:
        conn.close()
        raise TransportError(f"connect to {host}:{port} timed out", "connect_timeout") from exc
    except socket.gaierror as exc:
        conn.close()
        raise TransportError(f"cannot resolve {host}: {exc}", "dns") from exc
    except ConnectionRefusedError as exc:
        conn.close()
        raise TransportError(f"connection to {host}:{port} refused", "refused") from exc
    except OSError as exc:  # ssl.SSLError included
        conn.close()
        raise TransportError(f"cannot connect to {host}:{port}: {exc}", "connection") from exc
    if conn.sock is not None:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _decoded(data: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "").strip().lower()
    if encoding == "gzip":
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:  # some servers send raw deflate without the zlib wrapper
            return zlib.decompress(data, -zlib.MAX_WBITS)
    return data


_RESET_ERRORS = (
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)
_IO_ERRORS = (OSError, http.client.HTTPException)


def _reason(exc: BaseException) -> Reason:
    if isinstance(exc, TimeoutError):
        return "read_timeout"
    if isinstance(exc, _RESET_ERRORS):
        return "reset"
    return "connection"


@dataclass
class Pending:
    """A request on the wire whose answer has not been read yet (from `send`)."""

    origin: Origin
    conn: http.client.HTTPConnection
    reused: bool
    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes | None
    timeout: tuple[float, float]

    def receive(self) -> Answer:
        """The whole answer (see `_sent_again`)."""
        conn = self.conn
        try:
            response = conn.getresponse()
            data = response.read()
        except _IO_ERRORS as exc:
            return self._sent_again(exc).receive()
        try:
            data = _decoded(data, response.headers.get("Content-Encoding"))
        except zlib.error as exc:
            conn.close()
            raise TransportError(
                f"{self.method} {self.target}: body does not decode", "bad_response"
            ) from exc
        if response.will_close:
            conn.close()
        else:
            _give_back(self.origin, conn)
        return Answer(response.status, response.headers, data)

    def discard(self) -> None:
        """Give up on the answer (its connection cannot carry another request)."""
        self.conn.close()

    def _sent_again(self, exc: BaseException) -> Pending:
        """After `exc` writing the request or reading its answer: the request sent once more on a
        new connection when a kept one was closed by the server as it went out (a GET only, which
        the server cannot have acted on twice); otherwise the TransportError."""
        self.conn.close()
        reason = _reason(exc)
        if reason == "reset" and self.reused and self.method == "GET":
            return _send_on(
                self.origin, None, self.method, self.target, self.headers, self.body, self.timeout
            )
        raise TransportError(
            f"{self.method} {self.target}: {reason} ({type(exc).__name__})", reason
        ) from exc


def _send_on(
    origin: Origin,
    conn: http.client.HTTPConnection | None,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: tuple[float, float],
) -> Pending:
    reused = conn is not None
    if conn is None:
        conn = _connect(origin, timeout[0])
    if conn.sock is not None:
        conn.sock.settimeout(timeout[1])
    pending = Pending(origin, conn, reused, method, target, headers, body, timeout)
    try:
        conn.request(method, target, body=body, headers=dict(headers))
    except _IO_ERRORS as exc:
        return pending._sent_again(exc)
    return pending


def send(
    method: str,
    scheme: str,
    host: str,
    port: int,
    target: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: tuple[float, float],
    verify: str | bool = True,
) -> Pending:
    """Write one request (on a kept connection when there is one) and return without reading
    its answer. `target` is the path with its query; `timeout` is (connect, read) in seconds."""
    origin: Origin = (scheme, host, port, verify)
    return _send_on(origin, _take(origin), method, target, headers, body, timeout)

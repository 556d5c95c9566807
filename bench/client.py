"""The bench's timed HTTP client: one kept-alive connection, the session's cookies, little Python."""

from __future__ import annotations

import socket
from http.cookies import SimpleCookie
from urllib.parse import urlsplit


class Reply:
    """What a timed request answered."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class LeanClient:
    """The timed requests' client: one kept-alive HTTP/1.1 connection and the session's cookies.

    A client's own work is counted in every figure, the baseline's included, so it is kept to what
    a browser spends: requests spends 0.5 to 1.5 ms of Python on every call (hooks, cookie jars,
    environment look-ups) and http.client about 0.25 ms more than this (its header parsing goes
    through the email package). This writes the request in one send and reads the answer by its
    Content-Length (or chunks, or to the end). Cookies the server sets are kept, so a timed
    request sees what a browser would send.
    """

    def __init__(self, base: str, cookies: dict[str, str]) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies = dict(cookies)
        self._sock: socket.socket | None = None
        self._buffer = b""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent["Content-Length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        message = head.encode("latin-1") + b"\r\n" + (body or b"")
        for attempt in (1, 2):
            reused = self._sock is not None
            if self._sock is None:
                self._sock = socket.create_connection((self.host, self.port), timeout=60)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._buffer = b""
            try:
                self._sock.sendall(message)
                status, fields, content = self._read_answer()
                break
            except (OSError, EOFError):
                # The server closed a kept connection between two requests: open a new one once.
                self.close()
                if attempt == 2 or not reused:
                    raise
        for name, value in fields:
            if name == "set-cookie":
                for cookie_name, morsel in SimpleCookie(value).items():
                    self.cookies[cookie_name] = morsel.value
        if any(name == "connection" and value.lower() == "close" for name, value in fields):
            self.close()
        return Reply(status, content)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    def _fill(self) -> None:
        assert self._sock is not None
        data = self._sock.recv(1 << 18)
        if not data:
            raise EOFError("the server closed the connection")
        self._buffer += data

    def _take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            self._fill()
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line

    def _read_answer(self) -> tuple[int, list[tuple[str, str]], bytes]:
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self._buffer = self._buffer[:end].decode("latin-1"), self._buffer[end + 4 :]
        status_line, *lines = head.split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = [
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in lines)
        ]
        found = dict(fields)
        if status in (204, 304) or 100 <= status < 200:
            return status, fields, b""
        if "content-length" in found:
            return status, fields, self._take(int(found["content-length"]))
        if found.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self._line().split(b";")[0], 16):
                chunks.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the empty line
                pass
            return status, fields, b"".join(chunks)
        while True:  # no length: the body runs to the end of the connection
            try:
                self._fill()
            except EOFError:
                content, self._buffer = self._buffer, b""
                self.close()
                return status, fields, content

"""Exceptions raised by the Tavus client, each with a message a non-developer can act on.

`str(exc)` is for developers (method, path, status, Tavus's own text); `exc.user_message` is
for the page. Neither ever holds the API key: the client scrubs Tavus's text before it gets
here. Must not import django, requests or anything else from personas_app.
"""

from __future__ import annotations

from typing import Literal

UnavailableReason = Literal[
    "connect_timeout",
    "read_timeout",
    "refused",
    "reset",
    "dns",
    "connection",
    "server_error",
    "bad_response",
]

_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def _rebuild(
    cls: type[TavusError], args: tuple[object, ...], state: dict[str, object]
) -> TavusError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class TavusError(Exception):
    """Any failure talking to Tavus. Catch this one in views and show `user_message`."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        tavus_message: str | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.tavus_message = tavus_message
        self.method = method

    # Keyword-only constructor arguments would otherwise be lost when the error is pickled
    # (Django's parallel test runner and some task queues pickle exceptions).
    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, status={self.status!r})"

    @property
    def is_write(self) -> bool:
        return (self.method or "").upper() in _WRITE_METHODS

    @property
    def answer_lost(self) -> bool:
        """A write that may have reached Tavus, whose answer never arrived in a usable form (a
        5xx, a cut or unreadable body, a timeout, a dropped connection): only reading the item
        back tells whether Tavus saved it."""
        return False

    @property
    def user_message(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        said = f" Tavus said: {self.tavus_message}" if self.tavus_message else ""
        return (
            f"Tavus answered with an unexpected error{status}.{said} "
            "Try again, and contact support if it keeps happening."
        )


class TavusAuthError(TavusError):
    """401: the workspace's API key is wrong, revoked or not allowed from this address."""

    @property
    def user_message(self) -> str:
        return "Tavus rejected the API key. Check the workspace's active key."


class TavusNotFound(TavusError):
    """404, or Tavus's 400 "Invalid persona_id" / "Invalid conversation_id" for an unknown id."""

    def __init__(
        self,
        detail: str,
        *,
        resource: str = "item",
        status: int | None = None,
        tavus_message: str | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(detail, status=status, tavus_message=tavus_message, method=method)
        self.resource = resource

    @property
    def user_message(self) -> str:
        if self.resource in _ADDRESSES:
            return (
                f"Tavus answered “not found” at {_ADDRESSES[self.resource]}: the Tavus address "
                "in the workspace settings may be wrong."
            )
        return f"This {self.resource} no longer exists on Tavus (it may have been deleted)."


# What was asked, for a 404 on an address that names no item: the address itself is wrong.
_ADDRESSES: dict[str, str] = {
    "persona list": "its address for personas",
    "conversation list": "its address for conversations",
    "replica list": "its address for replicas",
    "document list": "its address for documents",
    "objective list": "its address for objectives",
    "guardrail list": "its address for guardrails",
    "address": "the address asked",
}


class TavusBadRequest(TavusError):
    """400/422: Tavus refused the request; its own text says why and is shown to the user."""

    @property
    def user_message(self) -> str:
        verb = "the change" if self.is_write else "the request"
        if self.tavus_message:
            return f"Tavus refused {verb}: {self.tavus_message}"
        return f"Tavus refused {verb} without saying why (HTTP {self.status})."


class TavusConcurrencyLimit(TavusBadRequest):
    """400 "User has reached maximum concurrent conversations" when starting a conversation."""

    @property
    def user_message(self) -> str:
        return (
            "Tavus refused to start the conversation: the account has reached its limit of "
            "conversations running at the same time. End a conversation that is still running "
            "(conversations left open keep their slot), then try again."
        )


class TavusRateLimited(TavusError):
    """429: too many requests. `retry_after` is Tavus's Retry-After in seconds, if it sent one."""

    def __init__(
        self,
        detail: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        tavus_message: str | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(detail, status=status, tavus_message=tavus_message, method=method)
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        if self.retry_after is not None:
            seconds = max(1, round(self.retry_after))
            unit = "second" if seconds == 1 else "seconds"
            return (
                "Tavus is receiving too many requests right now. "
                f"Wait {seconds} {unit} and try again."
            )
        return "Tavus is receiving too many requests right now. Wait a moment and try again."


_UNAVAILABLE_TEXT: dict[str, str] = {
    "connect_timeout": (
        "Tavus could not be reached: connecting to it timed out. "
        "Check the server's network connection and try again in a moment."
    ),
    "read_timeout": (
        "Tavus could not be reached in time: it took the request but did not answer "
        "before the time limit. Try again in a moment."
    ),
    "refused": (
        "Tavus could not be reached: the connection was refused. "
        "Check the Tavus address in the settings, or try again later."
    ),
    "reset": (
        "Tavus could not be reached: the connection was cut before an answer arrived. "
        "Try again in a moment."
    ),
    "dns": (
        "Tavus could not be reached: its address could not be found. "
        "Check the Tavus address in the settings and the server's network."
    ),
    "connection": (
        "Tavus could not be reached: the network connection failed. Try again in a moment."
    ),
    "server_error": (
        "Tavus could not be reached: it reported a problem on its side{status}. "
        "Try again in a few minutes."
    ),
    "bad_response": (
        "Tavus could not be reached properly: it sent an answer that could not be read. "
        "Try again in a few minutes."
    ),
}

# When the request may already have reached Tavus, a write may have been applied.
_MAYBE_APPLIED = frozenset({"read_timeout", "reset", "server_error", "bad_response", "connection"})


class TavusUnavailable(TavusError):
    """5xx, timeouts, refused or dropped connections, and answers that are not JSON."""

    def __init__(
        self,
        detail: str,
        *,
        reason: UnavailableReason,
        status: int | None = None,
        tavus_message: str | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(detail, status=status, tavus_message=tavus_message, method=method)
        self.reason: UnavailableReason = reason

    @property
    def user_message(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        text = _UNAVAILABLE_TEXT[self.reason].format(status=status)
        if self.answer_lost:
            text += " The change may still have been saved: reload the page before trying again."
        return text

    @property
    def answer_lost(self) -> bool:
        return self.is_write and self.reason in _MAYBE_APPLIED


class TavusAnswerLost(TavusError):
    """A write whose answer was lost (see TavusError.answer_lost), after the item was read back:
    `saved` is False when Tavus does not hold the change, None when it could not be told."""

    def __init__(self, cause: TavusError, *, saved: bool | None) -> None:
        super().__init__(
            f"{cause} (read back: {'not saved' if saved is False else 'unknown'})",
            status=cause.status,
            tavus_message=cause.tavus_message,
            method=cause.method,
        )
        self.saved = saved

    @property
    def user_message(self) -> str:
        if self.saved is False:
            status = f" (HTTP {self.status})" if self.status is not None else ""
            return (
                f"Tavus did not save this change: it answered with an error{status}, and "
                "reading the persona back shows it unchanged. You can try again."
            )
        return (
            "It is not known whether Tavus saved this change: its answer was lost and the "
            "persona could not be read back. Open the persona to check. Trying again is safe: "
            "it starts from what Tavus holds, so a change already saved is not sent twice."
        )

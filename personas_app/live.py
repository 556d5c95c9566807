"""Live pages in one round trip to Tavus: a page's own work runs while its one call travels.

A page that shows live Tavus data has to wait for Tavus once; that round trip is its physical
limit. `overlap()` makes the call and, once the request is on the wire and before its answer is
read, prepares the page from the answer this process last received for the same call (the
guess). When the answer arrives and its text is exactly the guess's, the client hands back the
guess's parsed value (nothing is parsed twice) and the page prepared early is used; otherwise the
caller prepares the page from the answer. Either way the page shows exactly what Tavus answered:
the guess only decides whether the work was done before the answer arrived or after.

Everything runs on the request's own thread: the request is sent, the page is prepared while the
answer travels back (it waits in the socket until read), then the answer is read. No thread hands
work to another, so none waits to be woken.

Answers are remembered in this process's memory only (they may hold what Tavus returns for
secrets), never in a shared cache or on disk, and at most REMEMBERED of them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from django.core.signals import request_finished

from .gc_pause import collect_while_waiting, free_after_response
from .persona.jsontypes import JSON
from .recent import Recent
from .tavus.client import Begun, Reuse, when_sent

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

REMEMBERED = 128
_answers: Recent[Hashable, str] = Recent(REMEMBERED)


def forget_answers() -> None:
    """Drop every remembered answer (tests; a process that must not hold them any longer)."""
    _answers.clear()


# -- Calls sent before the view (EarlyReadMiddleware) -------------------------------------------

_early = threading.local()


def expect(key: Hashable, begun: Begun | None, call: Callable[[Reuse], object]) -> None:
    """`begun` is a call already sent for this request (TavusClient.begin) and `call(reuse)`
    reads its answer: the page's overlap(key, ...) uses it instead of making its own. Unread by
    the end of the request, it is discarded (its connection closed). Nothing when `begun` is None
    (the call could not be sent ahead): the page then makes it."""
    if begun is None:
        return
    calls: dict[Hashable, tuple[Callable[[Reuse], object], Callable[[], None]]]
    calls = _early.__dict__.setdefault("calls", {})
    previous = calls.pop(key, None)
    if previous is not None:
        previous[1]()
    calls[key] = (call, begun.discard)


def discard_expected() -> None:
    """Discard every call expect()ed so far on this request: none of their answers is read."""
    calls = _early.__dict__.pop("calls", None)
    for _call, discard in (calls or {}).values():
        discard()


def _discard_unread(**_: object) -> None:
    discard_expected()


request_finished.connect(_discard_unread, dispatch_uid="personas_app.live.discard_unread")


def overlap(
    key: Hashable,
    call: Callable[[Reuse], T],
    read: Callable[[JSON], T],
    prepare: Callable[[T], R],
) -> tuple[T, R | None]:
    """(what Tavus answered, the page prepared early or None).

    `call(reuse)` makes the one Tavus call and passes `reuse` to the client;
    `read(body)` is what that call returns for an answer that parsed to `body` (the client's
    persona_from_body or listing_from_body); `prepare(value)` builds the page from a value and
    must only read (it runs on the guess, which may turn out wrong). The second item is
    prepare(value) done while the call travelled, when the answer was exactly the guess; when it
    is None the caller prepares the page from the first item. Errors of `call` (TavusError)
    propagate as they would without overlap.
    """
    sent = _early.__dict__.get("calls", {}).pop(key, None)
    if sent is not None:
        call = sent[0]  # type: ignore[assignment]  # the same call, sent before the view ran
    guess_text = _answers.get(key)
    guess_body: list[JSON] = []  # set once the guess has been parsed
    guessed: list[T] = []
    early: list[R] = []

    def reuse(text: str) -> JSON:
        _answers.put(key, text)
        if guess_body and text == guess_text:
            return guess_body[0]
        return None

    def while_travelling() -> None:
        if guess_body or guess_text is None:
            return  # prepared on the first send already (a retried GET sends again)
        try:
            body = json.loads(guess_text)
            guessed.append(read(body))
            guess_body.append(body)
            early.append(prepare(guessed[0]))
        except Exception:  # the guess is only a guess: the page is prepared from the answer
            logger.debug("Preparing a page from the last answer failed", exc_info=True)
            early.clear()
        collect_while_waiting()  # the answer takes longer than the garbage collector

    with when_sent(while_travelling):
        value = call(reuse)
    free_after_response(value)  # freed once the page is sent, not before
    # The client returns the guess's own value only when the answer's text was the guess's.
    if early and value is guessed[0]:
        return value, early[0]
    return value, None

"""Live pages in one round trip to Tavus: a page's own work runs while its one call travels.

A page that shows live Tavus data has to wait for Tavus once; that round trip is its physical
limit. `overlap()` sends the call from a small thread pool and, while it travels, prepares the
page from the answer this process last received for the same call (the guess). When the answer
arrives and its text is exactly the guess's, the client hands back the guess's parsed value
(nothing is parsed twice) and the page prepared early is used; otherwise the caller prepares the
page from the answer. Either way the page shows exactly what Tavus answered: the guess only
decides whether the work was done before the answer arrived or after.

Only the HTTP call runs on the pool: no database access, no templates, no request state. Answers
are remembered in this process's memory only (they may hold what Tavus returns for secrets),
never in a shared cache or on disk, and at most REMEMBERED of them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .gc_pause import collect_while_waiting
from .jsontypes import JSON
from .tavus.client import Reuse, when_sent

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

REMEMBERED = 128
_SEND_WAIT = 0.25  # seconds; a slow connect does not hold the preparing back longer than this
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tavus-read")
_answers: OrderedDict[Hashable, str] = OrderedDict()
_answers_lock = threading.Lock()


def _last_answer(key: Hashable) -> str | None:
    with _answers_lock:
        text = _answers.get(key)
        if text is not None:
            _answers.move_to_end(key)
        return text


def _remember(key: Hashable, text: str) -> None:
    with _answers_lock:
        _answers[key] = text
        _answers.move_to_end(key)
        while len(_answers) > REMEMBERED:
            _answers.popitem(last=False)


def forget_answers() -> None:
    """Drop every remembered answer (tests; a process that must not hold them any longer)."""
    with _answers_lock:
        _answers.clear()


def overlap(
    key: Hashable,
    call: Callable[[Reuse], T],
    read: Callable[[JSON], T],
    prepare: Callable[[T], R],
) -> tuple[T, R | None]:
    """(what Tavus answered, the page prepared early or None).

    `call(reuse)` makes the one Tavus call (on the pool) and passes `reuse` to the client;
    `read(body)` is what that call returns for an answer that parsed to `body` (the client's
    persona_from_body or listing_from_body); `prepare(value)` builds the page from a value and
    must only read (it runs on the guess, which may turn out wrong). The second item is
    prepare(value) done while the call travelled, when the answer was exactly the guess; when it
    is None the caller prepares the page from the first item. Errors of `call` (TavusError)
    propagate as they would without overlap.
    """
    guess_text = _last_answer(key)
    guess_body: list[JSON] = []  # set by this thread once it has parsed the guess

    def reuse(text: str) -> JSON:
        _remember(key, text)
        if guess_body and text == guess_text:
            return guess_body[0]
        return None

    sent = threading.Event()

    def run() -> T:
        try:
            with when_sent(sent.set):
                return call(reuse)
        finally:
            sent.set()

    future = _pool.submit(run)
    # Let the request leave first: preparing holds the GIL, and the pool's thread would get it
    # back only at the interpreter's next switch (5 ms), adding that to the round trip.
    sent.wait(timeout=_SEND_WAIT)
    guessed: T | None = None
    early: R | None = None
    if guess_text is not None:
        try:
            body = json.loads(guess_text)
            guessed = read(body)
            guess_body.append(body)
            early = prepare(guessed)
        except Exception:  # the guess is only a guess: the page is prepared from the answer
            logger.debug("Preparing a page from the last answer failed", exc_info=True)
            early = None
    collect_while_waiting()  # the answer takes longer than the garbage collector
    value = future.result()
    # The client returns the guess's own value only when the answer's text was the guess's.
    if early is not None and value is guessed:
        return value, early
    return value, None

"""No garbage collection while a request is being answered.

Almost everything a request allocates (a parsed 88 KB persona is some 70 000 objects) is freed by
reference counting the moment the request ends. Python's collector does not know that: while the
request runs it scans those objects again and again (a generation-1 pass over them costs 2 ms)
and promotes survivors, which later makes a full collection of tens of milliseconds land on some
unlucky request. Pausing the collector while any request is in flight and resuming it when the
process is idle means it runs between requests, over what really outlived them.

A process that is never idle would never collect; when the collector's backlog passes BACKLOG
objects, one collection runs at the end of a request all the same.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from django.core.signals import request_finished

BACKLOG = 200_000  # allocations the collector may fall behind by before it runs anyway

_lock = threading.Lock()
_in_flight = 0
_resume = False  # whether the collector was on when the first request in flight paused it


def _enter() -> None:
    global _in_flight, _resume
    with _lock:
        _in_flight += 1
        if _in_flight == 1:
            _resume = gc.isenabled()
            gc.disable()


def _leave() -> None:
    global _in_flight
    with _lock:
        _in_flight -= 1
        idle = _in_flight == 0
        if idle and _resume:
            gc.enable()
    if not idle and _resume and gc.get_count()[0] > BACKLOG:
        gc.collect()


def collect_while_waiting() -> None:
    """Run the young collections the pause held back, from a request about to wait for I/O.

    A live page waits tens of milliseconds for Tavus with nothing to do: collecting what it has
    allocated so far then costs it nothing, and leaves less for the collection after the answer
    (which would delay the process's next request). The oldest generation is left for idle time:
    a full collection can outlast the wait.
    """
    free_garbage()
    if _in_flight == 0 or not _resume:
        return
    (young, middle, _), (young_limit, middle_limit, _) = gc.get_count(), gc.get_threshold()
    if middle >= middle_limit:
        gc.collect(1)
    elif young >= young_limit:
        gc.collect(0)


class PauseGcDuringRequests:
    """WSGI middleware: the collector is off while any request of this process is in flight.

    A request is in flight until the server closes its body, that is after the answer has been
    sent, so a collection that was due runs once the client has its answer.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        _enter()
        try:
            body = self.app(environ, start_response)
        except BaseException:
            _leave()
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            _leave()  # a file the server sends itself (sendfile): keep it unwrapped
            return body
        return _Body(body)


class _Body:
    """The app's body, ending the request's pause when the server closes it."""

    def __init__(self, body: Iterable[bytes]) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            _leave()


# -- Freeing after the answer ------------------------------------------------------------------

_HELD_MAX = 16  # per thread, should request_finished not come (code outside a request)
_GARBAGE_MAX = 8  # finished requests' objects kept for a quiet moment before freeing inline
_IDLE_DELAY = 0.5  # seconds: what an idle process waits before freeing them itself
_held = threading.local()
_garbage: list[list[Any]] = []
_garbage_lock = threading.Lock()
_janitor_poked = threading.Event()
_janitor_started = False


def free_after_response(obj: Any) -> None:
    """Keep `obj` alive until a moment when freeing it delays no one.

    Freeing a parsed persona (tens of thousands of objects) takes a few tenths of a millisecond.
    Freed when the view lets go of it, that would be between the answer from Tavus and the
    page's response; freed as the response is closed, it would hold up the next request on the
    same connection (the server reads it only once this one is done). So once this thread's
    response is finished (request_finished) the object is handed on, and freed while a later
    live page waits for Tavus (free_garbage, from collect_while_waiting), or after the process
    has been idle for _IDLE_DELAY, or at once when _GARBAGE_MAX requests' worth are waiting.
    """
    held: list[Any] | None = getattr(_held, "objects", None)
    if held is None:
        held = _held.objects = []
    held.append(obj)
    del held[:-_HELD_MAX]


def free_garbage() -> None:
    """Free what finished requests left for later (see free_after_response)."""
    with _garbage_lock:
        if not _garbage:
            return
        lists = _garbage[:]
        _garbage.clear()
    lists.clear()  # the objects are freed here, outside the lock


def _release_held(**_: Any) -> None:
    held = _held.__dict__.pop("objects", None)
    if not held:
        return
    with _garbage_lock:
        _garbage.append(held)
        full = len(_garbage) > _GARBAGE_MAX
    del held
    if full:
        free_garbage()
    _poke_janitor()


def _poke_janitor() -> None:
    global _janitor_started
    if not _janitor_started:
        with _garbage_lock:
            if not _janitor_started:
                threading.Thread(target=_janitor, name="free-after-response", daemon=True).start()
                _janitor_started = True
    _janitor_poked.set()


def _janitor() -> None:
    while True:
        _janitor_poked.wait()
        _janitor_poked.clear()
        # Quiet for _IDLE_DELAY since the last request finished: nothing is waiting on us.
        while _janitor_poked.wait(_IDLE_DELAY) or _in_flight:
            _janitor_poked.clear()
        free_garbage()


request_finished.connect(_release_held, dispatch_uid="personas_app.gc_pause.release_held")

"""The garbage collector is paused while requests are in flight and resumed when none is."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from personas_app import gc_pause
from personas_app.gc_pause import PauseGcDuringRequests


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def _app_seeing(seen: list[bool], wait: threading.Event | None = None) -> Any:
    """A WSGI app noting whether the collector was on, served as a server would: call, iterate
    the body, close it."""

    def app(environ: dict, start_response: object) -> list[bytes]:
        if wait is not None:
            wait.wait(5)
        seen.append(gc.isenabled())
        return [b"ok"]

    wrapped = PauseGcDuringRequests(app)

    def serve(environ: dict, start_response: object) -> list[bytes]:
        body = wrapped(environ, start_response)
        chunks = list(body)
        seen.append(gc.isenabled())  # still off while the answer is being sent
        body.close()  # type: ignore[attr-defined]
        return chunks

    return serve


def _wait_in_flight() -> None:
    deadline = time.monotonic() + 5
    while gc_pause._in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert gc_pause._in_flight == 1


def test_collector_is_off_during_a_request_and_on_after() -> None:
    seen: list[bool] = []
    assert _app_seeing(seen)({}, None) == [b"ok"]
    assert seen == [False, False]
    assert gc.isenabled()


def test_collector_stays_off_until_the_last_overlapping_request_ends() -> None:
    release = threading.Event()
    seen: list[bool] = []
    slow = threading.Thread(target=_app_seeing(seen, release), args=({}, None))
    slow.start()
    _wait_in_flight()
    _app_seeing(seen)({}, None)
    assert not gc.isenabled()  # the slow request is still in flight
    release.set()
    slow.join(5)
    assert seen == [False, False, False, False]
    assert gc.isenabled()


def test_a_failing_request_resumes_the_collector() -> None:
    def broken(environ: dict, start_response: object) -> list[bytes]:
        raise RuntimeError("view bug")

    with pytest.raises(RuntimeError):
        PauseGcDuringRequests(broken)({}, None)
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_operator_stays_off() -> None:
    gc.disable()
    _app_seeing([])({}, None)
    assert not gc.isenabled()


def test_a_process_never_idle_still_collects_past_the_backlog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gc_pause, "BACKLOG", 10)
    release = threading.Event()
    slow = threading.Thread(target=_app_seeing([], release), args=({}, None))
    slow.start()
    _wait_in_flight()
    collected = []
    gc.callbacks.append(lambda phase, info: collected.append(phase))
    try:
        garbage = [[] for _ in range(100)]  # noqa: F841  tracked allocations past the backlog
        _app_seeing([])({}, None)
    finally:
        gc.callbacks.pop()
        release.set()
        slow.join(5)
    assert "stop" in collected


def test_a_file_the_server_sends_itself_is_passed_through_unwrapped() -> None:
    class FileWrapper:
        def __init__(self, f: object) -> None:
            self.f = f

    sent = FileWrapper(object())
    app = PauseGcDuringRequests(lambda environ, start_response: sent)  # type: ignore[arg-type,return-value]

    assert app({"wsgi.file_wrapper": FileWrapper}, None) is sent  # type: ignore[arg-type]
    assert gc.isenabled()


def test_a_request_waiting_for_tavus_collects_what_it_allocated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    phases: list[str] = []

    def app(environ: dict, start_response: object) -> list[bytes]:
        garbage = [[] for _ in range(gc.get_threshold()[0] + 10)]  # noqa: F841
        gc.callbacks.append(lambda phase, info: phases.append(phase))
        try:
            gc_pause.collect_while_waiting()
        finally:
            gc.callbacks.pop()
        return [b"ok"]

    PauseGcDuringRequests(app)({}, None).close()  # type: ignore[arg-type,attr-defined]

    assert phases == ["start", "stop"]
    assert gc.isenabled()


def test_outside_a_request_waiting_does_not_collect() -> None:
    phases: list[str] = []
    garbage = [[] for _ in range(gc.get_threshold()[0] + 10)]  # noqa: F841
    gc.disable()  # no automatic collection in between: only collect_while_waiting could run one
    gc.callbacks.append(lambda phase, info: phases.append(phase))
    try:
        gc_pause.collect_while_waiting()
    finally:
        gc.callbacks.pop()
    assert phases == []


class _Parsed:
    """Stands for a parsed answer (a dict cannot be weakly referenced)."""


def _held_answer() -> Any:
    """A weak reference to an answer handed to free_after_response, and its request finished."""
    import weakref

    from django.core.signals import request_finished

    answer = _Parsed()
    alive = weakref.ref(answer)
    gc_pause.free_after_response(answer)
    del answer
    assert alive() is not None  # the view's last reference is gone, the answer is not
    request_finished.send(sender=None)
    return alive


@pytest.fixture(autouse=True)
def _nothing_left_over() -> Iterator[None]:
    gc_pause.free_garbage()
    yield
    gc_pause.free_garbage()


def test_an_answer_outlives_its_response_and_is_freed_while_a_later_page_waits(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gc_pause, "_IDLE_DELAY", 60.0)
    alive = _held_answer()

    assert alive() is not None  # freeing it now would hold up the connection's next request
    gc_pause.collect_while_waiting()
    assert alive() is None


def test_an_idle_process_frees_what_finished_requests_left(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gc_pause, "_IDLE_DELAY", 0.01)
    alive = _held_answer()

    deadline = time.monotonic() + 5
    while alive() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert alive() is None


def test_answers_of_many_finished_requests_are_not_all_kept(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gc_pause, "_IDLE_DELAY", 60.0)
    first = _held_answer()
    later = [_held_answer() for _ in range(gc_pause._GARBAGE_MAX)]

    assert first() is None and all(ref() is None for ref in later)  # freed together, inline


def test_code_outside_a_request_holds_only_the_last_few() -> None:
    import weakref

    first = _Parsed()
    alive = weakref.ref(first)
    gc_pause.free_after_response(first)
    del first
    for _ in range(gc_pause._HELD_MAX):
        gc_pause.free_after_response(_Parsed())

    assert alive() is None
    gc_pause._release_held()

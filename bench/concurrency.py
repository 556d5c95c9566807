"""The concurrency run: many logged-in sessions at once against two gunicorn instances.

Each session is a thread with its own requests.Session and its own login (the same user). Its
requests take turns over the instances and over a mix of pages (list, detail, edit, patch preview,
history), one after another with no pause, until the time is up. The instances share the database
and the cache, so a session logged in on one is served by the other.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from bench.client import Reply
from bench.measure import BadAnswer, gist, percentile

MIX = ("persona_list", "persona_detail", "persona_edit", "patch_preview", "persona_history")
TIMEOUT_S = 30
PROBE_PAUSE_S = 0.2


@dataclass
class Page:
    path: str
    expect: str  # text a right answer holds (a redirect to the login page does not)
    form: list[tuple[str, str]] | None = None  # POSTed as htmx, with the session's CSRF token


@dataclass
class Sample:
    page: str
    ms: float
    error: str  # "" when the answer was right
    retried: bool  # sent again on a new connection (see _one)


def login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/accounts/login/", timeout=TIMEOUT_S)
    page.raise_for_status()
    reply = session.post(
        base + "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=TIMEOUT_S,
    )
    if reply.status_code != 302 or "sessionid" not in session.cookies:
        raise BadAnswer(f"Login on {base} failed: HTTP {reply.status_code}")
    return session


def _send(session: requests.Session, base: str, page: Page) -> requests.Response:
    if page.form is None:
        return session.get(base + page.path, allow_redirects=False, timeout=TIMEOUT_S)
    token = session.cookies.get("csrftoken", "")
    form = [(k, token if k == "csrfmiddlewaretoken" else v) for k, v in page.form]
    return session.post(
        base + page.path,
        data=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRFToken": token,
            "HX-Request": "true",
        },
        allow_redirects=False,
        timeout=TIMEOUT_S,
    )


def _one(session: requests.Session, base: str, name: str, page: Page) -> Sample:
    """One request, timed. A connection the server closed while it was idle (gunicorn keeps one
    open 2 s) fails before any answer; a browser then sends again on a new one, and so does this,
    once (the time includes both; `retried` counts them)."""
    started = time.perf_counter()
    error, retried = "", False
    try:
        try:
            reply = _send(session, base, page)
        except requests.ConnectionError:
            retried = True
            reply = _send(session, base, page)
        if not 200 <= reply.status_code < 300:
            error = f"HTTP {reply.status_code}"
        elif page.expect not in reply.text:
            error = f"HTTP {reply.status_code} without {page.expect!r}: {gist(reply.text)}"
    except Exception as exc:  # a failed request is an error of the run, not the end of it
        error = f"{type(exc).__name__}: {exc}"[:300]
    return Sample(name, (time.perf_counter() - started) * 1000, error, retried)


def run(
    *,
    bases: list[str],
    username: str,
    password: str,
    pages: dict[str, Page],
    sessions: int,
    seconds: float,
    probe: Callable[[], Reply],
) -> dict[str, Any]:
    """`sessions` sessions for `seconds` seconds; what they saw, and the API alone meanwhile
    (`probe`, the large persona's GET straight to the emulator, every PROBE_PAUSE_S)."""
    with ThreadPoolExecutor(max_workers=min(8, sessions)) as pool:
        clients = list(
            pool.map(lambda i: login(bases[i % len(bases)], username, password), range(sessions))
        )
    results: list[list[Sample]] = [[] for _ in range(sessions)]
    probe_ms: list[float] = []
    max_requests = int(seconds * 1000) + 1  # a bound no session reaches (1 per ms)
    started, cpu_started = time.monotonic(), time.process_time()
    deadline = started + seconds

    def session_loop(index: int) -> None:
        for k in range(max_requests):
            if time.monotonic() >= deadline:
                return
            name = MIX[(index + k) % len(MIX)]
            base = bases[(index + k) % len(bases)]
            results[index].append(_one(clients[index], base, name, pages[name]))

    def probe_loop() -> None:
        for _ in range(max_requests):
            if time.monotonic() >= deadline:
                return
            began = time.perf_counter()
            reply = probe()
            if reply.status_code == 200:
                probe_ms.append((time.perf_counter() - began) * 1000)
            time.sleep(PROBE_PAUSE_S)

    threads = [threading.Thread(target=session_loop, args=(i,)) for i in range(sessions)]
    threads.append(threading.Thread(target=probe_loop))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * TIMEOUT_S)
    elapsed = time.monotonic() - started
    client_cpu_s = time.process_time() - cpu_started  # this process: the sessions' own work
    for client in clients:
        client.close()

    samples = [sample for found in results for sample in found]
    errors = [s for s in samples if s.error]
    by_page: dict[str, Any] = {}
    for name in MIX:
        ms = [s.ms for s in samples if s.page == name]
        if ms:
            by_page[name] = {
                "requests": len(ms),
                "errors": sum(1 for s in errors if s.page == name),
                "p50_ms": round(statistics.median(ms), 2),
                "p95_ms": round(percentile(ms, 0.95), 2),
            }
    return {
        "sessions": sessions,
        "instances": len(bases),
        "seconds": round(elapsed, 1),
        "requests": len(samples),
        "requests_per_s": round(len(samples) / elapsed, 1) if elapsed else 0.0,
        "errors": len(errors),
        "retried_on_a_new_connection": sum(1 for s in samples if s.retried),
        "error_examples": sorted({f"{s.page}: {s.error}" for s in errors})[:10],
        "client_cpu_seconds": round(client_cpu_s, 1),
        "pages": by_page,
        "api_alone_under_load": {
            "requests": len(probe_ms),
            "p50_ms": round(statistics.median(probe_ms), 2) if probe_ms else None,
            "p95_ms": round(percentile(probe_ms, 0.95), 2) if probe_ms else None,
        },
    }

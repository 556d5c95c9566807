"""Timing one session's requests: items taken in rounds, live pages paired with the API alone.

A live page makes one call to Tavus. Its timed requests alternate with the same call sent straight
to the emulator (page, API, API, page, ...), so both see the same moments of a shared machine, and
the page's own time is the difference. The `changed` variant edits the persona on the emulator
(untimed) before every timed request, the page's and the API's alike: neither the dashboard nor the
emulator can reuse anything from the request before.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.client import LeanClient, Reply

STATS_PATH = "/__emulator/stats"
BLOCK_WARMUP = 5  # untimed requests before each of an item's later blocks


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class BadAnswer(Exception):
    """A timed request got a wrong answer: the run stops (the message says which and what)."""


@dataclass
class Spec:
    """One item: its request, the text its answer must hold, and for a live page its Tavus call."""

    name: str
    call: Callable[[], Reply]
    expect: str
    api: Callable[[], Reply] | None = None  # the page's one Tavus call, sent straight to Tavus
    api_name: str = ""  # which call that is (results' baseline_upstream)
    change: Callable[[], None] | None = None  # an outside edit before each timed request


@dataclass
class Item:
    samples: list[float]
    upstream: float  # requests the dashboard sent to Tavus, per request
    round_p50s: list[float]
    api_samples: list[float] = field(default_factory=list)
    api_name: str = ""

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95_ms(self) -> float:
        return percentile(self.samples, 0.95)

    @property
    def own_p50_ms(self) -> float:
        """p50 of the page minus p50 of its Tavus call alone (the paired samples)."""
        return self.p50_ms - statistics.median(self.api_samples)

    @property
    def own_p95_ms(self) -> float:
        """p95 of the page minus p95 of its Tavus call alone (the paired samples)."""
        return self.p95_ms - percentile(self.api_samples, 0.95)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "upstream_requests_per_request": round(self.upstream, 3),
            "min_ms": round(min(self.samples), 2),
            "max_ms": round(max(self.samples), 2),
            "mean_ms": round(statistics.fmean(self.samples), 2),
            "round_p50_ms": [round(value, 2) for value in self.round_p50s],
        }
        if self.api_samples:
            out.update(
                api=self.api_name,
                api_p50_ms=round(statistics.median(self.api_samples), 2),
                api_p95_ms=round(percentile(self.api_samples, 0.95), 2),
                own_p50_ms=round(self.own_p50_ms, 2),
                own_p95_ms=round(self.own_p95_ms, 2),
            )
        return out


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "min_ms": round(min(samples), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
        "max_ms": round(max(samples), 2),
        "requests": len(samples),
    }


def gist(page: str) -> str:
    """What a wrong page says: its first alert (a Tavus error, a form error), else its title."""
    found = re.search(r'role="alert"[^>]*>(.*?)</div>', page, re.S) or re.search(
        r"<title>(.*?)</title>", page, re.S
    )
    text = re.sub(r"<[^>]+>", " ", found.group(1) if found else page)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()[:200]


def timed(name: str, call: Callable[[], Reply], expect: str) -> float:
    """One request's wall time in ms; a wrong answer raises BadAnswer."""
    started = time.perf_counter()
    reply = call()
    elapsed = (time.perf_counter() - started) * 1000
    if reply.status_code != 200 or (expect and expect not in reply.text):
        raise BadAnswer(
            f"{name}: unexpected answer (HTTP {reply.status_code}, looking for {expect!r}): "
            + gist(reply.text)
        )
    return elapsed


class Emulator:
    """The bench's own line to the emulator: the API alone, outside edits, the request count."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url, self.api_key = url, api_key
        self.client = LeanClient(url, {})
        self.headers = {"x-api-key": api_key}
        self._edits = itertools.count(1)

    def upstream_count(self) -> int:
        reply = requests.get(self.url + STATS_PATH, headers=self.headers, timeout=10)
        reply.raise_for_status()
        return int(reply.json()["requests"])

    def get(self, path: str) -> Callable[[], Reply]:
        return lambda: self.client.request("GET", path, headers=self.headers)

    def changer(self, persona_id: str) -> Callable[[], None]:
        """An outside edit of the persona's context (a new text every time), as the Tavus portal
        or another tool would make it: PATCH /v2/personas/<id> with the API key."""
        path = f"/v2/personas/{persona_id}"
        headers = {**self.headers, "Content-Type": "application/json"}

        def change() -> None:
            value = f"Customers call about orders and returns (outside edit {next(self._edits)})."
            body = json.dumps([{"op": "replace", "path": "/context", "value": value}]).encode()
            reply = self.client.request("PATCH", path, body=body, headers=headers)
            if reply.status_code != 200:
                raise BadAnswer(f"The outside edit of {persona_id} answered {reply.status_code}")

        return change


class Bench:
    """Measures items, one request at a time."""

    def __init__(self, emulator: Emulator, requests_n: int, warmup: int, rounds: int) -> None:
        self.emulator = emulator
        self.n, self.warmup, self.rounds = requests_n, warmup, max(1, min(rounds, requests_n))
        self.round_loads: list[float] = []  # the 1-minute load average after each round

    def measure(self, specs: list[Spec]) -> dict[str, Item]:
        """Each spec's timed requests in `self.rounds` rounds: every round takes its share of each
        item's requests, back to back after a warm-up, item after item. A few seconds of a shared
        machine running slow then touch every item a little instead of one item much."""
        samples: dict[str, list[float]] = {spec.name: [] for spec in specs}
        api_samples: dict[str, list[float]] = {spec.name: [] for spec in specs}
        round_p50s: dict[str, list[float]] = {spec.name: [] for spec in specs}
        upstream: dict[str, int] = dict.fromkeys(samples, 0)
        per_round = [self.n // self.rounds + (r < self.n % self.rounds) for r in range(self.rounds)]
        for r, count in enumerate(per_round):
            for spec in specs:
                # The warm-up before an item's first block; a few untimed requests before each
                # later one, as the other items' blocks ran in between.
                for i in range(self.warmup if r == 0 else min(self.warmup, BLOCK_WARMUP)):
                    self._pair(spec, i)
                before = self.emulator.upstream_count()
                block = [self._pair(spec, i) for i in range(count)]
                # The bench's own outside edits and API calls are in the count: take them off.
                upstream[spec.name] += (
                    self.emulator.upstream_count() - before - count * _own_calls(spec)
                )
                samples[spec.name] += [page for page, _ in block]
                api_samples[spec.name] += [api for _, api in block if api is not None]
                round_p50s[spec.name].append(statistics.median(page for page, _ in block))
            self.round_loads.append(round(os.getloadavg()[0], 2))
        return {
            spec.name: Item(
                samples[spec.name],
                upstream[spec.name] / len(samples[spec.name]),
                round_p50s[spec.name],
                api_samples[spec.name],
                spec.api_name,
            )
            for spec in specs
        }

    def _pair(self, spec: Spec, i: int) -> tuple[float, float | None]:
        """One timed request of the page and, for a live page, one of its Tavus call alone; the
        order alternates so that neither always runs right after the other."""

        def page() -> float:
            if spec.change is not None:
                spec.change()
            return timed(spec.name, spec.call, spec.expect)

        def api() -> float | None:
            if spec.api is None:
                return None
            if spec.change is not None:
                spec.change()
            return timed(f"{spec.name} (API alone)", spec.api, "")

        if i % 2:
            api_ms = api()
            return page(), api_ms
        page_ms = page()
        return page_ms, api()


def _own_calls(spec: Spec) -> int:
    """Requests the bench itself sends to the emulator per pair (outside edits, the API alone)."""
    api = 1 if spec.api is not None else 0
    edits = (1 + api) if spec.change is not None else 0
    return api + edits

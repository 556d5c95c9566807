"""The change-set items of `make bench` (issue 19): many personas at once.

Against an emulator of their own (latency L, its knobs set over HTTP, its request log read back)
and the bench's database, with TAVUS_MAX_CONCURRENCY = C:

- `changeset_apply`: a change set that changes N personas (one `set` of their context), planned
  with change_set_create, applied with change_set_apply by real `manage.py db_worker` processes
  (--task-workers, default C, started before and idle until then). Timed from the apply call
  until the change set is finished; target 1.5 x (N x 2 x L / C): one GET and one PATCH per
  persona, C at a time.
- `changeset_apply_429`: the same with a share of the emulator's answers 429 (Retry-After), drawn
  by a seeded generator. Checked from the emulator's log: no persona got a second PATCH once one
  was saved, and every persona holds its change.
- `personas_plan`: `manage.py personas plan` (call_command, in this process) over the N files of
  the first item's personas, each file changed; target 1.5 x (N x L / C).

Import only after django.setup(). A benchmark, not a test: nothing here asserts a time. Wrong
outcomes (an item not sent, a second PATCH) are figures in the results and failed targets, not
exceptions.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bench import docs
from bench.measure import STATS_PATH, BadAnswer, percentile
from personas_app.models import ChangeSet, ChangeSetStatus, Workspace
from personas_app.services.changesets import (
    change_set_apply,
    change_set_counts,
    change_set_create,
)
from personas_app.services.workspaces import api_key_add, workspace_create
from personas_app.tavus import TavusClient

KNOBS_PATH = "/__emulator/knobs"
LOG_PATH = "/__emulator/log"
POLL_S = 0.02  # how often the bench looks whether the change set has finished
FINISH_TIMEOUT_S = 600
WORKER_START_TIMEOUT_S = 120


@dataclass
class Options:
    personas: int  # N
    concurrency: int  # C: TAVUS_MAX_CONCURRENCY of this process and of the workers
    workers: int  # db_worker processes
    worker_interval: float  # db_worker --interval: its pause when the queue is empty
    latency_ms: int  # L
    rate_limited: float  # share of answers 429 in the second item
    retry_after: float
    seed: int


class ControlledEmulator:
    """The emulator process's knobs and request log, over its control endpoints."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url
        self.api_key = api_key
        self.session = requests.Session()
        self.session.headers["x-api-key"] = api_key

    def knobs(self, **knobs: Any) -> dict[str, Any]:
        reply = self.session.post(self.url + KNOBS_PATH, json=knobs, timeout=10)
        reply.raise_for_status()
        return dict(reply.json())

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        reply = self.session.get(self.url + LOG_PATH, params={"since": since}, timeout=30)
        reply.raise_for_status()
        return list(reply.json()["requests"])

    def logged(self) -> int:
        """How many requests the log holds (the position a later log(since=...) starts from)."""
        reply = self.session.get(self.url + STATS_PATH, timeout=10)
        reply.raise_for_status()
        return int(reply.json()["requests"])


# -- Workers -----------------------------------------------------------------------------------------

# (name, command, environment) -> the process and its log file
Spawn = Callable[[str, list[str], dict[str, str]], tuple[subprocess.Popen[bytes], Path]]


def worker_command(name: str, interval: float) -> list[str]:
    return [
        sys.executable,
        "manage.py",
        "db_worker",
        "--no-reload",
        "--no-startup-delay",
        "--interval",
        f"{interval:g}",
        "--worker-id",
        name,
    ]


def _start_workers(
    spawn: Spawn, env: dict[str, str], opts: Options
) -> list[subprocess.Popen[bytes]]:
    """`opts.workers` db_worker processes; returns once each has logged that it started."""
    # INFO: the worker's "Starting worker" line tells the bench it is ready.
    worker_env = {**env, "LOG_LEVEL": "INFO"}
    started = [
        spawn(f"worker-{i + 1}", worker_command(f"bench-{i + 1}", opts.worker_interval), worker_env)
        for i in range(opts.workers)
    ]
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    for proc, log in started:
        while "Starting worker" not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise BadAnswer(f"A task worker exited early:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise BadAnswer(f"A task worker did not start within {WORKER_START_TIMEOUT_S} s")
            time.sleep(0.05)
    return [proc for proc, _ in started]


def _cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float | None:
    """User + system CPU seconds the processes have used so far (Linux /proc; None elsewhere)."""
    total = 0
    try:
        for proc in procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for proc in workers:
        proc.terminate()
    for proc in workers:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# -- Setup ---------------------------------------------------------------------------------------------


def _workspace(slug: str, admin: User, emulator: ControlledEmulator) -> Workspace:
    """A workspace that needs no approval, its key the emulator's."""
    workspace = workspace_create(
        name=f"Bench {slug}", slug=slug, base_url=emulator.url, created_by=admin
    )
    api_key_add(
        workspace=workspace, label="bench", secret=emulator.api_key, actor=admin, activate=True
    )
    assert not workspace.requires_approval
    return workspace


def _create_personas(emulator: ControlledEmulator, count: int, prefix: str) -> list[str]:
    client = TavusClient(emulator.api_key, emulator.url, timeout=(3.05, 30))

    def create(i: int) -> str:
        doc = docs.small_persona(name=f"{prefix} {i:03}")
        return str(client.create_persona(doc)["persona_id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(create, range(count)))


def _contexts(emulator: ControlledEmulator, persona_ids: list[str]) -> dict[str, str]:
    client = TavusClient(emulator.api_key, emulator.url, timeout=(3.05, 30))

    def context(persona_id: str) -> str:
        return str(client.get_persona(persona_id).get("context", ""))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(persona_ids, pool.map(context, persona_ids), strict=True))


# -- Figures from the emulator's log and the task queue ------------------------------------------------


def _persona_calls(entries: list[dict[str, Any]], persona_ids: list[str]) -> dict[str, Any]:
    """Per persona: GETs, PATCHes sent, PATCHes answered 429, PATCHes saved (2xx)."""
    prefix = "/v2/personas/"
    wanted = set(persona_ids)
    calls: Counter[tuple[str, str, str]] = Counter()
    for entry in entries:
        persona_id = str(entry["path"]).removeprefix(prefix)
        if not str(entry["path"]).startswith(prefix) or persona_id not in wanted:
            continue
        status = int(entry["status"])
        outcome = "429" if status == 429 else "ok" if 200 <= status < 300 else "other"
        calls[(persona_id, str(entry["method"]), outcome)] += 1
    saved = [calls[(pid, "PATCH", "ok")] for pid in persona_ids]
    gets = [sum(calls[(pid, "GET", o)] for o in ("ok", "429", "other")) for pid in persona_ids]
    return {
        "requests": len(entries),
        "gets": sum(gets),
        "gets_429": sum(calls[(pid, "GET", "429")] for pid in persona_ids),
        "patches": sum(
            sum(calls[(pid, "PATCH", o)] for o in ("ok", "429", "other")) for pid in persona_ids
        ),
        "patches_429": sum(calls[(pid, "PATCH", "429")] for pid in persona_ids),
        "patches_saved": sum(saved),
        "patches_other": sum(calls[(pid, "PATCH", "other")] for pid in persona_ids),
        "gets_per_persona_max": max(gets, default=0),
        "patches_saved_per_persona_min": min(saved, default=0),
        "patches_saved_per_persona_max": max(saved, default=0),
        "personas_patched_twice": sum(1 for n in saved if n > 1),
    }


def _due(row: dict[str, Any]) -> datetime:
    """When a task could first run: enqueued, or later when it was queued for after a time (its
    run_after is otherwise the backend's far-future "no date" value)."""
    enqueued, run_after = row["enqueued_at"], row["run_after"]
    return enqueued if run_after > row["started_at"] else max(enqueued, run_after)


def _tasks(*, since: datetime, wall_s: float, workers: int) -> dict[str, Any]:
    """Where the apply's time went, from the task queue: each task's wait in the queue (due →
    started: all N tasks are queued at once, so most of it is waiting for a free worker), its
    run (started → finished), and how busy the workers were (the rest is picking up tasks,
    db_worker's polling interval included)."""
    rows = list(
        DBTaskResult.objects.filter(
            enqueued_at__gte=since, task_path__endswith="change_set_item_task"
        )
        .exclude(started_at=None)
        .exclude(finished_at=None)
        .values(
            "enqueued_at",
            "run_after",
            "started_at",
            "finished_at",
            "status",
            "return_value",
            "exception_class_path",
            "traceback",
        )
    )
    runs = [(r["finished_at"] - r["started_at"]).total_seconds() * 1000 for r in rows]
    waits = [(r["started_at"] - _due(r)).total_seconds() * 1000 for r in rows]
    outcomes = Counter(
        str(r["return_value"]) if r["status"] == "SUCCESSFUL" else r["status"].lower() for r in rows
    )
    errors = Counter(
        ((r["traceback"] or "").strip().splitlines() or [r["exception_class_path"]])[-1]
        for r in rows
        if r["status"] != "SUCCESSFUL"
    )
    if not runs:
        return {"tasks": 0}
    return {
        "tasks": len(rows),
        "outcomes": dict(sorted(outcomes.items())),
        "errors": dict(errors.most_common(5)),
        "run_p50_ms": round(statistics.median(runs), 1),
        "run_p95_ms": round(percentile(runs, 0.95), 1),
        "run_total_s": round(sum(runs) / 1000, 2),
        "queue_wait_p50_ms": round(statistics.median(waits), 1),
        "queue_wait_p95_ms": round(percentile(waits, 0.95), 1),
        # Sum of the tasks' run times over (workers x wall time): 1.0 = every worker always busy.
        "workers_busy_share": round(sum(runs) / 1000 / (workers * wall_s), 2) if wall_s else None,
    }


# -- The items ------------------------------------------------------------------------------------------


def _apply_item(
    *,
    name: str,
    admin: User,
    emulator: ControlledEmulator,
    opts: Options,
    rate_limited: float,
    workers: list[subprocess.Popen[bytes]],
) -> tuple[dict[str, Any], Workspace, list[str]]:
    """One change set over N personas, planned then applied by the workers; its figures."""
    workspace = _workspace(f"bench-{name.replace('_', '-')}", admin, emulator)
    persona_ids = _create_personas(emulator, opts.personas, f"Bench {name}")
    value = f"Acme sells garden tools and repairs them ({name})."
    edit = [{"op": "set", "path": "/context", "value": value}]

    mark = emulator.logged()
    t0 = time.perf_counter()
    change_set = change_set_create(
        workspace=workspace,
        actor=admin,
        persona_ids=persona_ids,
        edit=edit,
        title=f"Bench: {name}",
    )
    plan_s = time.perf_counter() - t0
    plan_calls = _persona_calls(emulator.log(mark), persona_ids)

    if rate_limited > 0:
        emulator.knobs(
            rate_limit={"share": rate_limited, "retry_after": opts.retry_after, "seed": opts.seed}
        )
    mark = emulator.logged()
    since = timezone.now()
    cpu_before = _cpu_seconds(workers)
    t0 = time.perf_counter()
    change_set_apply(change_set=change_set, actor=admin)
    enqueued_s = time.perf_counter() - t0
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    while True:
        status = ChangeSet.objects.values_list("status", flat=True).get(pk=change_set.pk)
        if status != ChangeSetStatus.APPLYING or time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    wall_s = time.perf_counter() - t0
    cpu_after = _cpu_seconds(workers)
    emulator.knobs(rate_limit=None)

    calls = _persona_calls(emulator.log(mark), persona_ids)
    contexts = _contexts(emulator, persona_ids)
    counts = change_set_counts(change_set)
    L, C, N = opts.latency_ms / 1000, opts.concurrency, opts.personas
    target_s = 1.5 * (N * 2 * L / C)
    found = {
        "personas": N,
        "concurrency": C,
        "workers": opts.workers,
        "worker_interval_s": opts.worker_interval,
        "rate_limited_share": rate_limited,
        "retry_after_s": opts.retry_after if rate_limited else None,
        "status": status,
        "wall_s": round(wall_s, 3),
        "enqueue_s": round(enqueued_s, 3),
        "target_s": round(target_s, 3),
        "ideal_s": round(N * 2 * L / C, 3),
        # The time L alone takes for the requests the emulator logged, C at a time.
        "latency_only_s": round((calls["gets"] + calls["patches"]) * L / C, 3),
        "items": {k: v for k, v in counts.items() if v},
        "item_problems": sorted(
            {
                f"{item.status}: {item.message}"
                for item in change_set.items.exclude(status__in=["sent", "no_change"])
            }
        )[:5],
        "calls": calls,
        "personas_changed": sum(1 for c in contexts.values() if c == value),
        "plan_s": round(plan_s, 3),
        "plan_calls": {"gets": plan_calls["gets"], "requests": plan_calls["requests"]},
        "tasks": _tasks(since=since, wall_s=wall_s, workers=opts.workers),
        # The workers' own CPU time (not the database's, nor the emulator's) per persona.
        "worker_cpu_ms_per_persona": round((cpu_after - cpu_before) * 1000 / N, 1)
        if cpu_before is not None and cpu_after is not None
        else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    return found, workspace, persona_ids


def _plan_item(
    *,
    workspace: Workspace,
    persona_ids: list[str],
    emulator: ControlledEmulator,
    opts: Options,
    folder: Path,
) -> dict[str, Any]:
    """`manage.py personas plan` over the files of `persona_ids`, each file's context changed."""
    call_command("personas", "export", workspace=workspace.slug, dir=folder, stdout=io.StringIO())
    wanted = {f"{pid}.json" for pid in persona_ids}
    for path in folder.glob("*.json"):
        if path.name not in wanted:
            path.unlink()  # the emulator's other personas (the other item's)
            continue
        doc = json.loads(path.read_text())
        doc["context"] = "Acme sells garden tools, repairs them and rents them out."
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    out = io.StringIO()
    mark = emulator.logged()
    t0 = time.perf_counter()
    try:
        call_command("personas", "plan", workspace=workspace.slug, dir=folder, stdout=out)
        exit_status = 0
    except SystemExit as exc:  # 2: changes to show (as CI reads it)
        exit_status = int(exc.code or 0)
    wall_s = time.perf_counter() - t0
    calls = _persona_calls(emulator.log(mark), persona_ids)
    summary = out.getvalue().strip().splitlines()[-1] if out.getvalue().strip() else ""
    L, C, N = opts.latency_ms / 1000, opts.concurrency, len(persona_ids)
    return {
        "personas": N,
        "concurrency": C,
        "wall_s": round(wall_s, 3),
        "target_s": round(1.5 * (N * L / C), 3),
        "ideal_s": round(N * L / C, 3),
        "exit_status": exit_status,
        "summary": summary,
        "files_changed": sum(1 for line in out.getvalue().splitlines() if " change(s):" in line),
        "gets": calls["gets"],
        "requests": calls["requests"],
    }


def run(
    *,
    emulator_url: str,
    api_key: str,
    env: dict[str, str],
    spawn: Spawn,
    opts: Options,
    folder: Path,
) -> dict[str, Any]:
    """The three items, one after another; their figures by item name."""
    emulator = ControlledEmulator(emulator_url, api_key)
    emulator.knobs(latency_ms=opts.latency_ms, rate_limit=None)
    if opts.concurrency != settings.TAVUS_MAX_CONCURRENCY:
        raise BadAnswer("TAVUS_MAX_CONCURRENCY is not the concurrency asked for.")
    admin = User.objects.get_or_create(username="bench-changesets")[0]
    results: dict[str, Any] = {}
    workers = _start_workers(spawn, env, opts)
    try:
        first, workspace, persona_ids = _apply_item(
            name="changeset_apply",
            admin=admin,
            emulator=emulator,
            opts=opts,
            rate_limited=0,
            workers=workers,
        )
        results["changeset_apply"] = first
        print(_line("changeset_apply", first), flush=True)
        limited, _, _ = _apply_item(
            name="changeset_apply_429",
            admin=admin,
            emulator=emulator,
            opts=opts,
            rate_limited=opts.rate_limited,
            workers=workers,
        )
        results["changeset_apply_429"] = limited
        print(_line("changeset_apply_429", limited), flush=True)
    finally:
        _stop_workers(workers)
    folder.mkdir(parents=True, exist_ok=True)
    plan = _plan_item(
        workspace=workspace, persona_ids=persona_ids, emulator=emulator, opts=opts, folder=folder
    )
    results["personas_plan"] = plan
    print(
        f"  {'personas_plan':<28} {plan['wall_s']:7.2f} s (target {plan['target_s']:.2f} s), "
        f"{plan['gets']} GETs for {plan['personas']} files, exit status {plan['exit_status']}",
        flush=True,
    )
    return results


def _line(name: str, item: dict[str, Any]) -> str:
    calls = item["calls"]
    return (
        f"  {name:<28} {item['wall_s']:7.2f} s (target {item['target_s']:.2f} s), "
        f"{item['status']}, {calls['gets']} GETs, {calls['patches']} PATCHes "
        f"({calls['patches_429']} answered 429, {calls['patches_saved']} saved), "
        f"{item['personas_changed']} of {item['personas']} personas changed"
    )

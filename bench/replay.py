"""Replay the bench's pages in-process against a database kept with `bench/run.py --keep-db`.

    .venv/bin/python bench/replay.py var/bench/kept-sqlite-NNN.json [ITEM ...] [--n 30] [--profile]

Django's test client calls the views (same settings as the bench: DEBUG off, the kept database and
keys); the emulator serves the kept personas, under their ids, from a child process with no added
latency, so the times are the dashboard's own. Prints per item the median wall and CPU time, the
garbage collector's share, and the SQL time; --profile adds cProfile's top functions (cumulative),
--sql lists each query of one request. Items: those of run.py plus edit_10, edit_50, edit_200.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LADDER = (10, 50, 200)


def _serve_emulator(info_path: str, port: int) -> None:
    """Child process: the emulator with the kept personas (same ids) and the tool ladder."""
    from bench import docs
    from personas_app.devtools.emulator import EmulatorState, _make_server

    info = json.loads(Path(info_path).read_text())
    state = EmulatorState(api_key=info["api_key"])
    state.put_persona({**info["large_doc"], "persona_id": info["large_id"]})
    state.put_persona({**docs.small_persona(), "persona_id": info["small_id"]})
    for count in LADDER:
        doc = docs.large_persona(name=f"Bench {count} tools", tools=count)
        state.put_persona({**doc, "persona_id": f"pladder{count}"})
    server = _make_server("127.0.0.1", port, state)
    print("ready", flush=True)
    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kept", help="var/bench/kept-<db>-<pid>.json written by run.py --keep-db")
    parser.add_argument("items", nargs="*")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sql", action="store_true")
    args = parser.parse_args()

    info = json.loads(Path(args.kept).read_text())
    os.environ.update(info["env"])
    os.environ.update(
        DEBUG="0",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        LOG_LEVEL="WARNING",
    )
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-emulator", args.kept, str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        child.stdout.readline()
        _replay(info, f"http://127.0.0.1:{port}", args)
    finally:
        child.terminate()
        child.wait(timeout=10)
    return 0


def _replay(info: dict[str, Any], emulator_url: str, args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from personas_app.models import Workspace
    from tests.formdata import form_data

    Workspace.objects.filter(slug=info["slug"]).update(tavus_base_url=emulator_url)
    client = Client()
    client.force_login(User.objects.get(username=info["username"]))
    w = f"/w/{info['slug']}"
    large = f"{w}/personas/{info['large_id']}"
    form = "application/x-www-form-urlencoded"

    def encoded(page: str) -> str:
        data = form_data(page)
        return urlencode([(k, v) for k in data for v in data.getlist(k)])

    edit_data = form_data(client.get(f"{large}/edit/").content.decode())
    edit_data.setlist("identity-context", ["Customers call about orders only."])
    edited = urlencode([(k, v) for k in edit_data for v in edit_data.getlist(k)])
    imported = client.post(
        f"{w}/personas/new/", {"import": "1", "import_json": json.dumps(info["large_doc"])}
    )
    created = encoded(imported.content.decode())
    deep = f"{w}/audit/?persona={info['deep_persona']}&before={info['deep_before']}"
    items: dict[str, Callable[[], Any]] = {
        "persona_list": lambda: client.get(f"{w}/"),
        "persona_detail": lambda: client.get(f"{large}/"),
        "persona_edit": lambda: client.get(f"{large}/edit/"),
        "patch_preview": lambda: client.post(
            f"{large}/edit/preview/", edited, content_type=form, headers={"HX-Request": "true"}
        ),
        "create_preview": lambda: client.post(
            f"{w}/personas/new/preview/", created, content_type=form, headers={"HX-Request": "true"}
        ),
        "persona_history": lambda: client.get(f"{large}/history/"),
        "audit_first": lambda: client.get(f"{w}/audit/"),
        "audit_deep": lambda: client.get(deep),
        "review": lambda: client.get(f"{w}/reviews/{info['change_request_id']}/"),
    }
    for n in LADDER:
        items[f"edit_{n}"] = partial(client.get, f"{w}/personas/pladder{n}/edit/")
    gc_time = [0.0]
    started = [0.0]

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - started[0]

    gc.callbacks.append(on_gc)
    sql_time = [0.0]
    queries: list[tuple[float, str]] = []

    def timed_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_time[0] += time.perf_counter() - t0
            queries.append(((time.perf_counter() - t0) * 1000, sql))

    for name, call in items.items():
        if args.items and name not in args.items:
            continue
        for _ in range(3):
            reply = call()
            assert reply.status_code == 200, (name, reply.status_code)
        walls, cpus = [], []
        gc_time[0] = sql_time[0] = 0.0
        queries.clear()
        profiler = cProfile.Profile() if args.profile else None
        with connection.execute_wrapper(timed_sql):
            for _ in range(args.n):
                w0, c0 = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                call()
                if profiler:
                    profiler.disable()
                walls.append((time.perf_counter() - w0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
        print(
            f"{name:<16} wall p50 {statistics.median(walls):7.1f} ms  min {min(walls):6.1f}  cpu p50 "
            f"{statistics.median(cpus):7.1f} ms  gc {gc_time[0] * 1000 / args.n:5.1f} ms  "
            f"sql {sql_time[0] * 1000 / args.n:5.1f} ms ({len(queries) / args.n:.0f} queries)",
            flush=True,
        )
        if args.sql:
            for ms, sql in queries[: len(queries) // args.n]:
                print(f"    {ms:7.2f} ms  {sql[:160]}")
        if profiler:
            profiler.dump_stats("/tmp/replay.prof") if os.environ.get("REPLAY_DUMP") else None
            pstats.Stats(profiler).sort_stats(
                os.environ.get("REPLAY_SORT", "cumulative")
            ).print_stats(int(os.environ.get("REPLAY_TOP", "30")))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-emulator":
        _serve_emulator(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(main())

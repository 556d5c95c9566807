"""`make bench`: what the dashboard adds to the Tavus API it sits in front of, as a user feels it.

Starts the Tavus emulator with an added latency L in its own process, and the dashboard under
gunicorn with production settings, on loopback, against a fresh database (SQLite under var/bench/,
or a throwaway PostgreSQL database on the server of DATABASE_URL / --database-url, dropped after)
and Redis as its cache when Redis answers on 127.0.0.1:6379. Seeds it (a workspace, a large and a
small persona, a run of real versions, a change request and 1 000 000 audit records), logs in with a
real session and times each page over N requests after a warm-up. Live pages are timed twice:
`repeat` (the persona as last seen) and `changed` (edited on the emulator right before), each
request paired with the same Tavus call sent alone, so own time = page - API alone. Then many
sessions at once against two gunicorn instances. Prints a table and writes bench/results.json.
A benchmark, not a test: nothing here asserts a time.

    .venv/bin/python bench/run.py [--latency-ms 50] [--requests 200] [--audit-rows 1000000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ps_bench .venv/bin/python bench/run.py
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import concurrency, report  # noqa: E402
from bench.client import LeanClient, Reply  # noqa: E402
from bench.measure import STATS_PATH, BadAnswer, Bench, Emulator, Item, Spec  # noqa: E402

BENCH_VAR = ROOT / "var" / "bench"
TOOL_LADDER = (10, 50, 200)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
LIST_PATH = "/v2/personas?" + urlencode({"page": "1", "limit": "20", "persona_type": "user"})


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=int, default=50, help="added emulator latency L")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per item")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per item first")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the timed requests are taken in this many rounds over the items",
    )
    parser.add_argument("--audit-rows", type=int, default=1_000_000)
    parser.add_argument("--audit-personas", type=int, default=200)
    parser.add_argument(
        "--persona-versions",
        type=int,
        default=0,
        help="extra versions of the large persona (whole documents) among the audit rows",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="postgres://... to bench on PostgreSQL (a throwaway database on that server)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument(
        "--redis-db",
        type=int,
        default=15,
        help="the Redis database (on 127.0.0.1:6379) the dashboard caches in; flushed at start",
    )
    parser.add_argument("--concurrency-sessions", type=int, default=20)
    parser.add_argument(
        "--concurrency-seconds", type=float, default=60, help="0 skips the concurrency run"
    )
    parser.add_argument(
        "--changeset-personas",
        type=int,
        default=200,
        help="personas of the change-set items (apply, apply with 429s, personas plan); 0 skips them",
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=8, help="TAVUS_MAX_CONCURRENCY of the dashboard"
    )
    parser.add_argument(
        "--task-workers",
        type=int,
        default=0,
        help="db_worker processes applying the change sets (default: --max-concurrency)",
    )
    parser.add_argument(
        "--worker-interval",
        type=float,
        default=0.1,
        help="db_worker --interval: seconds an idle worker waits before looking again",
    )
    parser.add_argument(
        "--rate-limited", type=float, default=0.1, help="share of 429 answers in the second apply"
    )
    parser.add_argument("--retry-after", type=float, default=1.0, help="their Retry-After (s)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the seeded database (to profile against)"
    )
    return parser.parse_args(argv)


# -- Child processes and cleanup ------------------------------------------------------------------


class Cleanup:
    """Stops what the bench started, whatever way it ends (normal exit, error, Ctrl-C, SIGTERM)."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.actions: list[Callable[[], None]] = []
        self.logs: dict[str, Path] = {}

    def spawn(
        self, name: str, args: list[str], *, env: dict[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            # A new session: Ctrl-C reaches only this script, which then stops the whole group.
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((name, proc))
        self.logs[name] = log
        self.actions.append(lambda: log.unlink(missing_ok=True))
        return proc

    def log_tails(self, lines: int = 40) -> str:
        """The end of each child's log (a page's traceback is in gunicorn's)."""
        parts = []
        for name, log in self.logs.items():
            with contextlib.suppress(OSError):
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                if tail:
                    parts.append(f"--- {name} log (last {len(tail)} lines) ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop_processes(self) -> None:
        for _name, proc in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in reversed(self.processes):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.processes.clear()

    def run(self) -> None:
        self.stop_processes()
        for action in reversed(self.actions):
            try:
                action()
            except Exception as exc:  # cleanup must go on
                print(f"cleanup: {exc}", file=sys.stderr)
        self.actions.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 60,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early; its log:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start within {timeout:.0f} s; log: {log}")


# -- Databases --------------------------------------------------------------------------------------


@dataclass
class Database:
    url: str
    vendor: str  # sqlite | postgresql
    drop: Callable[[], None]


def _sqlite_database(keep: bool) -> Database:
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    path = BENCH_VAR / f"bench-{os.getpid()}-{secrets.token_hex(3)}.sqlite3"

    def drop() -> None:
        if keep:
            print(f"Kept the database: {path}")
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)

    return Database(f"sqlite:///{path}", "sqlite", drop)


def _postgres_database(url: str, keep: bool) -> Database:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    base = (parts.path.lstrip("/") or "ps_bench")[:40]
    name = f"{base}_{os.getpid()}_{secrets.token_hex(3)}"
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        if keep:
            print(f"Kept the database: {name}")
            return
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    return Database(
        urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")), "postgresql", drop
    )


def gunicorn_command(port: int, *, workers: int = 2, threads: int = 2) -> list[str]:
    """The dashboard under gunicorn on loopback, as the bench measures it."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "dashboard.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--log-level",
        "warning",
    ]


def _production_env(
    database_url: str, cache_url: str = "", max_concurrency: int = 8
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        TAVUS_ALLOW_LOOPBACK="1",  # the emulator runs on this machine
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        TAVUS_MAX_CONCURRENCY=str(max_concurrency),
    )
    return env


def _form_pairs(page_html: str, form_id: str = "editor") -> list[tuple[str, str]]:
    from tests.formdata import form_data

    data = form_data(page_html, form_id)
    return [(name, value) for name in data for value in data.getlist(name)]


def _with(pairs: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    if not any(n == name for n, _ in pairs):
        raise SystemExit(f"The editor form has no field {name!r}.")
    return [(n, value if n == name else v) for n, v in pairs]


def _compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _ops_from_preview(fragment: str) -> list[Any]:
    match = re.search(r'<pre id="ops-json">(.*?)</pre>', fragment, re.S)
    if match is None:
        raise SystemExit("The patch preview shows no JSON Patch.")
    return json.loads(html.unescape(match.group(1)))


def _code_version() -> dict[str, Any]:
    """The commit measured, and whether the tree had uncommitted changes (read-only git calls)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_files": len(git("status", "--porcelain").splitlines()),
    }


def _machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _redis_flush(db: int) -> str:
    """Empties Redis database `db` on this machine; "" when done, else why not."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return ""


def _redis_cache(db: int) -> str:
    """CACHE_URL for the dashboard: Redis on this machine, database `db` flushed; "" (each
    process's own memory) when Redis does not answer."""
    problem = _redis_flush(db)
    if problem:
        print(
            f"Redis: not reachable on {REDIS_HOST}:{REDIS_PORT} ({problem}); the cache is in-process"
        )
        return ""
    print(f"Redis: database {db} on {REDIS_HOST}:{REDIS_PORT}, flushed")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


def _write_sidecar(
    db: Database,
    env: dict[str, str],
    api_key: str,
    seeded: Any,
    deep_persona: str,
    deep_before: int,
) -> None:
    """With --keep-db: what a profiling script needs to reuse the database (its throwaway keys)."""
    keys = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL")
    info = {
        "env": {k: env[k] for k in keys},
        "api_key": api_key,
        "username": seeded.username,
        "password": seeded.password,
        "slug": seeded.slug,
        "large_id": seeded.large_id,
        "small_id": seeded.small_id,
        "large_doc": seeded.large_doc,
        "change_request_id": seeded.change_request_id,
        "deep_persona": deep_persona,
        "deep_before": deep_before,
    }
    path = BENCH_VAR / f"kept-{db.vendor}-{os.getpid()}.json"
    path.write_text(json.dumps(info, indent=1))
    print(f"Kept database details: {path}")


# -- The dashboard's side ------------------------------------------------------------------------


class Dashboard:
    """One gunicorn instance and a logged-in session on it (requests for setup, a LeanClient for
    the timed requests, with the same cookies)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self._lean: LeanClient | None = None

    def login(self, username: str, password: str) -> None:
        self.session = concurrency.login(self.base, username, password)

    def lean(self) -> LeanClient:
        if self._lean is None:
            self._lean = LeanClient(self.base, self.session.cookies.get_dict())
        return self._lean

    def get(self, path: str, **headers: str) -> Callable[[], Reply]:
        client = self.lean()
        return lambda: client.request("GET", path, headers=headers)

    def post(self, path: str, pairs: list[tuple[str, str]], **headers: str) -> Callable[[], Reply]:
        """POST a form, encoded once here as a browser would (the encoding is not timed)."""
        client = self.lean()
        body = urlencode(pairs).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRFToken": client.cookies.get("csrftoken", ""),
            **headers,
        }
        return lambda: client.request("POST", path, body=body, headers=headers)


def _start_gunicorn(
    cleanup: Cleanup, name: str, env: dict[str, str], args: argparse.Namespace
) -> str:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = BENCH_VAR / f"{name}-{os.getpid()}.log"
    command = gunicorn_command(port, workers=args.workers, threads=args.threads)
    proc = cleanup.spawn(name, command, env=env, log=log)
    _wait_until(
        lambda: requests.get(base + "/accounts/login/", timeout=2).status_code == 200,
        what=name,
        proc=proc,
        log=log,
    )
    return base


# -- The run -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    args.load_at_start = [round(x, 2) for x in os.getloadavg()]
    args.code_version = _code_version()
    cleanup = Cleanup()

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell that starts the bench in the background leaves SIGINT ignored.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_term)
    started = time.perf_counter()
    try:
        return _run(args, cleanup, started)
    except BadAnswer as exc:
        print(f"\n{exc}\n{cleanup.log_tails()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted: stopping the emulator and gunicorn.", file=sys.stderr)
        return 130
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        cleanup.run()


def _start_emulator(
    cleanup: Cleanup, name: str, env: dict[str, str], latency_ms: int
) -> tuple[str, str]:
    """The Tavus emulator in its own process; its URL and API key."""
    api_key = "bench-" + secrets.token_hex(12)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = BENCH_VAR / f"{name}-{os.getpid()}.log"
    # The module's own entry point: the same server as `manage.py tavus_emulator`, without
    # Django's start-up.
    command = [sys.executable, "-m", "personas_app.devtools.emulator", "--port", str(port)]
    command += ["--api-key", api_key, "--latency-ms", str(latency_ms)]
    proc = cleanup.spawn(name, command, env=env, log=log)
    _wait_until(
        lambda: requests.get(url + STATS_PATH, headers={"x-api-key": api_key}, timeout=2).ok,
        what="The Tavus emulator",
        proc=proc,
        log=log,
    )
    return url, api_key


def _run(args: argparse.Namespace, cleanup: Cleanup, started: float) -> int:
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    url = args.database_url
    if url.startswith(("postgres://", "postgresql://")):
        db = _postgres_database(url, args.keep_db)
    else:
        db = _sqlite_database(args.keep_db)
    cleanup.actions.append(db.drop)
    cache_url = _redis_cache(args.redis_db)
    if cache_url:
        cleanup.actions.append(lambda: print(_redis_flush(args.redis_db), end=""))
    env = _production_env(db.url, cache_url, args.max_concurrency)
    os.environ.update(env)

    import django
    from django.core.management import call_command
    from django.db import connection, connections

    django.setup()
    cleanup.actions.append(connections.close_all)  # before the database is dropped
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    print(
        f"Database: {db.vendor} ({connection.settings_dict['NAME']}), migrated in {time.perf_counter() - t0:.1f} s"
    )

    # The emulator, in its own process so it does not share this process's GIL.
    emulator_url, api_key = _start_emulator(cleanup, "emulator", env, args.latency_ms)

    from bench import docs
    from bench.seed import deep_cursor, seed_all

    t0 = time.perf_counter()
    seeded = seed_all(
        emulator_url=emulator_url,
        api_key=api_key,
        audit_rows=args.audit_rows,
        personas=args.audit_personas,
        persona_versions=args.persona_versions,
    )
    deep_persona = seeded.persona_ids[min(7, len(seeded.persona_ids) - 1)]
    deep_before = deep_cursor(slug=seeded.slug, persona_id=deep_persona)
    if args.keep_db:
        _write_sidecar(db, env, api_key, seeded, deep_persona, deep_before)
    seed_s = time.perf_counter() - t0
    print(
        f"Seeded in {seed_s:.1f} s (not counted): {args.audit_rows:,} audit records over "
        f"{len(seeded.persona_ids)} personas and {args.persona_versions:,} more versions of the "
        f"large persona in {seeded.timings['audit_insert_s']:.1f} s"
    )
    connections.close_all()

    # The dashboard under gunicorn, production settings. The concurrency run's second instance
    # starts now too, idle until then: both run the code the database was just migrated for.
    dash = Dashboard(_start_gunicorn(cleanup, "gunicorn", env, args))
    concurrent = args.concurrency_sessions > 0 and args.concurrency_seconds > 0
    second = _start_gunicorn(cleanup, "gunicorn-2", env, args) if concurrent else ""
    dash.login(seeded.username, seeded.password)
    emulator = Emulator(emulator_url, api_key)
    bench = Bench(emulator, args.requests, args.warmup, args.rounds)
    w = f"/w/{seeded.slug}"
    large = f"{w}/personas/{seeded.large_id}"
    small = f"{w}/personas/{seeded.small_id}"
    htmx = {"HX-Request": "true"}
    large_name = str(seeded.large_doc.get("persona_name"))

    # The forms the previews post, read first (setup, not timed).
    edit_page = dash.session.get(dash.base + f"{large}/edit/", timeout=60).text
    edited = _with(_form_pairs(edit_page), "identity-context", "Customers call about orders only.")
    create_page = dash.session.get(dash.base + f"{w}/personas/new/", timeout=60)
    imported = dash.session.post(
        dash.base + f"{w}/personas/new/",
        data={
            "csrfmiddlewaretoken": dash.session.cookies["csrftoken"],
            "import": "1",
            "import_json": json.dumps(seeded.large_doc),
        },
        timeout=60,
    )
    if create_page.status_code != 200 or imported.status_code != 200:
        raise BadAnswer(
            f"The create page answered {create_page.status_code}/{imported.status_code}."
        )
    create_form = _form_pairs(imported.text)

    # Live pages: (item, page, text it holds, its Tavus call, that call's path, the persona an
    # outside edit changes for the `changed` variant: for the list, one persona of the listing).
    large_get, small_get = f"/v2/personas/{seeded.large_id}", f"/v2/personas/{seeded.small_id}"
    live = [
        ("persona_list", f"{w}/", large_name, "list_personas", LIST_PATH, seeded.small_id),
        ("persona_detail", f"{large}/", large_name, "get_persona", large_get, seeded.large_id),
        (
            "persona_edit",
            f"{large}/edit/",
            'id="editor"',
            "get_persona",
            large_get,
            seeded.large_id,
        ),
        (
            "persona_detail_small",
            f"{small}/",
            "Bench small persona",
            "get_persona_small",
            small_get,
            seeded.small_id,
        ),
        (
            "persona_edit_small",
            f"{small}/edit/",
            'id="editor"',
            "get_persona_small",
            small_get,
            seeded.small_id,
        ),
    ]
    specs: list[Spec] = []
    for name, path, expect, api_name, api_path, changed_id in live:
        specs.append(Spec(name, dash.get(path), expect, emulator.get(api_path), api_name))
        specs.append(
            Spec(
                f"{name}_changed",
                dash.get(path),
                expect,
                emulator.get(api_path),
                f"{api_name}_changed",
                change=emulator.changer(changed_id),
            )
        )
    specs += [
        Spec("patch_preview", dash.post(f"{large}/edit/preview/", edited, **htmx), "1 change"),
        Spec(
            "create_preview",
            dash.post(f"{w}/personas/new/preview/", create_form, **htmx),
            "POST /v2/personas",
        ),
        Spec("persona_history", dash.get(f"{large}/history/"), large_name),
        Spec("audit_first", dash.get(f"{w}/audit/"), "<table"),
        Spec(
            "audit_deep",
            dash.get(f"{w}/audit/?persona={deep_persona}&before={deep_before}"),
            deep_persona,
        ),
    ]
    if seeded.change_request_id is not None:
        specs.append(
            Spec("review", dash.get(f"{w}/reviews/{seeded.change_request_id}/"), "Mention repairs")
        )
    else:
        print("  review           skipped: services.reviews.change_request_create is missing")

    print(
        f"Measuring ({args.requests} requests per item after {args.warmup} warm-up, in "
        f"{bench.rounds} rounds over the items; L = {args.latency_ms} ms; live pages paired "
        "with their Tavus call alone)"
    )
    items = bench.measure(specs)
    for name, item in items.items():
        own = (
            f"  own p50 {item.own_p50_ms:6.1f} p95 {item.own_p95_ms:6.1f}"
            if item.api_samples
            else ""
        )
        print(
            f"  {name:<28} p50 {item.p50_ms:7.1f} ms  p95 {item.p95_ms:7.1f} ms  "
            f"upstream/request {item.upstream:.2f}{own}",
            flush=True,
        )

    # The size of the PATCH for a one-field edit, against the whole document.
    fragment = dash.session.post(
        dash.base + f"{large}/edit/preview/", data=edited, headers=htmx, timeout=60
    ).text
    ops = _ops_from_preview(fragment)
    answer = requests.get(
        emulator_url + large_get, headers={"x-api-key": api_key}, timeout=30
    ).json()
    live_doc = answer["data"][0] if isinstance(answer, dict) and "data" in answer else answer
    patch_bytes, doc_bytes = _compact(ops), _compact(live_doc)

    # Edit page own time against the number of tools: same persona, 10 / 50 / 200 tools.
    from personas_app.tavus import TavusClient

    client = TavusClient(api_key, emulator_url, timeout=(3.05, 30))
    ladder_ids: dict[str, str] = {}
    try:
        for count in TOOL_LADDER:
            doc = docs.large_persona(name=f"Bench {count} tools", tools=count)
            ladder_ids[str(count)] = str(client.create_persona(doc)["persona_id"])
        # Its targets are on p50 only: half the requests.
        ladder_bench = Bench(emulator, max(2, args.requests // 2), args.warmup, args.rounds)
        edit_ladder = ladder_bench.measure(
            [
                Spec(
                    count,
                    dash.get(f"{w}/personas/{persona_id}/edit/"),
                    'id="editor"',
                    emulator.get(f"/v2/personas/{persona_id}"),
                    f"get_persona_{count}_tools",
                )
                for count, persona_id in ladder_ids.items()
            ]
        )
    finally:
        for persona_id in ladder_ids.values():
            client.delete_persona(persona_id)
    for count, item in edit_ladder.items():
        print(
            f"  edit {int(count):>3} tools   p50 {item.p50_ms:7.1f} ms  own p50 {item.own_p50_ms:6.1f} ms",
            flush=True,
        )

    conc = _concurrency(
        args, cleanup, [dash.base, second], emulator, seeded, edited, db.vendor, cache_url
    )
    change_sets = _change_sets(args, cleanup, env)

    total_s = time.perf_counter() - started
    results = report.results(
        args=args,
        vendor=db.vendor,
        cache="redis" if cache_url else "in-process",
        items=items,
        patch_bytes=patch_bytes,
        doc_bytes=doc_bytes,
        edit_ladder=edit_ladder,
        api_samples=_api_samples(list(items.values()) + list(edit_ladder.values())),
        concurrency=conc,
        change_sets=change_sets,
        round_loads=bench.round_loads,
        seeded=seeded,
        seed_s=seed_s,
        total_s=total_s,
        machine=_machine(),
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(report.table(results))
    print(f"\nWrote {out} (run took {total_s:.0f} s)")
    return 0


def _api_samples(items: list[Item]) -> dict[str, list[float]]:
    """Every API-alone sample, by Tavus call (the large persona's GET from both of its pages)."""
    pooled: dict[str, list[float]] = {}
    for item in items:
        if item.api_samples:
            pooled.setdefault(item.api_name, []).extend(item.api_samples)
    return pooled


def _concurrency(
    args: argparse.Namespace,
    cleanup: Cleanup,
    bases: list[str],
    emulator: Emulator,
    seeded: Any,
    edited: list[tuple[str, str]],
    vendor: str,
    cache_url: str,
) -> dict[str, Any]:
    """The concurrency run against two instances on the same database and cache."""
    sessions, seconds = args.concurrency_sessions, args.concurrency_seconds
    if not all(bases):
        print("Concurrency run: skipped (--concurrency-sessions or --concurrency-seconds is 0)")
        return {"skipped": "asked to"}
    w = f"/w/{seeded.slug}"
    large = f"{w}/personas/{seeded.large_id}"
    large_name = str(seeded.large_doc.get("persona_name"))
    pages = {
        "persona_list": concurrency.Page(f"{w}/", large_name),
        "persona_detail": concurrency.Page(f"{large}/", large_name),
        "persona_edit": concurrency.Page(f"{large}/edit/", 'id="editor"'),
        "patch_preview": concurrency.Page(f"{large}/edit/preview/", "1 change", form=edited),
        "persona_history": concurrency.Page(f"{large}/history/", large_name),
    }
    probe = LeanClient(emulator.url, {})  # the API alone meanwhile, on its own connection
    probe_path = f"/v2/personas/{seeded.large_id}"
    print(
        f"Concurrency run: {sessions} sessions, 2 instances ({vendor}, "
        f"{'Redis' if cache_url else 'in-process'} cache), {seconds:g} s ...",
        flush=True,
    )
    found = concurrency.run(
        bases=bases,
        username=seeded.username,
        password=seeded.password,
        pages=pages,
        sessions=sessions,
        seconds=seconds,
        probe=lambda: probe.request("GET", probe_path, headers=emulator.headers),
    )
    found["database"] = vendor
    found["cache"] = "redis" if cache_url else "in-process"
    if found["errors"]:
        print(f"  {found['errors']} errors: {found['error_examples']}\n{cleanup.log_tails(60)}")
    return found


def _change_sets(args: argparse.Namespace, cleanup: Cleanup, env: dict[str, str]) -> dict[str, Any]:
    """The change-set items (bench/changesets.py), against an emulator of their own."""
    if args.changeset_personas <= 0:
        print("Change sets: skipped (--changeset-personas is 0)")
        return {"skipped": "asked to"}
    from bench import changesets

    opts = changesets.Options(
        personas=args.changeset_personas,
        concurrency=args.max_concurrency,
        workers=args.task_workers or args.max_concurrency,
        worker_interval=args.worker_interval,
        latency_ms=args.latency_ms,
        rate_limited=args.rate_limited,
        retry_after=args.retry_after,
        seed=19,
    )
    print(
        f"Change sets: {opts.personas} personas, TAVUS_MAX_CONCURRENCY={opts.concurrency}, "
        f"{opts.workers} task workers (--interval {opts.worker_interval:g}), "
        f"L = {opts.latency_ms} ms ...",
        flush=True,
    )
    url, api_key = _start_emulator(cleanup, "emulator-changesets", env, args.latency_ms)

    def spawn(
        name: str, command: list[str], worker_env: dict[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log = BENCH_VAR / f"{name}-{os.getpid()}.log"
        return cleanup.spawn(name, command, env=worker_env, log=log), log

    folder = BENCH_VAR / f"plan-{os.getpid()}"
    cleanup.actions.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    return changesets.run(
        emulator_url=url, api_key=api_key, env=env, spawn=spawn, opts=opts, folder=folder
    )


if __name__ == "__main__":
    raise SystemExit(main())

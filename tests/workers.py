"""Real task workers for tests: `manage.py db_worker` subprocesses against the test database.

Background work is never faked: a test that needs it starts one or more workers (transactional
tests only: a worker is another process and sees committed rows only), enqueues through the
services, and polls the database for the result with a bounded wait. The test database is passed
to the worker as DATABASE_URL (SQLite tests use a file, see settings.DATABASES TEST NAME).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.db import connection
from django_tasks import task

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url_for_workers() -> str:
    """The URL of the database this test process uses (the test database, once it exists)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


class Worker:
    """One `manage.py db_worker` process; its output goes to a file shown when a wait fails."""

    def __init__(self, name: str, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.05",
                "--worker-id",
                name,
            ],
            cwd=BASE_DIR,
            env={**os.environ, "DATABASE_URL": database_url_for_workers(), **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: the worker stops wherever it is, as on a crash or an OOM kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (the worker finishes its task and exits), then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


class WorkerPool:
    """Start, kill and restart workers in a test; every worker is stopped when the test ends."""

    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.env = dict(env or {})
        self.workers: list[Worker] = []

    def start(self, name: str | None = None) -> Worker:
        worker = Worker(name or f"w{len(self.workers) + 1}", self.log_dir, self.env)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def output(self) -> str:
        return "\n".join(f"--- {w.name} ---\n{w.output()}" for w in self.workers)


@contextmanager
def worker_pool(log_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[WorkerPool]:
    pool = WorkerPool(log_dir, env)
    try:
        yield pool
    finally:
        pool.stop_all()


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    pool: WorkerPool | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds, with the workers' logs."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = f"\n{pool.output()}" if pool is not None else ""
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}.{logs}")
        time.sleep(interval)


# A task for the queue's own test: what the worker sees in the database.
@task()
def count_users() -> int:
    return get_user_model().objects.count()

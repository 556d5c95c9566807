"""CACHE_URL=redis://… as the README documents it: the cache and the cached sessions live in Redis,
and logging in works (the redis package is a dependency).

Runs the dashboard's own settings in a subprocess, as `make run` or gunicorn would read them, against
the Redis on this machine (127.0.0.1:6379, database 15, emptied before and after).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/15"

LOGIN_SCRIPT = """
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

get_user_model().objects.create_user("rosa", password="a-long-enough-password-42")
browser = Client()
login = browser.post(
    "/accounts/login/", {"username": "rosa", "password": "a-long-enough-password-42"}
)
home = browser.get("/")
session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
print(settings.CACHES["default"]["BACKEND"])
print(settings.SESSION_ENGINE)
print(login.status_code, login.headers.get("Location"))
print(home.status_code)
print(session_key)
"""


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def empty_redis_db() -> Iterator[None]:
    if not _redis_reachable():
        pytest.skip("No Redis at 127.0.0.1:6379")
    import redis

    db = redis.Redis.from_url(REDIS_URL)
    db.flushdb()
    yield
    db.flushdb()


def test_logging_in_works_with_a_redis_cache_url(empty_redis_db: None, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))},
        "CACHE_URL": REDIS_URL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "testserver",
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    *shown, session_key = manage("shell", "-c", LOGIN_SCRIPT).strip().splitlines()[-5:]

    assert shown == [
        "django.core.cache.backends.redis.RedisCache",
        "django.contrib.sessions.backends.cached_db",
        "302 /",
        "200",
    ]
    import redis

    stored = [key.decode() for key in redis.Redis.from_url(REDIS_URL).keys("*")]
    assert any(session_key in key for key in stored)  # the session is cached in Redis

"""`manage.py tavus_emulator --demo-personas`, as `make run` starts it: the demo list is not empty."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_emulator_starts_with_the_accounts_own_personas() -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "tavus_emulator",
            "--port",
            str(port),
            "--api-key",
            "demo-key",
            "--demo-personas",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/v2/personas?persona_type=user",
                    headers={"x-api-key": "demo-key"},
                    timeout=2,
                )
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        names = {p["persona_name"] for p in answer.json()["data"]}
        assert {"Interviewer", "Life Coach"} <= names
    finally:
        server.terminate()
        server.wait(timeout=10)

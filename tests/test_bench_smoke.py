"""The benchmark runs end to end with tiny numbers and writes results in the agreed shape.

Not a timing test: nothing here looks at how fast anything was. Also covers the emulator's stats
endpoint the bench counts upstream requests with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from personas_app.tavus.emulator import STATS_PATH, EmulatorState, RunningEmulator

ROOT = Path(__file__).resolve().parent.parent
ITEMS = {
    "persona_list",
    "persona_detail",
    "persona_edit",
    "patch_preview",
    "create_preview",
    "persona_history",
    "audit_first",
    "audit_deep",
    "review",
}


def test_emulator_stats_counts_requests_without_counting_itself(
    tavus: EmulatorState, tavus_server: RunningEmulator
) -> None:
    headers = {"x-api-key": tavus.api_key}
    requests.get(f"{tavus_server.url}/v2/personas", headers=headers, timeout=5)
    requests.get(f"{tavus_server.url}/v2/replicas", headers=headers, timeout=5)

    first = requests.get(tavus_server.url + STATS_PATH, headers=headers, timeout=5)
    second = requests.get(tavus_server.url + STATS_PATH, headers=headers, timeout=5)

    assert first.status_code == 200
    assert first.json() == {"requests": 2}
    assert second.json() == {"requests": 2}
    assert tavus.count() == 2


def test_emulator_stats_needs_the_api_key(
    tavus: EmulatorState, tavus_server: RunningEmulator
) -> None:
    reply = requests.get(tavus_server.url + STATS_PATH, timeout=5)
    wrong = requests.get(tavus_server.url + STATS_PATH, headers={"x-api-key": "nope"}, timeout=5)

    assert reply.status_code == 401
    assert wrong.status_code == 401


def test_bench_runs_with_tiny_numbers_and_writes_results(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    bench_var = ROOT / "var" / "bench"
    before = set(bench_var.glob("*")) if bench_var.exists() else set()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    completed = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--requests",
            "2",
            "--warmup",
            "1",
            "--audit-rows",
            "600",
            "--audit-personas",
            "20",
            "--latency-ms",
            "5",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    results = json.loads(output.read_text())
    assert results["latency_ms"] == 5
    assert results["database"] in {"sqlite", "postgresql"}
    assert set(results["items"]) >= ITEMS
    for item in results["items"].values():
        assert {"p50_ms", "p95_ms", "upstream_requests_per_request"} <= set(item)
    assert results["items"]["persona_detail"]["upstream_requests_per_request"] == 1
    assert results["items"]["patch_preview"]["upstream_requests_per_request"] == 0
    assert results["items"]["audit_first"]["upstream_requests_per_request"] == 0
    assert 0 < results["patch_bytes_ratio"] < 1
    assert set(results["edit_own_ms"]) == {"10", "50", "200"}
    assert {"cores", "cpu_model", "python"} <= set(results["machine"])
    assert "Targets:" in completed.stdout
    assert set(bench_var.glob("*")) == before  # its database and logs are gone

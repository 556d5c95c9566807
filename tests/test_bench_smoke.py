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

from personas_app.devtools.emulator import (
    KNOBS_PATH,
    LOG_PATH,
    STATS_PATH,
    EmulatorState,
    RunningEmulator,
)

ROOT = Path(__file__).resolve().parent.parent
LIVE = {"persona_list", "persona_detail", "persona_edit"}
ITEMS = {
    *LIVE,
    *(f"{name}_changed" for name in LIVE),
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


def test_emulator_knobs_set_latency_and_a_share_of_429s_over_http(
    tavus: EmulatorState, tavus_server: RunningEmulator
) -> None:
    headers = {"x-api-key": tavus.api_key}
    knobs = {"latency_ms": 7, "rate_limit": {"share": 1, "retry_after": 2, "seed": 3}}

    set_on = requests.post(tavus_server.url + KNOBS_PATH, json=knobs, headers=headers, timeout=5)
    limited = requests.get(f"{tavus_server.url}/v2/personas", headers=headers, timeout=5)
    set_off = requests.post(
        tavus_server.url + KNOBS_PATH, json={"rate_limit": None}, headers=headers, timeout=5
    )
    answered = requests.get(f"{tavus_server.url}/v2/personas", headers=headers, timeout=5)

    assert set_on.json() == {
        "latency_ms": 7,
        "rate_limit": {"share": 1.0, "retry_after": 2.0, "seed": 3, "methods": None},
    }
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert set_off.json() == {"latency_ms": 7, "rate_limit": None}
    assert answered.status_code == 200
    assert tavus.count() == 2  # the knobs calls are neither logged nor counted


def test_emulator_log_lists_requests_from_a_position(
    tavus: EmulatorState, tavus_server: RunningEmulator
) -> None:
    headers = {"x-api-key": tavus.api_key}
    requests.get(f"{tavus_server.url}/v2/personas", headers=headers, timeout=5)
    requests.get(f"{tavus_server.url}/v2/personas/nope", headers=headers, timeout=5)

    everything = requests.get(tavus_server.url + LOG_PATH, headers=headers, timeout=5)
    later = requests.get(
        tavus_server.url + LOG_PATH, params={"since": 1}, headers=headers, timeout=5
    )

    assert everything.json() == {
        "requests": [
            {"method": "GET", "path": "/v2/personas", "status": 200},
            {"method": "GET", "path": "/v2/personas/nope", "status": 400},
        ]
    }
    assert later.json() == {"requests": everything.json()["requests"][1:]}


def test_emulator_knobs_and_log_need_the_api_key(
    tavus: EmulatorState, tavus_server: RunningEmulator
) -> None:
    knobs = requests.post(tavus_server.url + KNOBS_PATH, json={"latency_ms": 500}, timeout=5)
    log = requests.get(tavus_server.url + LOG_PATH, headers={"x-api-key": "nope"}, timeout=5)

    assert (knobs.status_code, log.status_code) == (401, 401)
    assert tavus.latency_ms == 0


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
            "4",
            "--warmup",
            "1",
            "--rounds",
            "2",
            "--audit-rows",
            "1000",
            "--audit-personas",
            "20",
            "--persona-versions",
            "5",
            "--latency-ms",
            "5",
            "--concurrency-sessions",
            "4",
            "--concurrency-seconds",
            "1",
            "--changeset-personas",
            "6",
            "--task-workers",
            "1",
            "--retry-after",
            "0.2",
            "--rate-limited",
            "0.3",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    results = json.loads(output.read_text())
    assert results["latency_ms"] == 5
    assert results["database"] in {"sqlite", "postgresql"}
    assert set(results["items"]) >= ITEMS
    for item in results["items"].values():
        assert {"p50_ms", "p95_ms", "upstream_requests_per_request"} <= set(item)
    for name in LIVE | {f"{name}_changed" for name in LIVE}:
        item = results["items"][name]
        # One call to Tavus per page: the bench's own requests (outside edits, the API alone)
        # are not counted.
        assert item["upstream_requests_per_request"] == 1, name
        assert {"own_p50_ms", "own_p95_ms", "api_p50_ms", "api_p95_ms"} <= set(item)
    assert results["items"]["patch_preview"]["upstream_requests_per_request"] == 0
    assert results["items"]["audit_first"]["upstream_requests_per_request"] == 0
    assert "own_p50_ms" not in results["items"]["audit_first"]
    assert set(results["api_alone"]) >= {"p50_ms", "p95_ms"}
    assert 0 < results["patch_bytes_ratio"] < 1
    assert set(results["edit_own_ms"]) == {"10", "50", "200"}
    assert results["persona_versions"] == 5
    concurrency = results["concurrency"]
    assert set(concurrency) >= {"sessions", "instances", "requests_per_s", "own_p95_ms", "errors"}
    assert (concurrency["sessions"], concurrency["instances"]) == (4, 2)
    assert concurrency["requests"] > 0
    assert concurrency["errors"] == 0, concurrency["error_examples"]
    change_sets = results["change_sets"]
    for name in ("changeset_apply", "changeset_apply_429"):
        item = change_sets[name]
        assert (item["status"], item["personas_changed"]) == ("applied", 6), name
        # One PATCH saved per persona, never a second one, 429s or not.
        assert item["calls"]["patches_saved"] == 6, name
        assert item["calls"]["personas_patched_twice"] == 0, name
        assert {"wall_s", "target_s"} <= set(item)
    assert change_sets["changeset_apply"]["calls"]["patches"] == 6
    plan = change_sets["personas_plan"]
    assert (plan["exit_status"], plan["files_changed"], plan["gets"]) == (2, 6, 6)
    assert {"changeset_apply.time", "personas_plan.time"} <= set(results["targets"])
    assert {"cores", "cpu_model", "python"} <= set(results["machine"])
    assert "Targets:" in completed.stdout
    # The withdrawn targets: live page p50 <= 1.10 x L, and p50 minus the API's.
    assert not any(name.endswith((".p50", ".added")) for name in results["targets"])
    assert set(bench_var.glob("*")) == before  # its database and logs are gone


def test_the_bench_client_reads_every_way_an_answer_can_end_and_keeps_cookies() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench.client import LeanClient

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            if self.path == "/chunked":
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Set-Cookie", "sessionid=new; Path=/; HttpOnly")
                self.end_headers()
                for part in (b"Hello, ", b"chunks"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            elif self.path == "/close":
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"to the end")
                self.close_connection = True
            else:
                body = self.headers.get("Cookie", "").encode()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = LeanClient(f"http://127.0.0.1:{server.server_address[1]}", {"sessionid": "old"})
        assert client.request("GET", "/chunked").text == "Hello, chunks"
        assert client.request("GET", "/close").text == "to the end"
        echoed = client.request("GET", "/cookies")  # on a new connection, with the new cookie
        assert (echoed.status_code, echoed.text) == (200, "sessionid=new")
    finally:
        server.shutdown()
        server.server_close()

"""A/B: this tree and another under gunicorn, on one database kept with `bench/run.py --keep-db`.

    .venv/bin/python bench/ab.py var/bench/kept-sqlite-NNN.json ../other-tree [--items ...]

The other tree is usually a `git worktree add ../other-tree <commit>` of the commit to compare
with, after `DEBUG=0 ... manage.py collectstatic` there (its static manifest). Starts the emulator
with latency L and the kept personas, gunicorn from each tree (production settings, as run.py),
logs both in, then sends blocks of requests to each in turn (back to back within a block, as
run.py does) and prints each side's p50 and min and the median difference of the sorted samples.

A shared machine's speed drifts by more between two runs than the changes worth measuring; taking
turns within one run cancels the drift. Items: persona_list, persona_detail, persona_edit,
persona_detail_small, persona_edit_small.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.client import LeanClient  # noqa: E402
from bench.replay import _free_port  # noqa: E402
from bench.run import _production_env, _wait_until, gunicorn_command  # noqa: E402


def _serve_emulator(info_path: str, port: int, latency_ms: int) -> None:
    """Child process: the emulator with the kept personas (same ids), with latency."""
    from bench import docs
    from personas_app.devtools.emulator import EmulatorState, _make_server

    info = json.loads(Path(info_path).read_text())
    state = EmulatorState(api_key=info["api_key"])
    state.put_persona({**info["large_doc"], "persona_id": info["large_id"]})
    state.put_persona({**docs.small_persona(), "persona_id": info["small_id"]})
    state.set_latency(latency_ms)
    server = _make_server("127.0.0.1", port, state)
    print("ready", flush=True)
    server.serve_forever()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-emulator":
        _serve_emulator(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kept", help="var/bench/kept-<db>-<pid>.json written by run.py --keep-db")
    parser.add_argument("other", help="the tree to compare with (A); this one is B")
    parser.add_argument("--items", default="persona_detail,persona_list")
    parser.add_argument("--n", type=int, default=300, help="timed requests per side and item")
    parser.add_argument("--block", type=int, default=10, help="requests in a row to one side")
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()

    info = json.loads(Path(args.kept).read_text())
    env = {**_production_env(info["env"]["DATABASE_URL"]), **info["env"], "LOG_LEVEL": "WARNING"}
    emu_port = _free_port()
    children: list[subprocess.Popen[bytes]] = []
    try:
        emulator = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-emulator",
                args.kept,
                str(emu_port),
                str(args.latency_ms),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
        )
        children.append(emulator)
        assert emulator.stdout is not None
        emulator.stdout.readline()
        _point_workspace_at(env, info["slug"], f"http://127.0.0.1:{emu_port}")
        clients = [
            _start(Path(args.other).resolve(), env, info, children),
            _start(ROOT, env, info, children),
        ]
        w = f"/w/{info['slug']}"
        paths = {
            "persona_list": f"{w}/",
            "persona_detail": f"{w}/personas/{info['large_id']}/",
            "persona_edit": f"{w}/personas/{info['large_id']}/edit/",
            "persona_detail_small": f"{w}/personas/{info['small_id']}/",
            "persona_edit_small": f"{w}/personas/{info['small_id']}/edit/",
        }
        print(f"A = {args.other}, B = this tree; L = {args.latency_ms} ms, blocks of {args.block}")
        for item in args.items.split(","):
            _compare(item, paths[item], clients, args.n, args.block)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)
        for log in (ROOT / "var" / "bench").glob(f"ab-gunicorn-{os.getpid()}-*.log"):
            log.unlink()
    return 0


def _point_workspace_at(env: dict[str, str], slug: str, url: str) -> None:
    code = (
        "import django; django.setup(); from personas_app.models import Workspace; "
        f"Workspace.objects.filter(slug={slug!r}).update(tavus_base_url={url!r})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def _start(
    tree: Path, env: dict[str, str], info: dict[str, str], children: list[subprocess.Popen[bytes]]
) -> LeanClient:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = ROOT / "var" / "bench" / f"ab-gunicorn-{os.getpid()}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    gun = subprocess.Popen(
        gunicorn_command(port),
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    children.append(gun)
    _wait_until(
        lambda: requests.get(base + "/accounts/login/", timeout=2).status_code == 200,
        what=f"gunicorn in {tree}",
        proc=gun,
        log=log,
    )
    session = requests.Session()
    session.get(base + "/accounts/login/", timeout=30)
    session.post(
        base + "/accounts/login/",
        data={
            "username": info["username"],
            "password": info["password"],
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=30,
    )
    return LeanClient(base, session.cookies.get_dict())


def _compare(item: str, path: str, clients: list[LeanClient], n: int, block: int) -> None:
    samples: tuple[list[float], list[float]] = ([], [])
    warm = 10
    for start in range(0, n + warm, block):
        order = (0, 1) if (start // block) % 2 == 0 else (1, 0)
        for side in order:
            for i in range(start, start + block):
                began = time.perf_counter()
                reply = clients[side].request("GET", path)
                _ = reply.text
                elapsed = (time.perf_counter() - began) * 1000
                if reply.status_code != 200:
                    raise SystemExit(f"{item}: HTTP {reply.status_code} from side {'AB'[side]}")
                if i >= warm:
                    samples[side].append(elapsed)
    a, b = samples
    diff = statistics.median(y - x for x, y in zip(sorted(a), sorted(b), strict=False))
    print(
        f"  {item:<22} A p50 {statistics.median(a):6.2f} min {min(a):6.2f} | "
        f"B p50 {statistics.median(b):6.2f} min {min(b):6.2f} | B - A {diff:+.2f} ms (n={len(a)})",
        flush=True,
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    sys.exit(main())

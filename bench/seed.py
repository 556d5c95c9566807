"""Seed a fresh, migrated database for the benchmark (import only after django.setup()).

The workspace, its admin and key, the personas on the emulator, a run of real versions of the large
persona and a change request go through the app's own services. The bulk of the audit log (1 000 000
records by default) is inserted directly, as fast as each database allows: one executemany in one
transaction on SQLite; COPY FROM STDIN on PostgreSQL (faster here than INSERT ... SELECT
generate_series). Bulk rows look like real ones (versions with snapshots, failed edits,
conversations, reviews), ids grow with time, and they are spread evenly over `personas` persona ids,
the large persona's among them. `persona_versions` more rows, spread among them, are versions of the
large persona holding its whole (~88 KB) document, each with another context, as its edits would.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction

from personas_app.models import AuditEvent, Workspace
from personas_app.persona.jsontypes import Op
from personas_app.persona.redaction import redact
from personas_app.services.personas import persona_apply_patch, persona_fetch
from personas_app.services.workspaces import api_key_add, workspace_create
from personas_app.tavus import TavusClient

from . import docs

ADMIN = "bench-admin"
PASSWORD = "bench-password-" + secrets.token_hex(8)
SLUG = "bench"
LARGE_VERSIONS = 30  # real versions of the large persona, newest in the log (history page)

_TABLE = AuditEvent._meta.db_table
_COLUMNS = (
    "workspace_id",
    "created_at",
    "request_id",
    "actor_id",
    "actor_name",
    "action",
    "outcome",
    "persona_id",
    "persona_name",
    "target",
    "http_status",
    "error_message",
    "payload",
    "before",
    "after",
    "note",
    "change_request_id",
)
_ACTORS = ("alice", "bob", "carol", "dave", "erin")
_ERROR = "Tavus refused the change: layers.llm.model must be a string"


@dataclass
class Seeded:
    """What the measuring side needs to know about the seeded data."""

    username: str
    password: str
    slug: str
    large_id: str
    small_id: str
    large_doc: dict[str, Any]
    persona_ids: list[str]
    change_request_id: int | None
    audit_rows: int
    persona_versions: int = 0
    timings: dict[str, float] = field(default_factory=dict)


# -- Bulk rows ---------------------------------------------------------------------------------
# kind = (n // personas) % 10 decides what a row is; n % personas decides its persona.
# 0-2 patched (a version), 3 changed outside (a version), 4 failed edit, 5/6 conversation,
# 7 review created, 8 approved, 9 commented.


def _templates() -> dict[str, str]:
    snap = docs.compact_persona("__PID__", 0)
    snap["system_prompt"] = "You help customers of Acme with their orders (revision __REV__)."
    ops = [{"op": "replace", "path": "/system_prompt", "value": snap["system_prompt"]}]
    dump = json.dumps
    return {
        "snap": dump(snap, separators=(",", ":")),
        "ops": dump(ops, separators=(",", ":")),
        "conv": dump({"conversation_id": "c__REV__", "test_mode": False}),
    }


def _version_template(doc: dict[str, Any]) -> str:
    """The large persona's document as a version snapshot, with __REV__ and __STAMP__ to fill."""
    snap = redact(doc)
    snap["context"] = "Customers call about orders and returns (version __REV__)."
    snap["updated_at"] = "__STAMP__"
    return json.dumps(snap, separators=(",", ":"))


def _bulk_rows_python(
    *,
    workspace_id: int,
    persona_ids: list[str],
    rows: int,
    start: datetime,
    step_us: int,
    versions: int = 0,
    version_of: dict[str, Any] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """`rows` bulk rows and `versions` versions of `version_of` spread evenly among them."""
    t = _templates()
    count = len(persona_ids)
    names = [f"Persona {pid}" for pid in persona_ids]
    version_snap = _version_template(version_of) if versions and version_of else ""
    version_id = str((version_of or {}).get("persona_id", ""))
    version_name = str((version_of or {}).get("persona_name", ""))
    total = rows + (versions if version_snap else 0)
    n = v = 0
    for slot in range(total):
        moment = start + timedelta(microseconds=slot * step_us)
        stamp = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        actor = _ACTORS[slot % len(_ACTORS)]
        if version_snap and (slot + 1) * versions // total > slot * versions // total:
            v += 1
            after = version_snap.replace("__REV__", str(v)).replace(
                "__STAMP__", moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            )
            context = f"Customers call about orders and returns (version {v})."
            ops = [{"op": "replace", "path": "/context", "value": context}]
            yield (
                workspace_id,
                stamp,
                f"{slot:032x}",
                None,
                actor,
                "persona.patched",
                "ok",
                version_id,
                version_name,
                "",
                200,
                "",
                json.dumps(ops),
                None,
                after,
                "",
                None,
            )
            continue
        p, version = n % count, n // count
        n += 1
        kind = version % 10
        pid, rev = persona_ids[p], str(version)
        payload = before = after = None
        action, outcome, status, error, note, target = "persona.patched", "ok", None, "", "", ""
        if kind <= 3:
            after = t["snap"].replace("__PID__", pid).replace("__REV__", rev)
            if kind == 3:
                action, actor = "persona.changed_outside", "system"
            else:
                payload, status = t["ops"].replace("__REV__", rev), 200
        elif kind == 4:
            outcome, status, error = "error", 400, _ERROR
            payload = t["ops"].replace("__REV__", rev)
            before = t["snap"].replace("__PID__", pid).replace("__REV__", str(version - 1))
        elif kind in (5, 6):
            action = "conversation.started" if kind == 5 else "conversation.ended"
            payload, target = t["conv"].replace("__REV__", rev), f"c{rev}"
        else:
            action = ("review.created", "review.approved", "review.commented")[kind - 7]
            note = "Please check the wording." if kind == 9 else ""
        yield (
            workspace_id,
            stamp,
            f"{slot:032x}",
            None,
            actor,
            action,
            outcome,
            pid,
            names[p],
            target,
            status,
            error,
            payload,
            before,
            after,
            note,
            None,
        )


def _insert_sqlite(**kwargs: Any) -> None:
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    marks = ", ".join("?" for _ in _COLUMNS)
    sql = f'INSERT INTO "{_TABLE}" ({columns}) VALUES ({marks})'
    connection.ensure_connection()
    raw = connection.connection
    # A 256 MB page cache keeps the five audit indexes in memory while they grow (this
    # connection only; the served database is not tuned).
    raw.execute("PRAGMA cache_size = -262144")
    with transaction.atomic():
        raw.executemany(sql, _bulk_rows_python(**kwargs))
    raw.execute("PRAGMA cache_size = -2000")


def _insert_postgres(**kwargs: Any) -> None:
    """Rows built in Python, streamed with COPY FROM STDIN (faster here than INSERT ... SELECT
    generate_series: 1 000 000 rows in 40.3 s against 43.4 s, both with the VACUUM ANALYZE)."""
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    connection.ensure_connection()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f'COPY "{_TABLE}" ({columns}) FROM STDIN') as copy,
    ):
        for row in _bulk_rows_python(**kwargs):
            copy.write_row(row)
    with connection.cursor() as cursor:
        # What autovacuum would do within a minute of such an insert: planner statistics and the
        # visibility map, so the numbers do not depend on when the daemon happens to run.
        cursor.execute(f'VACUUM ANALYZE "{_TABLE}"')


def audit_bulk_insert(
    *,
    workspace: Workspace,
    persona_ids: list[str],
    rows: int,
    versions: int = 0,
    version_of: dict[str, Any] | None = None,
) -> None:
    """`rows` audit records over the past year, oldest first, spread evenly over `persona_ids`,
    and `versions` versions of the persona `version_of` (its document) among them."""
    total = rows + (versions if version_of else 0)
    if total <= 0:
        return
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    step_us = max(1, int((now - start - timedelta(minutes=5)).total_seconds() * 1e6) // total)
    kwargs: dict[str, Any] = {
        "workspace_id": workspace.pk,
        "persona_ids": persona_ids,
        "rows": rows,
        "start": start,
        "step_us": step_us,
        "versions": versions,
        "version_of": version_of,
    }
    if connection.vendor == "postgresql":
        _insert_postgres(**kwargs)
    else:
        _insert_sqlite(**kwargs)


# -- Everything else, through the app's services -----------------------------------------------


def _large_versions(
    *, workspace: Workspace, persona_id: str, actor: Any, client: TavusClient, count: int
) -> dict[str, Any]:
    """`count` one-field edits of the large persona through persona_apply_patch (real versions)."""
    live = persona_fetch(workspace=workspace, persona_id=persona_id, client=client).persona
    for n in range(count):
        path = f"/layers/llm/tools/{n % 50}/function/description"
        value = f"Look up record kind {n % 50}; revised wording number {n + 1}."
        if n % 3 == 1:
            path, value = "/context", f"Customers call about orders and returns (revision {n + 1})."
        ops: list[Op] = [{"op": "replace", "path": path, "value": value}]
        live = persona_apply_patch(
            workspace=workspace,
            persona_id=persona_id,
            ops=ops,
            before=live,
            actor=actor,
            client=client,
        ).persona
    return live


def _change_request(
    *, workspace: Workspace, actor: Any, persona_id: str, live: dict[str, Any]
) -> int | None:
    try:
        from personas_app.services.reviews import change_request_create
    except ImportError:
        return None
    proposed = json.loads(json.dumps(live))
    proposed["context"] = "Customers call about orders, returns, repairs and product questions."
    change = change_request_create(
        workspace=workspace,
        actor=actor,
        kind="edit",
        title="Mention repairs in the context",
        description="Support now handles repairs too.",
        persona_id=persona_id,
        persona_name=str(live.get("persona_name", "")),
        base=redact(live),
        proposed=redact(proposed),
        submit=True,
    )
    return int(change.pk)


def seed_all(
    *, emulator_url: str, api_key: str, audit_rows: int, personas: int, persona_versions: int = 0
) -> Seeded:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    admin = User.objects.create_user(ADMIN, "bench@example.com", PASSWORD)
    workspace = workspace_create(
        name="Bench", slug=SLUG, base_url=emulator_url, created_by=admin, api_key=None
    )
    client = TavusClient(api_key, emulator_url, timeout=(3.05, 30))
    large_doc = docs.large_persona()
    large_id = str(client.create_persona(large_doc)["persona_id"])
    small_id = str(client.create_persona(docs.small_persona())["persona_id"])
    timings["setup_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    persona_ids = [large_id] + [f"pb{n:09x}" for n in range(1, max(1, personas))]
    audit_bulk_insert(
        workspace=workspace,
        persona_ids=persona_ids,
        rows=audit_rows,
        versions=persona_versions,
        version_of=client.get_persona(large_id) if persona_versions > 0 else None,
    )
    timings["audit_insert_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # After the bulk rows, so ids keep growing with time.
    api_key_add(workspace=workspace, label="bench", secret=api_key, actor=admin, activate=True)
    live = _large_versions(
        workspace=workspace, persona_id=large_id, actor=admin, client=client, count=LARGE_VERSIONS
    )
    cr_id = _change_request(workspace=workspace, actor=admin, persona_id=large_id, live=live)
    timings["versions_and_review_s"] = time.perf_counter() - t0
    return Seeded(
        username=ADMIN,
        password=PASSWORD,
        slug=SLUG,
        large_id=large_id,
        small_id=small_id,
        large_doc=live,
        persona_ids=persona_ids,
        change_request_id=cr_id,
        audit_rows=audit_rows,
        persona_versions=persona_versions,
        timings=timings,
    )


def deep_cursor(*, slug: str, persona_id: str, depth: float = 0.9) -> int:
    """An id `depth` of the way down one persona's records (newest first): a deep `before` cursor."""
    ids = list(
        AuditEvent.objects.filter(workspace__slug=slug, persona_id=persona_id)
        .order_by("-id")
        .values_list("id", flat=True)
    )
    return ids[min(len(ids) - 1, int(len(ids) * depth))] if ids else 1

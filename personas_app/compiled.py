"""Querysets compiled to SQL once, for the few queries every request makes.

Django turns a queryset into SQL again on every evaluation, which costs 0.2 to 0.5 ms of Python for
even the smallest query, far more than the database takes to answer it. Every page reads the
session, the user and the membership; a live page also reads the active key. Their shapes never
change, so `CompiledQuery` compiles each once per thread and database connection with sentinel
values in place of its arguments, and afterwards only substitutes the arguments and executes the
SQL, applying the same converters Django would (so SQLite's booleans and datetimes come back as
the ORM gives them).

When nothing observes queries (no debug cursor, as under DEBUG or assertNumQueries, and no
execute wrapper), the SQL goes to the driver's own cursor with the checks Django's cursor makes
(thread sharing, a broken transaction, the health check) and its error wrapping, without the
cursor wrapper's layers: a request's first queries come after the process sat idle waiting for
the network, when each layer of Python it goes through costs several times what it does in a
loop. Otherwise it goes through Django's cursor, so every query is seen as usual.

Only `values_list()` querysets over plain columns, whose arguments are plain strings or integers
that reach the SQL unchanged, can be compiled; anything else is refused when it is first built.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

_SENTINEL_INT = -2_147_000_001  # within every integer column's range (PostgreSQL's int4 too)
_SENTINEL_STR = "\x00compiled-argument-{}\x00"


class NotCompilable(Exception):
    """The queryset's arguments do not reach its SQL as plain parameters."""


class CompiledQuery:
    """`build(*args)` (a values_list queryset), compiled once per thread; `rows(*args)` runs it.

    `kinds` names each argument's type ("int" or "str"), which picks its sentinel.
    """

    def __init__(
        self, build: Callable[..., QuerySet[Any]], kinds: Sequence[str], using: str = "default"
    ) -> None:
        self.build, self.kinds, self.using = build, tuple(kinds), using
        self._local = threading.local()

    def _compile(self) -> _Compiled:
        connections[self.using].ensure_connection()  # some backends compile by server version
        sentinels = [
            _SENTINEL_INT - n if kind == "int" else _SENTINEL_STR.format(n)
            for n, kind in enumerate(self.kinds)
        ]
        compiler = self.build(*sentinels).query.get_compiler(using=self.using)
        sql, params = compiler.as_sql()
        slots = [sentinels.index(p) if p in sentinels else None for p in params]
        if {s for s in slots if s is not None} != set(range(len(sentinels))):
            raise NotCompilable(f"arguments do not reach the SQL as parameters: {sql}")
        converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
        vendor = connections[self.using].vendor
        # The driver's own placeholder style: Django's SQLite cursor turns %s into ? per query.
        lean_sql = {"sqlite": sql.replace("%s", "?"), "postgresql": sql}.get(vendor)
        if vendor == "sqlite" and "%" in sql.replace("%s", ""):
            lean_sql = None  # a literal % would need Django's own conversion
        return _Compiled(compiler, sql, list(params), slots, converters, vendor, lean_sql)

    def rows(self, *args: Any) -> list[tuple[Any, ...]]:
        """The rows `build(*args)` would give, as tuples."""
        # Per thread: the compiler and its converters belong to this thread's connection.
        compiled = getattr(self._local, "compiled", None)
        if compiled is None:
            compiled = self._local.compiled = self._compile()
        bound = [
            args[slot] if slot is not None else value
            for slot, value in zip(compiled.slots, compiled.params, strict=True)
        ]
        db = connections[self.using]
        if compiled.lean_sql is not None and not db.queries_logged and not db.execute_wrappers:
            rows = _lean_rows(db, compiled, bound)
        else:
            with db.cursor() as cursor:
                cursor.execute(compiled.sql, bound)
                rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [tuple(row) for row in rows]


class JoinedQuery(CompiledQuery):
    """Two compiled queries in one round trip: each row of `first` with the row of `then` (or
    NULLs when `then` has none), as `SELECT * FROM (first) LEFT JOIN (then) ON true`. Arguments
    are first's, then then's. Both must name their columns uniquely (values_list does)."""

    def __init__(self, first: CompiledQuery, then: CompiledQuery) -> None:
        super().__init__(lambda *args: first.build(*args), [*first.kinds, *then.kinds], first.using)
        self.first, self.then = first, then

    def _compile(self) -> _Compiled:
        a, b = self.first._compile(), self.then._compile()
        # Both are Django's own SQL, every argument a parameter (checked when each compiled).
        sql = f"SELECT * FROM ({a.sql}) AS first_rows LEFT JOIN ({b.sql}) AS then_rows ON 1 = 1"  # noqa: S608
        shift = len(self.first.kinds)
        slots = [*a.slots, *(s + shift if s is not None else None for s in b.slots)]
        width = a.compiler.col_count
        converters = {**a.converters, **{i + width: c for i, c in b.converters.items()}}
        lean_sql = None
        if a.lean_sql is not None and b.lean_sql is not None:
            lean_sql = sql.replace("%s", "?") if a.vendor == "sqlite" else sql
        return _Compiled(
            a.compiler, sql, [*a.params, *b.params], slots, converters, a.vendor, lean_sql
        )


def _lean_rows(db: Any, compiled: _Compiled, bound: list[Any]) -> list[Any]:
    """The rows, through the driver's cursor, with the checks of BaseDatabaseWrapper._cursor and
    CursorWrapper._execute."""
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    db.validate_no_broken_transaction()
    with db.wrap_database_errors:
        cursor = db.create_cursor()
        try:
            if compiled.vendor == "sqlite":
                # The driver's execute, not the wrapper's (which rewrites the SQL again).
                sqlite3.Cursor.execute(cursor, compiled.lean_sql, bound)
            else:
                cursor.execute(compiled.lean_sql, bound)
            return cursor.fetchall()
        finally:
            cursor.close()


@dataclass(frozen=True)
class _Compiled:
    compiler: SQLCompiler
    sql: str
    params: list[Any]
    slots: list[int | None]  # for each parameter, the argument it takes (None: a constant)
    converters: dict[int, Any]
    vendor: str
    lean_sql: str | None  # the SQL in the driver's placeholder style; None: Django's cursor only

"""Django's database sessions, read with a compiled query (personas_app.compiled).

Set as SESSION_ENGINE when sessions are not read through a shared cache. Writes, expiry and
clean-up are Django's own; only the read every request makes is cheaper: one compiled query, and
the signature of a stored text this process has already verified is not checked again.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from .compiled import CompiledQuery

COLUMNS = ("session_data", "expire_date")
read = _read = CompiledQuery(
    lambda key: Session.objects.filter(session_key=key).values_list(*COLUMNS), ["str"]
)


_JSON_SERIALIZER = "django.core.signing.JSONSerializer"


class _DoesNotVerify(Exception):
    """A stored text whose signature fails (not kept: it is reported each time it comes)."""


# Checking a session's signature and decoding it costs a quarter of a millisecond when the process
# has sat idle; the same stored text always decodes to the same data. Kept: stored text -> the
# data's JSON, so each request gets its own fresh dict.
@lru_cache(maxsize=512)
def _verified_json(stored: str) -> str:
    data = SessionStore().decode(stored)
    if not data:
        raise _DoesNotVerify
    return json.dumps(data)


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        rows = _read.rows(self.session_key) if self.session_key else []
        return self._from_row(rows[0] if rows else None)

    def use_row(self, row: tuple[Any, ...] | None) -> None:
        """Take this session's stored row (session_data, expire_date), read by the caller with
        `_read`'s columns in a query of its own (None: no such row), as if load() had read it."""
        self._session_cache = self._from_row(row)

    def _from_row(self, row: tuple[Any, ...] | None) -> dict[str, Any]:
        if row is None or row[0] is None or row[1] <= timezone.now():
            # As Django's: an unknown or expired session starts a new one under a new key.
            self._session_key = None
            return {}
        return self._decode_kept(row[0])

    def _decode_kept(self, stored: str) -> dict[str, Any]:
        if settings.SESSION_SERIALIZER != _JSON_SERIALIZER:
            return self.decode(stored)
        try:
            data: dict[str, Any] = json.loads(_verified_json(stored))
        except _DoesNotVerify:
            return {}
        return data

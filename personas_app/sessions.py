"""Django's database sessions, read with a compiled query (personas_app.compiled).

Set as SESSION_ENGINE when sessions are not read through a shared cache. Writes, expiry and
clean-up are Django's own; only the read every request makes is cheaper.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from .compiled import CompiledQuery

_read = CompiledQuery(
    lambda key: Session.objects.filter(session_key=key).values_list("session_data", "expire_date"),
    ["str"],
)


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        rows = _read.rows(self.session_key) if self.session_key else []
        if not rows or rows[0][1] <= timezone.now():
            # As Django's: an unknown or expired session starts a new one under a new key.
            self._session_key = None
            return {}
        return self.decode(rows[0][0])

"""Django's ModelBackend, with the user every request loads read by a compiled query.

Authentication, permissions and the active check are Django's; only get_user (the session's user,
loaded on every request) skips compiling the same SQL again (personas_app.compiled).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.core.exceptions import ValidationError

from .compiled import CompiledQuery

UserModel = get_user_model()
FIELDS = _FIELDS = [f.attname for f in UserModel._meta.concrete_fields]
_read = CompiledQuery(
    lambda pk: UserModel._default_manager.filter(pk=pk).values_list(*_FIELDS), ["int"]
)


_given = threading.local()


@contextmanager
def users_read_as(user: Any) -> Iterator[None]:
    """While inside, get_user(user.pk) answers with `user`, a row the caller has just read from
    the database with the same columns (WorkspaceAccessMiddleware reads it with the membership),
    instead of reading it again. Django's checks of the session's user are unchanged."""
    _given.user = user
    try:
        yield
    finally:
        _given.user = None


# Django checks a session against HMAC(SECRET_KEY, the user's password hash) on every request;
# the same password hash always gives the same value. Kept per password hash, so a changed
# password is a new entry; the value is Django's own, computed on a user with that hash.
@lru_cache(maxsize=1024)
def _session_hash_for(password: str) -> str:
    value: str = UserModel(password=password).get_session_auth_hash()
    return value


def _kept_session_hash(user: Any) -> str:
    return _session_hash_for(user.password)


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id: Any) -> Any:
        try:
            pk = UserModel._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = getattr(_given, "user", None)
        if user is None or user.pk != pk:
            rows = _read.rows(pk)
            if not rows:
                return None
            user = UserModel.from_db(_read.using, _FIELDS, rows[0])
        if not self.user_can_authenticate(user):
            return None
        # Read when Django checks the session, from the password the user has at that moment.
        user.get_session_auth_hash = partial(_kept_session_hash, user)
        return user

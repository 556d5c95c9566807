"""Talking to Tavus: the HTTP client and its errors. Imports nothing from Django.

The emulator lives in personas_app.devtools.emulator and is imported explicitly where needed,
so production code never loads it.
"""

from __future__ import annotations

from .client import TavusClient
from .errors import (
    TavusAnswerLost,
    TavusAuthError,
    TavusBadRequest,
    TavusConcurrencyLimit,
    TavusError,
    TavusNotFound,
    TavusRateLimited,
    TavusUnavailable,
)

__all__ = [
    "TavusAnswerLost",
    "TavusAuthError",
    "TavusBadRequest",
    "TavusClient",
    "TavusConcurrencyLimit",
    "TavusError",
    "TavusNotFound",
    "TavusRateLimited",
    "TavusUnavailable",
]

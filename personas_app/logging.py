"""A logging filter that scrubs known secrets from every record before any handler writes it.

Secrets registered with remember_secret() (API keys as they are decrypted or typed) are replaced by
"[secret]" wherever they appear in the message or its arguments. Pure Python; no Django imports.
"""

from __future__ import annotations

import logging
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
_MIN_LENGTH = 6  # shorter strings would scrub ordinary words


def remember_secret(value: str | None) -> None:
    """Register a secret so that no log line can carry it."""
    if value and len(value) >= _MIN_LENGTH:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[secret]")
    return text


class ScrubSecretsFilter(logging.Filter):
    """Replace every remembered secret in a record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Format the traceback now so the scrubbed text is what handlers print.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True

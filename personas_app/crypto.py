"""Encryption at rest for secrets (Tavus API keys, persona secrets held in change requests).

seal() encrypts with the first key of FIELD_ENCRYPTION_KEYS; unseal() accepts a token made by any of
them, so keys can be rotated without downtime (see the rotate_encryption command).
Imports Django settings only; no models.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def seal(plaintext: str) -> str:
    """Encrypt text with the first configured key; returns a URL-safe token."""
    return _current().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    """Decrypt a token made with any configured key."""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret could not be decrypted: is its key still in FIELD_ENCRYPTION_KEYS?"
        ) from exc


def reseal(token: str) -> str:
    """Re-encrypt a token with the first key (used by rotate_encryption)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("A stored secret could not be decrypted for re-encryption.") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()


def seal_bytes(data: bytes) -> str:
    """Encrypt bytes with the first configured key (for editor state carried in forms)."""
    return _current().encrypt(data).decode()


def unseal_bytes(token: str) -> bytes:
    try:
        return _current().decrypt(token.encode())
    except InvalidToken as exc:
        raise DecryptionError("The editor state could not be read.") from exc

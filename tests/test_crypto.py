"""Encryption at rest: seal/unseal round trip, and rotating FIELD_ENCRYPTION_KEYS with two keys."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from personas_app.crypto import DecryptionError, generate_key, reseal, seal, unseal
from personas_app.models import ChangeKind, ChangeRequest
from personas_app.services.workspaces import api_key_add, api_key_revoke, api_key_rotate_encryption
from tests.builders import make_workspace

SECRET = "tvs-secret-key-abcdef-1234"


def test_seal_and_unseal_round_trip() -> None:
    assert unseal(seal(SECRET)) == SECRET


def test_sealed_text_does_not_contain_the_plaintext_and_differs_each_time() -> None:
    first, second = seal(SECRET), seal(SECRET)
    assert SECRET not in first
    assert first != second


def test_unseal_with_a_key_that_is_not_configured_fails_plainly(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [generate_key()]
    token = seal(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [generate_key()]

    with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
        unseal(token)


def test_any_configured_key_decrypts_and_the_first_encrypts(settings: Any) -> None:
    old, new = generate_key(), generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token_old = seal(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    token_new = seal(SECRET)

    assert unseal(token_old) == unseal(token_new) == SECRET
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert unseal(token_new) == SECRET
    with pytest.raises(DecryptionError):
        unseal(token_old)


def test_reseal_moves_a_token_to_the_first_key(settings: Any) -> None:
    old, new = generate_key(), generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = seal(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]

    moved = reseal(token)

    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert unseal(moved) == SECRET


def test_rotate_encryption_command_re_encrypts_keys_and_change_request_secrets(
    settings: Any, alice: Any
) -> None:
    old, new = generate_key(), generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    workspace = make_workspace(owner=alice, base_url="", api_key=SECRET)
    revoked = api_key_add(workspace=workspace, label="old", secret="tvs-old-key-9999", actor=alice)
    api_key_revoke(workspace=workspace, key=revoked, actor=alice)
    persona_secrets = json.dumps({"/layers/llm/api_key": "sk-llm-secret-5678"})
    change = ChangeRequest.objects.create(
        workspace=workspace, kind=ChangeKind.EDIT, title="t", secrets_sealed=seal(persona_secrets)
    )
    ChangeRequest.objects.create(workspace=workspace, kind=ChangeKind.EDIT, title="no secrets")
    key = workspace.api_keys.get(is_active=True)
    before = (key.secret_sealed, change.secrets_sealed)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_encryption", stdout=out)

    assert out.getvalue().strip() == "Re-encrypted 2 stored secrets with the first key."
    key.refresh_from_db()
    change.refresh_from_db()
    assert (key.secret_sealed, change.secrets_sealed) != before
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert unseal(key.secret_sealed) == SECRET
    assert json.loads(unseal(change.secrets_sealed)) == {
        "/layers/llm/api_key": "sk-llm-secret-5678"
    }
    assert SECRET not in out.getvalue()


def test_rotate_encryption_counts_what_it_re_encrypted(settings: Any, alice: Any) -> None:
    make_workspace(owner=alice, base_url="", api_key=SECRET)
    assert api_key_rotate_encryption() == 1


def test_rotate_encryption_without_the_old_key_fails_with_a_clear_message(
    settings: Any, alice: Any
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [generate_key()]
    workspace = make_workspace(owner=alice, base_url="", api_key=SECRET)
    sealed = workspace.api_keys.get().secret_sealed
    settings.FIELD_ENCRYPTION_KEYS = [generate_key()]

    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_encryption", stdout=io.StringIO())

    assert workspace.api_keys.get().secret_sealed == sealed  # nothing half-done

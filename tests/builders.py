"""Test data builders with keyword overrides. alice owns, bob is a member, charlie is an outsider."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from personas_app.models import Membership, Role, Workspace
from personas_app.services.workspaces import workspace_create

SEEDS = Path(__file__).parent / "data" / "seeds"
PASSWORD = "correct-horse-battery"


def seed(name: str) -> dict[str, Any]:
    """A request body from the Tavus docs (tests/data/seeds/NAME.json)."""
    return json.loads((SEEDS / f"{name}.json").read_text())


def make_user(username: str, **extra: Any) -> AbstractBaseUser:
    User = get_user_model()
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD, **extra)


def make_workspace(
    *,
    owner: AbstractBaseUser,
    base_url: str,
    api_key: str | None,
    name: str = "Acme",
    slug: str = "acme",
) -> Workspace:
    return workspace_create(
        name=name, slug=slug, base_url=base_url, created_by=owner, api_key=api_key
    )


def make_member(
    workspace: Workspace, user: AbstractBaseUser, role: str = Role.EDITOR
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership


def persona_doc(**overrides: Any) -> dict[str, Any]:
    """A small valid persona document for the full pipeline."""
    doc: dict[str, Any] = {
        "persona_name": "Support Agent",
        "system_prompt": "You help customers of Acme with their orders.",
        "pipeline_mode": "full",
        "context": "Acme sells garden tools.",
        "default_replica_id": "r90bbd427f71",
        "layers": {
            "llm": {"model": "tavus-gpt-oss"},
            "stt": {"stt_engine": "tavus-auto", "hotwords": "Acme, trowel"},
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "medium",
                "replica_interruptibility": "medium",
            },
        },
    }
    doc.update(copy.deepcopy(overrides))
    return doc


# -- Promotion between workspaces: one persona as staging and production each hold it -----------

STAGING_LLM_KEY = "sk-staging-llm-do-not-copy-1111"
STAGING_TTS_KEY = "el-staging-tts-do-not-copy-2222"
PROD_LLM_KEY = "sk-prod-llm-keep-me-3333"
PROD_TTS_KEY = "el-prod-tts-keep-me-4444"


def staging_doc(**overrides: Any) -> dict[str, Any]:
    """The staging persona: newer prompt, a custom LLM and an ElevenLabs voice, each with a key."""
    doc = persona_doc(
        persona_name="Support Agent",
        system_prompt="You help customers of Acme with orders and returns.",
        default_replica_id="r90bbd427f71",
        document_ids=["d1234567890", "d2468101214"],
    )
    doc["layers"]["llm"] = {
        "model": "acme-llm",
        "base_url": "https://llm.example.com/v1",
        "api_key": STAGING_LLM_KEY,
    }
    doc["layers"]["tts"] = {
        "tts_engine": "elevenlabs",
        "external_voice_id": "voice-new",
        "api_key": STAGING_TTS_KEY,
    }
    doc.update(copy.deepcopy(overrides))
    return doc


def production_doc(**overrides: Any) -> dict[str, Any]:
    """The production persona: the older prompt and voice, and its own keys."""
    doc = persona_doc(
        persona_name="Support Agent",
        default_replica_id="r79e1c033f",
        document_ids=["d9876543210"],
    )
    doc["layers"]["llm"] = {
        "model": "acme-llm",
        "base_url": "https://llm.example.com/v1",
        "api_key": PROD_LLM_KEY,
    }
    doc["layers"]["tts"] = {
        "tts_engine": "elevenlabs",
        "external_voice_id": "voice-old",
        "api_key": PROD_TTS_KEY,
    }
    doc.update(copy.deepcopy(overrides))
    return doc

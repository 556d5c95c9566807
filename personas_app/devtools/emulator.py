"""A stateful stand-in for the Tavus v2 API, served over real HTTP for tests, demos and benches.

It copies the documented status codes and bodies (shared/tavus/api-notes.md §1-3 and the
README's decisions): 400 bodies use "error", 401/422 use "message", an unknown id is 400, a
no-op PATCH is 304 with no body, DELETE is 204. Knobs inject latency, failures, hangs and a
seeded share of 429s; a request log lets tests assert on what the dashboard sent. An emulator in
another process (the bench's) is read and set over /__emulator/{stats,log,knobs}.

A plain WSGI app served by a threading wsgiref server. It must not import django, Flask, or
anything from personas_app outside tavus/: its checks are written independently of the
dashboard's schema on purpose, so the two can disagree and tests will notice.

    python -m personas_app.devtools.emulator --port 8765 --api-key demo-key [--latency-ms N]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hmac
import json
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Literal
from urllib.parse import parse_qs
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import jsonpatch
import jsonpointer

from ..tavus._types import JSON, JSONObject

DEFAULT_API_KEY = "demo-key"
MASK = "****"
_LOG_LIMIT = 100_000

# -- Seed data ----------------------------------------------------------------------------------
# Every replica id used by the seed request bodies (r79e1c033f, r90bbd427f71, rf4e9d9790f0) is a
# completed stock replica, so every documented create example is accepted as is.


def _replica(
    replica_id: str,
    name: str,
    *,
    replica_type: str,
    status: str = "completed",
    progress: str = "100/100",
    created_at: str,
) -> JSONObject:
    return {
        "replica_id": replica_id,
        "replica_name": name,
        "thumbnail_video_url": f"https://cdn.example.com/replicas/{replica_id}/thumbnail.mp4",
        "training_progress": progress,
        "status": status,
        "created_at": created_at,
        "replica_type": replica_type,
    }


def _seed_replicas() -> list[JSONObject]:
    return [
        _replica(
            "r79e1c033f",
            "Carter - Office",
            replica_type="system",
            created_at="2024-09-12T17:01:22.514102Z",
        ),
        _replica(
            "r90bbd427f71",
            "Anna - Studio",
            replica_type="system",
            created_at="2025-01-20T09:44:10.031276Z",
        ),
        _replica(
            "rf4e9d9790f0",
            "Julia - Library",
            replica_type="system",
            created_at="2025-02-03T14:12:55.781930Z",
        ),
        _replica(
            "rb17cf590e15",
            "Nathan - Lounge",
            replica_type="system",
            created_at="2025-03-18T11:30:04.262511Z",
        ),
        _replica(
            "r3a9f52c8d1e",
            "Sales lead (recorded)",
            replica_type="user",
            created_at="2025-04-02T08:15:37.900114Z",
        ),
        _replica(
            "r6d2e8b47a90",
            "Support lead (training)",
            replica_type="user",
            status="started",
            progress="42/100",
            created_at="2025-05-10T16:02:48.114850Z",
        ),
        _replica(
            "r0c5b1f7e6a3",
            "Founder intro (failed)",
            replica_type="user",
            status="error",
            progress="0/100",
            created_at="2025-05-11T10:27:19.603377Z",
        ),
    ]


def _document(
    document_id: str,
    name: str,
    url: str,
    tags: list[JSON],
    *,
    created_at: str,
    status: str = "ready",
    progress: int | None = None,
    crawl: bool = False,
) -> JSONObject:
    return {
        "document_id": document_id,
        "document_name": name,
        "document_url": url,
        "status": status,
        "progress": progress,
        "created_at": created_at,
        "updated_at": created_at,
        "callback_url": "",
        "tags": tags,
        "crawl_config": {"depth": 2, "max_pages": 25} if crawl else None,
        "crawled_urls": [url, url.rstrip("/") + "/faq"] if crawl else [],
        "last_crawled_at": created_at if crawl else None,
        "crawl_count": 1 if crawl else 0,
    }


def _seed_documents() -> list[JSONObject]:
    return [
        _document(
            "d1234567890",
            "Product catalogue 2025",
            "https://example.com/files/catalogue-2025.pdf",
            ["product_info"],
            created_at="2025-02-10T12:00:01.000000Z",
        ),
        _document(
            "d2468101214",
            "Employee handbook",
            "https://example.com/files/handbook.pdf",
            ["company_policies"],
            created_at="2025-02-11T12:00:02.000000Z",
        ),
        _document(
            "d8-5c71baca86fc",
            "Help centre",
            "https://help.example.com/",
            ["product_info", "support"],
            created_at="2025-03-01T09:30:00.000000Z",
            crawl=True,
        ),
        _document(
            "d3579111315",
            "Pricing FAQ",
            "https://example.com/files/pricing-faq.docx",
            ["product_info", "sales"],
            created_at="2025-04-15T15:45:00.000000Z",
            status="processing",
            progress=40,
        ),
        _document(
            "d9876543210",
            "Returns policy (bad upload)",
            "https://example.com/files/returns.txt",
            ["company_policies"],
            created_at="2025-04-20T10:10:10.000000Z",
            status="error",
        ),
    ]


def _objective(
    objectives_id: str,
    name: str,
    prompt: str,
    *,
    output_variables: list[JSON],
    next_required: str = "",
    created_at: str,
) -> JSONObject:
    # The item shape of the documented GET /v2/objectives answer.
    return {
        "objectives_id": objectives_id,
        "objective_name": name,
        "objective_prompt": prompt,
        "confirmation_mode": "auto",
        "output_variables": output_variables,
        "modality": "verbal",
        "next_conditional_objectives": {},
        "next_required_objective": next_required,
        "callback_url": "",
        "created_at": created_at,
        "updated_at": created_at,
    }


def _seed_objectives() -> list[JSONObject]:
    return [
        _objective(
            "o5e1d9c7a2b4",
            "collect_contact_details",
            "Ask for the participant's name and email address.",
            output_variables=["name", "email"],
            next_required="qualify_lead",
            created_at="2025-03-04T10:00:00.000000Z",
        ),
        _objective(
            "o8b3f6a0d1c9",
            "qualify_lead",
            "Find out the participant's team size and budget.",
            output_variables=["team_size", "budget"],
            created_at="2025-03-05T11:30:00.000000Z",
        ),
        _objective(
            "o2c7e4b9f0a6",
            "ask_if_new_patient",
            "Ask the patient if they are new or have been here before.",
            output_variables=["patient_status"],
            created_at="2025-04-01T08:45:00.000000Z",
        ),
    ]


def _guardrail(
    uuid: str,
    name: str,
    prompt: str,
    tags: list[JSON],
    *,
    modality: str = "verbal",
    created_at: str,
) -> JSONObject:
    # An individual guardrail as the documented GET /v2/guardrails?legacy=false lists it: its id
    # is "uuid".
    return {
        "uuid": uuid,
        "guardrail_name": name,
        "guardrail_prompt": prompt,
        "modality": modality,
        "callback_url": "",
        "tags": tags,
        "app_message": True,
        "created_at": created_at,
        "updated_at": created_at,
    }


def _seed_guardrails() -> list[JSONObject]:
    return [
        _guardrail(
            "g1f4a8c2e9b0",
            "no_medical_advice",
            "Never give medical advice outside approved guidelines.",
            ["compliance", "healthcare"],
            created_at="2025-03-10T09:00:00.000000Z",
        ),
        _guardrail(
            "g7d2b5e1a0c3",
            "no_competitors",
            "Only mention our own products; never discuss competitors.",
            ["sales"],
            created_at="2025-03-11T09:00:00.000000Z",
        ),
        _guardrail(
            "g3e9c6f2b8d1",
            "check_if_alone",
            "Confirm throughout the call that the participant is alone.",
            ["compliance"],
            modality="visual",
            created_at="2025-03-12T09:00:00.000000Z",
        ),
        _guardrail(
            "g0a5d7b3c9e6",
            "no_pricing_promises",
            "Never promise a price or a discount.",
            ["sales", "compliance"],
            created_at="2025-03-13T09:00:00.000000Z",
        ),
    ]


def _seed_guardrail_sets() -> list[JSONObject]:
    # Inferred: the docs show a set's create answer (guardrails_id, guardrails_name, status,
    # created_at) and its create body (name + data items); a listed set is shown as both.
    return [
        {
            "guardrails_id": "g12345",
            "guardrails_name": "Healthcare Compliance Guardrails",
            "status": "active",
            "data": [
                {
                    "guardrail_name": "no_medical_advice",
                    "guardrail_prompt": "Never provide medical advice outside approved guidelines.",
                    "modality": "verbal",
                    "callback_url": "",
                }
            ],
            "created_at": "2024-01-15T10:30:00.000000Z",
            "updated_at": "2024-01-15T10:30:00.000000Z",
        }
    ]


def _seed_personas() -> list[JSONObject]:
    return [
        {
            "persona_id": "p2f8a1c9e0d3",
            "persona_name": "Tavus Interviewer",
            "system_prompt": (
                "You are a friendly, structured interviewer. Ask one question at a time, "
                "follow up on vague answers and keep a neutral tone."
            ),
            "pipeline_mode": "full",
            "context": "You are screening candidates for a first-round interview.",
            "default_replica_id": "r90bbd427f71",
            "document_ids": [],
            "document_tags": [],
            "layers": {
                "llm": {"model": "tavus-gpt-oss", "speculative_inference": True},
                "tts": {
                    "tts_engine": "cartesia",
                    "tts_model_name": "sonic-3",
                    "tts_emotion_control": True,
                },
                "stt": {"stt_engine": "tavus-auto"},
                "perception": {
                    "perception_model": "raven-1",
                    "visual_awareness_queries": ["Is the candidate looking at the camera?"],
                },
                "conversational_flow": {
                    "turn_detection_model": "sparrow-1",
                    "turn_taking_patience": "high",
                    "replica_interruptibility": "medium",
                },
            },
            "persona_type": "system",
            "created_at": "2025-01-21T10:00:00.000000Z",
            "updated_at": "2025-01-21T10:00:00.000000Z",
        },
        {
            "persona_id": "p7b3e6d2a4f1",
            "persona_name": "Tavus Tutor",
            "system_prompt": (
                "You are a patient tutor. Explain ideas step by step, check understanding "
                "often and praise progress."
            ),
            "pipeline_mode": "full",
            "context": "Students are high-school learners revising for exams.",
            "default_replica_id": "rf4e9d9790f0",
            "layers": {
                "llm": {
                    "model": "tavus-gemini-2.5-flash",
                    "extra_body": {"temperature": 0.5, "top_p": 0.9},
                },
                "tts": {
                    "tts_engine": "elevenlabs",
                    "external_voice_id": "21m00Tcm4TlvDq8ikWAM",
                    "tts_model_name": "eleven_multilingual_v2",
                    "voice_settings": {"speed": 0.95, "stability": 0.6, "similarity_boost": 0.8},
                },
                "stt": {"stt_engine": "tavus-auto", "hotwords": "algebra, photosynthesis"},
                "perception": {
                    "perception_model": "raven-1",
                    "audio_awareness_queries": ["Does the student sound confused?"],
                },
                "conversational_flow": {
                    "turn_detection_model": "sparrow-1",
                    "turn_taking_patience": "high",
                    "replica_interruptibility": "high",
                },
            },
            "persona_type": "system",
            "created_at": "2025-02-04T10:00:00.000000Z",
            "updated_at": "2025-02-04T10:00:00.000000Z",
        },
        {
            "persona_id": "p5c0d9b8e7a2",
            "persona_name": "Sales Coach",
            "system_prompt": (
                "You role-play a sceptical buyer so sales reps can practise handling "
                "objections. Stay in character and log each objection you raise."
            ),
            "pipeline_mode": "full",
            "context": "The product is a B2B analytics platform sold per seat.",
            "default_replica_id": "r79e1c033f",
            "document_tags": ["product_info"],
            "layers": {
                "llm": {
                    "model": "tavus-gpt-oss",
                    "tools": [
                        {
                            "type": "function",
                            "function": {
                                "name": "log_objection",
                                "description": "Record an objection raised during the call",
                                "parameters": {
                                    "type": "object",
                                    "properties": {"objection": {"type": "string"}},
                                    "required": ["objection"],
                                },
                            },
                        }
                    ],
                },
                "tts": {"tts_engine": "cartesia", "tts_model_name": "sonic-3"},
                "perception": {"perception_model": "off"},
                "conversational_flow": {
                    "turn_detection_model": "sparrow-1",
                    "turn_taking_patience": "low",
                    "replica_interruptibility": "low",
                },
            },
            "persona_type": "system",
            "created_at": "2025-03-19T10:00:00.000000Z",
            "updated_at": "2025-03-19T10:00:00.000000Z",
        },
    ]


# -- Persona checks (independent of the dashboard's schema on purpose) --------------------------

Check = Callable[[JSON, str], str | None]


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(value: JSON, where: str) -> str | None:
    return None if isinstance(value, str) else f"{where} must be a string"


def _boolean(value: JSON, where: str) -> str | None:
    return None if isinstance(value, bool) else f"{where} must be true or false"


def _number(value: JSON, where: str) -> str | None:
    return None if _is_number(value) else f"{where} must be a number"


def _object(value: JSON, where: str) -> str | None:
    return None if isinstance(value, dict) else f"{where} must be an object"


def _string_list(value: JSON, where: str) -> str | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return None
    return f"{where} must be a list of strings"


def _string_map(value: JSON, where: str) -> str | None:
    if isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
        return None
    return f"{where} must be an object whose values are strings"


def _enum(*allowed: str) -> Check:
    def check(value: JSON, where: str) -> str | None:
        if isinstance(value, str) and value in allowed:
            return None
        return f"{where} must be one of: {', '.join(allowed)}"

    return check


def _bool_or_bool_text(value: JSON, where: str) -> str | None:
    # The docs' own examples send "false"/"true" as strings (api-notes §4 row 3); stored as given.
    if isinstance(value, bool) or (isinstance(value, str) and value.lower() in {"true", "false"}):
        return None
    return f"{where} must be true or false"


def _number_or_string(value: JSON, where: str) -> str | None:
    if _is_number(value) or isinstance(value, str):
        return None
    return f"{where} must be a number or a string"


_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def _tools(*, snake_case: bool) -> Check:
    def check(value: JSON, where: str) -> str | None:
        if not isinstance(value, list):
            return f"{where} must be a list of tools"
        for index, tool in enumerate(value):
            at = f"{where}[{index}]"
            if not isinstance(tool, dict):
                return f'{at} must be an object like {{"type": "function", "function": {{...}}}}'
            if tool.get("type") != "function":
                return f'{at}.type must be "function"'
            function = tool.get("function")
            if not isinstance(function, dict):
                return f"{at}.function must be an object"
            name = function.get("name")
            if not isinstance(name, str) or not name:
                return f"{at}.function.name is required"
            if snake_case and not _SNAKE_CASE.match(name):
                return f'{at}.function.name must be snake_case, got "{name}"'
            if "description" in function and not isinstance(function["description"], str):
                return f"{at}.function.description must be a string"
            if "parameters" in function and not isinstance(function["parameters"], dict):
                return f"{at}.function.parameters must be an object"
        return None

    return check


def _check_fields(doc: JSONObject, checks: dict[str, Check], where: str) -> str | None:
    for key, check in checks.items():
        value = doc.get(key)
        # Inferred: null means "not set"; Tavus itself returns nulls for unset fields.
        if value is None:
            continue
        problem = check(value, f"{where}.{key}" if where else key)
        if problem:
            return problem
    return None


def _voice_settings(value: JSON, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} must be an object"
    checks: dict[str, Check] = {
        "speed": _number_or_string,
        "emotion": _string_list,
        "stability": _number,
        "similarity_boost": _number,
        "style": _number,
        "use_speaker_boost": _boolean,
    }
    return _check_fields(value, checks, where)


_LEVEL = _enum("low", "medium", "high")

_TOP_LEVEL: dict[str, Check] = {
    "persona_name": _string,
    "system_prompt": _string,
    "pipeline_mode": _enum("full", "echo"),
    "context": _string,
    "default_replica_id": _string,
    "document_ids": _string_list,
    "document_tags": _string_list,
    "objectives_id": _string,
    "guardrails_id": _string,
    "guardrail_ids": _string_list,
    "guardrail_tags": _string_list,
    "layers": _object,
}

# Current and legacy names side by side (api-notes §2.2-2.7); unknown keys pass through.
_LAYERS: dict[str, dict[str, Check]] = {
    "llm": {
        "model": _string,
        "base_url": _string,
        "api_key": _string,
        "speculative_inference": _boolean,
        "tools": _tools(snake_case=False),
        "headers": _string_map,
        "extra_body": _object,
        "default_query": _object,
    },
    "tts": {
        "tts_engine": _enum("cartesia", "elevenlabs", "azure", "playht"),
        "api_key": _string,
        "external_voice_id": _string,
        "tts_model_name": _string,
        "tts_emotion_control": _bool_or_bool_text,
        "voice_settings": _voice_settings,
        "playht_user_id": _string,
    },
    "stt": {
        "stt_engine": _enum(
            "tavus-auto",
            "tavus-parakeet",
            "tavus-soniox",
            "tavus-whisper",
            "tavus-deepgram-medical",
            "tavus-advanced",
            "tavus-turbo",
        ),
        "hotwords": _string,
        "participant_pause_sensitivity": _LEVEL,
        "participant_interrupt_sensitivity": _LEVEL,
        "smart_turn_detection": _boolean,
    },
    "conversational_flow": {
        "turn_detection_model": _enum("sparrow-1", "sparrow-0", "time-based", "timebased"),
        "turn_taking_patience": _LEVEL,
        "replica_interruptibility": _LEVEL,
        "turn_commitment": _LEVEL,
        "active_listening": _enum("off", "low", "medium", "high"),
    },
    "perception": {
        "perception_model": _enum("raven-1", "raven-0", "basic", "off"),
        "visual_awareness_queries": _string_list,
        "visual_tool_prompt": _string,
        "visual_tools": _tools(snake_case=True),
        "audio_awareness_queries": _string_list,
        "audio_tool_prompt": _string,
        "audio_tools": _tools(snake_case=True),
        "perception_analysis_queries": _string_list,
        "ambient_awareness_queries": _string_list,
        "perception_tool_prompt": _string,
        "perception_tools": _tools(snake_case=True),
    },
    "transport": {"transport_type": _string},
    "vqa": {},
}

SERVER_FIELDS = ("persona_id", "persona_type", "created_at", "updated_at")


def validate_persona(doc: JSON, replica_ids: Iterable[str]) -> str | None:
    """Return the first problem Tavus would report for this persona body, or None if valid."""
    if not isinstance(doc, dict):
        return "Invalid request body: expected a JSON object"
    problem = _check_fields(doc, _TOP_LEVEL, "")
    if problem:
        return problem
    layers = doc.get("layers")
    if isinstance(layers, dict):
        for name, checks in _LAYERS.items():
            layer = layers.get(name)
            if layer is None:
                continue
            if not isinstance(layer, dict):
                return f"layers.{name} must be an object"
            problem = _check_fields(layer, checks, f"layers.{name}")
            if problem:
                return problem
    mode = doc.get("pipeline_mode") or "full"
    prompt = doc.get("system_prompt")
    if mode == "full" and not (isinstance(prompt, str) and prompt.strip()):
        return "system_prompt is required when pipeline_mode is full"
    replica = doc.get("default_replica_id")
    if replica is not None and replica not in set(replica_ids):
        return "Invalid replica_uuid"
    return None


def masked(persona: JSONObject) -> JSONObject:
    """A copy with the LLM/TTS keys and every LLM header value replaced by "****"."""
    result = copy.deepcopy(persona)
    layers = result.get("layers")
    if not isinstance(layers, dict):
        return result
    llm, tts = layers.get("llm"), layers.get("tts")
    if isinstance(llm, dict):
        if llm.get("api_key") is not None:
            llm["api_key"] = MASK
        headers = llm.get("headers")
        if isinstance(headers, dict):
            llm["headers"] = {name: MASK for name in headers}
    if isinstance(tts, dict) and tts.get("api_key") is not None:
        tts["api_key"] = MASK
    return result


def _canonical(doc: JSON) -> str:
    # Key order is irrelevant, but 1 vs 1.0 vs true are different values to Tavus.
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


# -- State --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator saw it: `headers` by lower-case name, the API key's value
    masked; `target` is the request line's path and query as sent (still percent-encoded)."""

    method: str
    path: str
    query: dict[str, str]
    body: JSON
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    target: str = ""


@dataclass
class _Failure:
    remaining: int
    status: int
    retry_after: float | None
    body: JSONObject | None
    methods: frozenset[str] | None
    raw_body: str | None = None
    after_handling: bool = False
    cut_body: bool = False


@dataclass
class _Hang:
    remaining: int
    seconds: float
    methods: frozenset[str] | None = None


@dataclass
class _RateLimit:
    share: float
    retry_after: float
    seed: int
    methods: frozenset[str] | None
    draws: random.Random


GetOneShape = Literal["wrapped", "flat"]


def _by_id(items: list[JSONObject], key: str) -> dict[str, JSONObject]:
    return {str(item[key]): item for item in items}


class EmulatorState:
    """Everything the emulator knows: data, knobs and the request log, behind one RLock."""

    def __init__(self, api_key: str = DEFAULT_API_KEY) -> None:
        self._lock = threading.RLock()
        self._initial_api_key = api_key
        self._generation = 0
        self._last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
        self.reset()

    def reset(self) -> None:
        """Restore the seeded data, clear every knob and the request log."""
        with self._lock:
            self._generation += 1
            self.api_key = self._initial_api_key
            self.personas: dict[str, JSONObject] = _by_id(_seed_personas(), "persona_id")
            self.replicas: dict[str, JSONObject] = _by_id(_seed_replicas(), "replica_id")
            self.documents: dict[str, JSONObject] = _by_id(_seed_documents(), "document_id")
            self.objectives: dict[str, JSONObject] = _by_id(_seed_objectives(), "objectives_id")
            self.guardrails: dict[str, JSONObject] = _by_id(_seed_guardrails(), "uuid")
            self.guardrail_sets: dict[str, JSONObject] = _by_id(
                _seed_guardrail_sets(), "guardrails_id"
            )
            self.conversations: dict[str, JSONObject] = {}
            self.latency_ms = 0
            self.mask_secrets = False
            self._encoded: dict[str, tuple[JSONObject, bool, bytes]] = {}
            self.get_one_shape: GetOneShape = "wrapped"
            self.max_concurrent_conversations: int | None = None
            self._failures: list[_Failure] = []
            self._hangs: list[_Hang] = []
            self._rate_limit: _RateLimit | None = None
            self._log: deque[LoggedRequest] = deque(maxlen=_LOG_LIMIT)
            self._arrived = 0

    # -- Knobs --

    def set_latency(self, ms: int) -> None:
        """Sleep this many milliseconds before answering every request."""
        with self._lock:
            self.latency_ms = max(0, int(ms))

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        retry_after: float | None = None,
        body: JSONObject | None = None,
        methods: set[str] | None = None,
        raw_body: str | None = None,
        after_handling: bool = False,
        cut_body: bool = False,
    ) -> None:
        """Answer the next `count` matching requests with `status`, before touching any data.

        The body is `body`, else {"message": "Injected failure"}; `raw_body` sends that text
        as text/html instead, like a proxy's error page. `methods` limits which requests match.
        `after_handling`: the request is carried out first and only its answer is replaced, as
        when a gateway loses Tavus's answer to a write that Tavus did save. `cut_body`: the request
        is carried out and its real answer is cut short (the connection closes halfway through
        the body it announced); `status` is then unused.
        """
        with self._lock:
            allowed = frozenset(m.upper() for m in methods) if methods else None
            self._failures.append(
                _Failure(
                    count, status, retry_after, body, allowed, raw_body, after_handling, cut_body
                )
            )

    def rate_limit(
        self,
        share: float,
        *,
        retry_after: float = 1.0,
        seed: int = 0,
        methods: set[str] | None = None,
    ) -> None:
        """From now on, answer a `share` (0 to 1) of the requests (of `methods`, when given) 429
        with `Retry-After: retry_after`, before touching any data, as a rate limiter in front of
        Tavus would (synthetic: Tavus documents no rate limit). Which requests is drawn from a
        random generator seeded with `seed`, so a run draws the same sequence. fail_next and
        hang_next rules come first. A share of 0 turns it off."""
        with self._lock:
            if share <= 0:
                self._rate_limit = None
                return
            allowed = frozenset(m.upper() for m in methods) if methods else None
            self._rate_limit = _RateLimit(
                min(1.0, share), retry_after, seed, allowed, random.Random(seed)
            )

    def hang_next(self, count: int, seconds: float, *, methods: set[str] | None = None) -> None:
        """Make the next `count` requests (of `methods`, when given) wait `seconds` before being
        handled."""
        with self._lock:
            allowed = frozenset(m.upper() for m in methods) if methods else None
            self._hangs.append(_Hang(count, seconds, allowed))

    # -- Request log --

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def arrived(self) -> int:
        """How many requests have arrived, answered or not (a hung one is logged only once it
        has been answered; it counts here as soon as it arrives)."""
        with self._lock:
            return self._arrived

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for entry in self._log
                if (method is None or entry.method == method.upper())
                and (path_prefix is None or entry.path.startswith(path_prefix))
            )

    # -- Direct edits ("someone changed it in the Tavus portal"); not logged, not validated --

    def put_persona(self, doc: JSONObject) -> str:
        """Store a persona as given; fills in missing server fields. Returns its id."""
        with self._lock:
            persona = copy.deepcopy(doc)
            persona_id = persona.pop("persona_id", None)
            if not isinstance(persona_id, str) or not persona_id:
                persona_id = self._new_id("p", 11, self.personas)
            persona = {"persona_id": persona_id, **persona}
            persona.setdefault("persona_type", "user")
            stamp = self._stamp()
            persona.setdefault("created_at", stamp)
            persona.setdefault("updated_at", stamp)
            self.personas[persona_id] = persona
            return persona_id

    def edit_persona(self, persona_id: str, ops: Sequence[JSONObject]) -> JSONObject:
        """Apply a JSON Patch directly and bump updated_at. Raises KeyError for an unknown id."""
        with self._lock:
            current = self.personas[persona_id]
            patched: JSONObject = jsonpatch.apply_patch(current, list(ops), in_place=False)
            patched["updated_at"] = self._stamp()
            self.personas[persona_id] = patched
            return copy.deepcopy(patched)

    # -- Internals --

    def _stamp(self) -> str:
        # Strictly increasing, even when two writes land in the same microsecond.
        with self._lock:
            now = datetime.now(UTC)
            if now <= self._last_stamp:
                now = self._last_stamp + timedelta(microseconds=1)
            self._last_stamp = now
            return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @staticmethod
    def _new_id(prefix: str, length: int, taken: dict[str, JSONObject]) -> str:
        while True:
            candidate = prefix + secrets.token_hex(length)[:length]
            if candidate not in taken:
                return candidate

    def _begin(self, method: str) -> tuple[int, float, float, _Failure | None]:
        """Take this request's share of the knobs: generation, latency, hang and failure."""
        with self._lock:
            self._arrived += 1
            hang = 0.0
            for rule in self._hangs:
                if rule.methods is None or method in rule.methods:
                    rule.remaining -= 1
                    hang = rule.seconds
                    if rule.remaining <= 0:
                        self._hangs.remove(rule)
                    break
            failure = None
            for rule in self._failures:
                if rule.methods is None or method in rule.methods:
                    rule.remaining -= 1
                    failure = rule
                    if rule.remaining <= 0:
                        self._failures.remove(rule)
                    break
            limit = self._rate_limit
            if (
                failure is None
                and limit is not None
                and (limit.methods is None or method in limit.methods)
                and limit.draws.random() < limit.share
            ):
                failure = _Failure(
                    1, 429, limit.retry_after, {"message": "Too many requests"}, None
                )
            return self._generation, self.latency_ms / 1000, hang, failure

    def _record(self, generation: int, entry: LoggedRequest) -> None:
        with self._lock:
            # A request that slept through a reset() belongs to an earlier test: drop it.
            if generation == self._generation:
                self._log.append(entry)


# -- HTTP plumbing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    query: dict[str, str]
    body: JSON
    body_is_json: bool
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: JSON = None
    has_body: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    raw: str | None = None
    body: bytes | None = None  # the payload, already JSON-encoded


class _Refusal(Exception):
    def __init__(self, status: int, payload: JSONObject) -> None:
        super().__init__(status, payload)
        self.answer = _Answer(status, payload)


def _bad_request(text: str) -> _Refusal:
    return _Refusal(400, {"error": text})


def _int_query(call: _Call, name: str, *, default: int, minimum: int) -> int:
    raw = call.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        kind = "positive" if minimum >= 1 else "non-negative"
        raise _bad_request(f"Invalid request: {name} must be a {kind} integer")
    return value


def _choice_query(call: _Call, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise _bad_request(f"Invalid request: {name} must be one of: {', '.join(allowed)}")
    return raw


def _page(items: list[JSONObject], *, page: int, limit: int, first: int) -> list[JSONObject]:
    start = (page - first) * limit
    return list(items[start : start + limit])


def _found(item: JSONObject, *, tags: set[str], needle: str, name_key: str, id_key: str) -> bool:
    """The `tags` and `name_or_uuid` filters of the documents and guardrails lists."""
    item_tags = item.get("tags")
    # Documented for guardrails, inferred for documents: any of the tags matches (OR).
    if tags and not (isinstance(item_tags, list) and tags.intersection(map(str, item_tags))):
        return False
    name = str(item.get(name_key, "")).lower()
    return not needle or needle in name or needle in str(item.get(id_key, "")).lower()


def _truthy(raw: str | None) -> bool:
    return (raw or "").strip().lower() in {"true", "1", "yes"}


# -- Persona routes -----------------------------------------------------------------------------


def _persona_or_refuse(state: EmulatorState, persona_id: str) -> JSONObject:
    persona = state.personas.get(persona_id)
    if persona is None:
        raise _bad_request("Invalid persona_id")
    return persona


def _shown_json(state: EmulatorState, persona: JSONObject) -> bytes:
    """The persona as a client sees it, JSON-encoded (masked when the knob is on).

    Stored personas are replaced whole on every change, never edited in place, so the encoding
    is kept with the stored object and reused until that object is replaced: encoding an 88 KB
    persona costs half a millisecond, which a real API's answer time would not include.
    """
    persona_id = str(persona.get("persona_id"))
    kept = state._encoded.get(persona_id)
    if kept is not None and kept[0] is persona and kept[1] == state.mask_secrets:
        return kept[2]
    shown = masked(persona) if state.mask_secrets else persona
    encoded = json.dumps(shown).encode()
    state._encoded[persona_id] = (persona, state.mask_secrets, encoded)
    return encoded


# Listing order: newest first (reverse creation order), the seeded system personas last.
def _list_personas(state: EmulatorState, call: _Call) -> _Answer:
    limit = _int_query(call, "limit", default=10, minimum=1)
    page = _int_query(call, "page", default=1, minimum=1)
    wanted = _choice_query(call, "persona_type", ("user", "system"))
    items = [
        p
        for p in reversed(state.personas.values())
        if wanted is None or p.get("persona_type") == wanted
    ]
    data = b", ".join(_shown_json(state, p) for p in _page(items, page=page, limit=limit, first=1))
    # Byte for byte what json.dumps({"data": [...], "total_count": n}) writes.
    return _Answer(200, body=b'{"data": [' + data + b'], "total_count": %d}' % len(items))


def _create_persona(state: EmulatorState, call: _Call) -> _Answer:
    if not call.body_is_json:
        raise _bad_request("Invalid request body: expected a JSON object")
    problem = validate_persona(call.body, state.replicas)
    if problem:
        raise _bad_request(problem)
    assert isinstance(call.body, dict)
    persona_id = state._new_id("p", 11, state.personas)
    stamp = state._stamp()
    sent = {k: v for k, v in copy.deepcopy(call.body).items() if k not in SERVER_FIELDS}
    state.personas[persona_id] = {
        "persona_id": persona_id,
        **sent,
        "persona_type": "user",
        "created_at": stamp,
        "updated_at": stamp,
    }
    return _Answer(
        200,
        {"persona_id": persona_id, "persona_name": sent.get("persona_name"), "created_at": stamp},
    )


def _get_persona(state: EmulatorState, call: _Call) -> _Answer:
    persona = _shown_json(state, _persona_or_refuse(state, call.args["id"]))
    if state.get_one_shape == "flat":
        return _Answer(200, body=persona)
    return _Answer(200, body=b'{"data": [' + persona + b"]}")


def _refuse_system(persona: JSONObject) -> None:
    # Inferred: stock personas belong to Tavus, so an account key cannot change or delete them.
    if persona.get("persona_type") == "system":
        raise _bad_request("System personas cannot be changed or deleted")


def _delete_persona(state: EmulatorState, call: _Call) -> _Answer:
    persona = _persona_or_refuse(state, call.args["id"])
    _refuse_system(persona)
    del state.personas[call.args["id"]]
    state._encoded.pop(call.args["id"], None)
    return _Answer(204, has_body=False)


_PATCH_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def _bad_patch() -> _Refusal:
    return _Refusal(422, {"message": "Invalid JSON patch format"})


def _pointer_ok(value: JSON) -> bool:
    return isinstance(value, str) and (value == "" or value.startswith("/"))


def _checked_ops(body: JSON) -> list[JSONObject]:
    """The ops if the patch is well formed (RFC 6902 §4), else 422."""
    if not isinstance(body, list):
        raise _bad_patch()
    ops: list[JSONObject] = []
    for op in body:
        if not isinstance(op, dict) or op.get("op") not in _PATCH_OPS:
            raise _bad_patch()
        if not _pointer_ok(op.get("path")):
            raise _bad_patch()
        if op["op"] in {"move", "copy"} and not _pointer_ok(op.get("from")):
            raise _bad_patch()
        if op["op"] in {"add", "replace", "test"} and "value" not in op:
            raise _bad_patch()
        ops.append(op)
    return ops


def _read_only_problem(ops: list[JSONObject]) -> str | None:
    for op in ops:
        pointers = [op["path"]]
        if op["op"] in {"move", "copy"}:
            pointers.append(op["from"])
        for pointer in pointers:
            assert isinstance(pointer, str)
            if pointer == "":
                return (
                    "the whole persona cannot be replaced: "
                    + ", ".join(SERVER_FIELDS)
                    + " are read-only"
                )
            top = pointer.split("/")[1].replace("~1", "/").replace("~0", "~")
            if top in SERVER_FIELDS:
                return f"{top} is read-only"
    return None


def _patch_persona(state: EmulatorState, call: _Call) -> _Answer:
    persona_id = call.args["id"]
    current = _persona_or_refuse(state, persona_id)
    _refuse_system(current)
    if not call.body_is_json:
        raise _bad_patch()
    ops = _checked_ops(call.body)
    problem = _read_only_problem(ops)
    if problem:
        raise _bad_request(problem)
    try:
        patched = jsonpatch.apply_patch(current, ops, in_place=False)
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
    ):
        raise _bad_patch() from None
    problem = validate_persona(patched, state.replicas)
    if problem:
        raise _bad_request(problem)
    if _canonical(patched) == _canonical(current):
        return _Answer(304, has_body=False)
    patched["updated_at"] = state._stamp()
    state.personas[persona_id] = patched
    # Inferred: the docs give no 200 body; the community spec says the full persona comes back.
    return _Answer(200, body=_shown_json(state, patched))


# -- Replicas and documents ---------------------------------------------------------------------


def _list_replicas(state: EmulatorState, call: _Call) -> _Answer:
    limit = _int_query(call, "limit", default=10, minimum=1)
    page = _int_query(call, "page", default=1, minimum=1)
    wanted = _choice_query(call, "replica_type", ("user", "system"))
    verbose = _truthy(call.query.get("verbose"))
    ids = {part.strip() for part in call.query.get("replica_ids", "").split(",") if part.strip()}
    items = [
        r
        for r in state.replicas.values()
        if (wanted is None or r.get("replica_type") == wanted)
        and (not ids or r.get("replica_id") in ids)
    ]
    data: list[JSON] = []
    for replica in _page(items, page=page, limit=limit, first=1):
        shown = copy.deepcopy(replica)
        if not verbose:
            shown.pop("replica_type", None)
        data.append(shown)
    return _Answer(200, {"data": data, "total_count": len(items)})


def _list_documents(state: EmulatorState, call: _Call) -> _Answer:
    limit = _int_query(call, "limit", default=10, minimum=1)
    page = _int_query(call, "page", default=0, minimum=0)
    order = _choice_query(call, "sort", ("ascending", "descending")) or "ascending"
    status = call.query.get("status") or None
    tags = {t.strip() for t in call.query.get("tags", "").split(",") if t.strip()}
    needle = (call.query.get("name_or_uuid") or "").strip().lower()

    def wanted(doc: JSONObject) -> bool:
        if status is not None and doc.get("status") != status:
            return False
        return _found(doc, tags=tags, needle=needle, name_key="document_name", id_key="document_id")

    items = sorted(
        (d for d in state.documents.values() if wanted(d)),
        key=lambda d: str(d.get("created_at", "")),
        reverse=order == "descending",
    )
    data: list[JSON] = [copy.deepcopy(d) for d in _page(items, page=page, limit=limit, first=0)]
    return _Answer(200, {"data": data, "total_count": len(items), "page": page, "limit": limit})


# -- Objectives and guardrails ------------------------------------------------------------------


def _list_objectives(state: EmulatorState, call: _Call) -> _Answer:
    limit = _int_query(call, "limit", default=10, minimum=1)
    page = _int_query(call, "page", default=1, minimum=1)
    items = list(state.objectives.values())
    data: list[JSON] = [copy.deepcopy(o) for o in _page(items, page=page, limit=limit, first=1)]
    return _Answer(200, {"data": data, "total_count": len(items)})


def _get_objective(state: EmulatorState, call: _Call) -> _Answer:
    objective = state.objectives.get(call.args["id"])
    if objective is None:
        # Inferred: an unknown id is a 400 naming the id, as for personas.
        raise _bad_request("Invalid objectives_id")
    # Documented as {"data": {...}}; the id inside is inferred (the docs' example leaves it out).
    return _Answer(200, {"data": copy.deepcopy(objective)})


def _list_guardrails(state: EmulatorState, call: _Call) -> _Answer:
    limit = _int_query(call, "limit", default=10, minimum=1)
    if _choice_query(call, "legacy", ("true", "false")) != "false":
        # legacy=true is the default: the guardrail sets, paged from 1 ("All Sets" page).
        page = _int_query(call, "page", default=1, minimum=1)
        sets = list(state.guardrail_sets.values())
        data: list[JSON] = [copy.deepcopy(s) for s in _page(sets, page=page, limit=limit, first=1)]
        return _Answer(200, {"data": data, "total_count": len(sets)})
    page = _int_query(call, "page", default=0, minimum=0)
    order = _choice_query(call, "sort", ("ascending", "descending")) or "ascending"
    tags = {t.strip() for t in call.query.get("tags", "").split(",") if t.strip()}
    needle = (call.query.get("name_or_uuid") or "").strip().lower()
    items = sorted(
        (
            g
            for g in state.guardrails.values()
            if _found(g, tags=tags, needle=needle, name_key="guardrail_name", id_key="uuid")
        ),
        key=lambda g: str(g.get("created_at", "")),
        reverse=order == "descending",
    )
    shown: list[JSON] = [copy.deepcopy(g) for g in _page(items, page=page, limit=limit, first=0)]
    return _Answer(200, {"data": shown, "total_count": len(items), "page": page, "limit": limit})


def _get_guardrail(state: EmulatorState, call: _Call) -> _Answer:
    # One path, two shapes: an individual guardrail is answered flat, a legacy set wrapped in
    # "data" (Tavus tells them apart by the id).
    guardrail = state.guardrails.get(call.args["id"])
    if guardrail is not None:
        return _Answer(200, copy.deepcopy(guardrail))
    legacy_set = state.guardrail_sets.get(call.args["id"])
    if legacy_set is not None:
        return _Answer(200, {"data": copy.deepcopy(legacy_set)})
    # Inferred: an unknown id is a 400 naming the id, as for personas.
    raise _bad_request("Invalid guardrail_id")


# -- Conversations ------------------------------------------------------------------------------

_CONVERSATION_FIELDS: dict[str, Check] = {
    "persona_id": _string,
    "replica_id": _string,
    "conversation_name": _string,
    "test_mode": _boolean,
    "custom_greeting": _string,
    "conversational_context": _string,
    "callback_url": _string,
    "document_ids": _string_list,
    "document_tags": _string_list,
    "memory_stores": _string_list,
    "language": _string,
    "properties": _object,
}
_CONVERSATION_SUMMARY = (
    "conversation_id",
    "conversation_name",
    "conversation_url",
    "status",
    "callback_url",
    "created_at",
)


def _create_conversation(state: EmulatorState, call: _Call) -> _Answer:
    body = call.body
    if not call.body_is_json or not isinstance(body, dict):
        raise _bad_request("Invalid request body: expected a JSON object")
    problem = _check_fields(body, _CONVERSATION_FIELDS, "")
    if problem:
        raise _bad_request(problem)
    persona_id, replica_id = body.get("persona_id"), body.get("replica_id")
    persona = None
    if persona_id is not None:
        persona = _persona_or_refuse(state, str(persona_id))
        if replica_id is None:
            replica_id = persona.get("default_replica_id")
    if replica_id is None:
        raise _bad_request("replica_id is required when the persona has no default_replica_id")
    if replica_id not in state.replicas:
        raise _bad_request("Invalid replica_uuid")
    test_mode = body.get("test_mode") is True
    cap = state.max_concurrent_conversations
    active = sum(1 for c in state.conversations.values() if c.get("status") == "active")
    if not test_mode and cap is not None and active >= cap:
        raise _Refusal(400, {"message": "User has reached maximum concurrent conversations"})
    conversation_id = state._new_id("c", 16, state.conversations)
    stamp = state._stamp()
    conversation: JSONObject = {
        "conversation_id": conversation_id,
        "conversation_name": body.get("conversation_name")
        or f"New Conversation {int(time.time())}",
        "conversation_url": f"https://tavus.daily.co/{conversation_id}",
        # test_mode: no replica joins and the call is already over (api-notes §1.4).
        "status": "ended" if test_mode else "active",
        "callback_url": body.get("callback_url") or "",
        "persona_id": persona_id,
        "replica_id": replica_id,
        "test_mode": test_mode,
        "custom_greeting": body.get("custom_greeting"),
        "conversational_context": body.get("conversational_context"),
        "created_at": stamp,
        "updated_at": stamp,
    }
    state.conversations[conversation_id] = conversation
    return _Answer(200, {key: conversation[key] for key in _CONVERSATION_SUMMARY})


def _conversation_or_refuse(state: EmulatorState, conversation_id: str) -> JSONObject:
    conversation = state.conversations.get(conversation_id)
    if conversation is None:
        raise _bad_request("Invalid conversation_id")
    return conversation


def _list_conversations(state: EmulatorState, call: _Call) -> _Answer:
    limit = _int_query(call, "limit", default=10, minimum=1)
    page = _int_query(call, "page", default=1, minimum=1)
    wanted = _choice_query(call, "status", ("active", "ended"))
    items = [
        c
        for c in reversed(state.conversations.values())
        if wanted is None or c.get("status") == wanted
    ]
    data: list[JSON] = [copy.deepcopy(c) for c in _page(items, page=page, limit=limit, first=1)]
    return _Answer(200, {"data": data, "total_count": len(items)})


def _get_conversation(state: EmulatorState, call: _Call) -> _Answer:
    return _Answer(200, copy.deepcopy(_conversation_or_refuse(state, call.args["id"])))


def _end_conversation(state: EmulatorState, call: _Call) -> _Answer:
    conversation = _conversation_or_refuse(state, call.args["id"])
    if conversation.get("status") != "ended":
        conversation["status"] = "ended"
        conversation["updated_at"] = state._stamp()
    # The docs describe the 200 only as "OK", with no body.
    return _Answer(200, has_body=False)


# -- Routing and the WSGI app -------------------------------------------------------------------

Handler = Callable[[EmulatorState, _Call], _Answer]

_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(r"/v2/personas/?"), {"GET": _list_personas, "POST": _create_persona}),
    (
        re.compile(r"/v2/personas/(?P<id>[^/]+)/?"),
        {"GET": _get_persona, "PATCH": _patch_persona, "DELETE": _delete_persona},
    ),
    (re.compile(r"/v2/replicas/?"), {"GET": _list_replicas}),
    (re.compile(r"/v2/documents/?"), {"GET": _list_documents}),
    (re.compile(r"/v2/objectives/?"), {"GET": _list_objectives}),
    (re.compile(r"/v2/objectives/(?P<id>[^/]+)/?"), {"GET": _get_objective}),
    (re.compile(r"/v2/guardrails/?"), {"GET": _list_guardrails}),
    (re.compile(r"/v2/guardrails/(?P<id>[^/]+)/?"), {"GET": _get_guardrail}),
    (
        re.compile(r"/v2/conversations/?"),
        {"GET": _list_conversations, "POST": _create_conversation},
    ),
    (re.compile(r"/v2/conversations/(?P<id>[^/]+)/?"), {"GET": _get_conversation}),
    (re.compile(r"/v2/conversations/(?P<id>[^/]+)/end/?"), {"POST": _end_conversation}),
]


def _dispatch(state: EmulatorState, call: _Call, api_key: str | None) -> _Answer:
    if api_key is None or not hmac.compare_digest(api_key.encode(), state.api_key.encode()):
        return _Answer(401, {"message": "Invalid access token"})
    for pattern, handlers in _ROUTES:
        match = pattern.fullmatch(call.path)
        if match is None:
            continue
        handler = handlers.get(call.method)
        if handler is None:
            allow = ", ".join(sorted(handlers))
            return _Answer(405, {"message": "Method not allowed"}, headers=(("Allow", allow),))
        routed = _Call(
            call.method, call.path, call.query, call.body, call.body_is_json, match.groupdict()
        )
        try:
            return handler(state, routed)
        except _Refusal as refusal:
            return refusal.answer
    return _Answer(404, {"message": "Not found"})


def _read_call(environ: WSGIEnvironment) -> _Call:
    # PEP 3333 hands the path over as latin-1-decoded bytes.
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    query = {
        k: v[-1]
        for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
    }
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    body: JSON = None
    is_json = False
    if raw.strip():
        try:
            body = json.loads(raw)
            is_json = True
        except ValueError:
            body = None
    return _Call(environ["REQUEST_METHOD"].upper(), path, query, body, is_json)


def _respond(start_response: StartResponse, answer: _Answer, *, cut: bool = False) -> list[bytes]:
    try:
        phrase = HTTPStatus(answer.status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = list(answer.headers)
    data = b""
    if answer.raw is not None:
        data = answer.raw.encode()
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    elif answer.has_body and answer.status not in (204, 304):
        data = answer.body if answer.body is not None else json.dumps(answer.payload).encode()
        headers.append(("Content-Type", "application/json"))
    if cut:  # announce the whole body (and more), send half of it, then hang up
        headers += [("Content-Length", str(len(data) + 64)), ("Connection", "close")]
        start_response(f"{answer.status} {phrase}", headers)
        return [data[: len(data) // 2]]
    if answer.status not in (204, 304):
        headers.append(("Content-Length", str(len(data))))
    start_response(f"{answer.status} {phrase}", headers)
    return [data] if data else []


def _failure_answer(failure: _Failure) -> _Answer:
    headers: tuple[tuple[str, str], ...] = ()
    if failure.retry_after is not None:
        headers = (("Retry-After", f"{failure.retry_after:g}"),)
    payload: JSONObject = {"message": "Injected failure"}
    if failure.body is not None:
        payload = failure.body
    return _Answer(failure.status, payload, headers=headers, raw=failure.raw_body)


STATS_PATH = "/__emulator/stats"
KNOBS_PATH = "/__emulator/knobs"
LOG_PATH = "/__emulator/log"
# For a bench whose emulator runs in another process. Each needs the api key; none has latency,
# and none is logged or counted.
CONTROL_PATHS = {(STATS_PATH, "GET"), (KNOBS_PATH, "POST"), (LOG_PATH, "GET")}


def _knobs(state: EmulatorState) -> JSONObject:
    limit = state._rate_limit
    rate_limit: JSON = None
    if limit is not None:
        rate_limit = {
            "share": limit.share,
            "retry_after": limit.retry_after,
            "seed": limit.seed,
            "methods": sorted(limit.methods) if limit.methods else None,
        }
    return {"latency_ms": state.latency_ms, "rate_limit": rate_limit}


def _as_number(value: JSON) -> float:
    if not _is_number(value):
        raise ValueError(f"{value!r} is not a number")
    assert isinstance(value, int | float)
    return float(value)


def _set_knobs(state: EmulatorState, body: JSON) -> _Answer:
    """POST {"latency_ms": 50, "rate_limit": {"share": 0.1, "retry_after": 1, "seed": 19,
    "methods": ["GET", "PATCH"]} or null}: set_latency and rate_limit; a key left out is left
    as it is. Answers the knobs."""
    if not isinstance(body, dict):
        return _Answer(400, {"error": "The knobs are a JSON object"})
    try:
        if "latency_ms" in body:
            state.set_latency(int(_as_number(body["latency_ms"])))
        if "rate_limit" in body:
            limit = body["rate_limit"]
            if limit is None:
                state.rate_limit(0)
            elif isinstance(limit, dict):
                methods = limit.get("methods")
                state.rate_limit(
                    _as_number(limit.get("share", 0)),
                    retry_after=_as_number(limit.get("retry_after", 1)),
                    seed=int(_as_number(limit.get("seed", 0))),
                    methods={str(m) for m in methods} if isinstance(methods, list) else None,
                )
            else:
                raise ValueError("rate_limit is an object or null")
    except ValueError as exc:
        return _Answer(400, {"error": f"Bad knobs: {exc}"})
    with state._lock:
        return _Answer(200, _knobs(state))


def _log_answer(state: EmulatorState, call: _Call) -> _Answer:
    """GET ?since=N: the logged requests from the N-th on (method, path, status), oldest first."""
    since = _int_query(call, "since", default=0, minimum=0)
    entries: list[JSON] = [
        {"method": entry.method, "path": entry.path, "status": entry.status}
        for entry in state.requests[since:]
    ]
    return _Answer(200, {"requests": entries})


def _control_answer(state: EmulatorState, call: _Call, api_key: str | None) -> _Answer:
    if api_key is None or not hmac.compare_digest(api_key.encode(), state.api_key.encode()):
        return _Answer(401, {"message": "Invalid access token"})
    try:
        if call.path == KNOBS_PATH:
            return _set_knobs(state, call.body)
        if call.path == LOG_PATH:
            return _log_answer(state, call)
    except _Refusal as refusal:
        return refusal.answer
    return _Answer(200, {"requests": state.count()})


def _logged_headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    if "x-api-key" in headers:
        headers["x-api-key"] = "****"
    return headers


def make_app(state: EmulatorState) -> WSGIApplication:
    """The WSGI callable serving `state`."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        call = _read_call(environ)
        if (call.path, call.method) in CONTROL_PATHS:
            return _respond(
                start_response, _control_answer(state, call, environ.get("HTTP_X_API_KEY"))
            )
        generation, latency, hang, failure = state._begin(call.method)
        # Sleeps happen outside the lock so a slow request never blocks the others.
        if latency or hang:
            time.sleep(latency + hang)
        cut = failure is not None and failure.cut_body
        if failure is not None and not failure.after_handling and not cut:
            answer = _failure_answer(failure)
        else:
            with state._lock:
                if generation != state._generation:
                    answer = _Answer(
                        503, {"message": "Emulator was reset while this request waited"}
                    )
                else:
                    answer = _dispatch(state, call, environ.get("HTTP_X_API_KEY"))
            if failure is not None and not cut:
                answer = _failure_answer(failure)
        state._record(
            generation,
            LoggedRequest(
                call.method,
                call.path,
                call.query,
                call.body,
                answer.status,
                headers=_logged_headers(environ),
                target=environ.get("RAW_TARGET", ""),
            ),
        )
        return _respond(start_response, answer, cut=cut)

    return app


# -- Serving ------------------------------------------------------------------------------------


class _KeepAliveServerHandler(ServerHandler):
    # wsgiref answers in HTTP/1.0, which makes every client hang up after one answer. Every
    # answer has a Content-Length (or is a 204/304), so HTTP/1.1 persistent connections are safe.
    http_version = "1.1"


class _QuietHandler(WSGIRequestHandler):
    """wsgiref's handler, but serving every request of a persistent connection, as Tavus does:
    a client that keeps its connection pays the TCP handshake once, not on every call."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle kept connection is closed after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)  # type: ignore[attr-defined]
        # The status line, headers and body go out in separate writes; without this, Nagle's
        # algorithm holds the last one back until the client's delayed ACK (40 ms on Linux).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()

    def get_environ(self) -> WSGIEnvironment:
        environ = super().get_environ()
        environ["RAW_TARGET"] = self.path  # wsgiref's PATH_INFO is already percent-decoded
        return environ

    def _handle_one(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except TimeoutError:
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():  # an error was sent; parse_request set close_connection
            return
        handler = _KeepAliveServerHandler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=False
        )
        handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref logs through it
        handler.run(self.server.get_app())  # type: ignore[attr-defined]
        if handler.headers is not None and handler.headers.get("Connection") == "close":
            self.close_connection = True  # an answer cut short (fail_next(cut_body=True))

    def finish(self) -> None:
        self.server.untrack(self.connection)  # type: ignore[attr-defined]
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.connections_opened = 0  # since start: tests see whether clients keep connections

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)
            self.connections_opened += 1

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def server_close(self) -> None:
        """Stop listening and hang up every kept-alive connection, so a stopped emulator is gone
        for clients holding a connection too (tests rely on "connection refused" after stop)."""
        super().server_close()
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: tuple[str, int]
    ) -> None:
        # Clients that time out and hang up are part of the tests; stay quiet about them.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


@dataclass
class RunningEmulator:
    """A live emulator on a loopback port. Use as a context manager or call stop()."""

    state: EmulatorState
    host: str
    port: int
    _server: _ThreadingWSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _make_server(host: str, port: int, state: EmulatorState) -> _ThreadingWSGIServer:
    server = make_server(
        host, port, make_app(state), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    assert isinstance(server, _ThreadingWSGIServer)
    return server


def start_emulator(
    state: EmulatorState | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    """Serve the emulator from a daemon thread; port 0 picks a free port."""
    state = state if state is not None else EmulatorState()
    server = _make_server(host, port, state)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="tavus-emulator",
        daemon=True,
    )
    thread.start()
    return RunningEmulator(state, host, server.server_port, server, thread)


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str = DEFAULT_API_KEY,
    latency_ms: int = 0,
    personas: Sequence[JSONObject] = (),
) -> None:
    """Serve in the foreground until interrupted (for `manage.py tavus_emulator` and __main__).

    `personas` are stored as the account's own personas before serving (a demo starts non-empty).
    """
    state = EmulatorState(api_key=api_key)
    state.set_latency(latency_ms)
    for persona in personas:
        state.put_persona(persona)
    server = _make_server(host, port, state)
    print(
        f"Tavus emulator listening on http://{host}:{server.server_port} (Ctrl+C to stop)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a local stand-in for the Tavus v2 API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(args.host, args.port, args.api_key, args.latency_ms)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

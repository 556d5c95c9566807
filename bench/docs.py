"""Persona documents for the benchmark: a large one, a small one, and the tool-count ladder.

Pure data (no Django, no I/O), deterministic, and valid for the Tavus emulator and the dashboard's
schema, so creating them succeeds and the editor shows no problem.
"""

from __future__ import annotations

import copy
from typing import Any

REPLICA_ID = "r90bbd427f71"  # a completed stock replica of the emulator

_SENTENCE = (
    "You are the support agent of Acme Garden Tools; answer in short, friendly sentences, "
    "check the order number before promising anything, and never guess a delivery date. "
)
_TYPES = ("string", "string", "string", "number", "integer", "boolean", "string", "string")


def system_prompt(chars: int) -> str:
    """A system prompt of exactly `chars` characters, in numbered paragraphs."""
    parts: list[str] = []
    size, n = 0, 0
    while size < chars:
        n += 1
        part = f"Rule {n}. {_SENTENCE}"
        parts.append(part)
        size += len(part)
    return "".join(parts)[:chars]


def tool(index: int, params: int = 10) -> dict[str, Any]:
    """One LLM function tool with `params` parameters (the shape the rows editor can show)."""
    properties: dict[str, Any] = {}
    for j in range(params):
        prop: dict[str, Any] = {
            "type": _TYPES[j % len(_TYPES)],
            "description": f"Parameter {j} of tool {index}: what the caller means by it.",
        }
        if j == 2:
            prop["enum"] = ["low", "medium", "high"]
        properties[f"param_{j}"] = prop
    return {
        "type": "function",
        "function": {
            "name": f"lookup_record_{index:03d}",
            "description": f"Look up record kind {index} in the order system and return its status.",
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": ["param_0", "param_1"],
            },
        },
    }


def large_persona(
    *,
    name: str = "Bench large persona",
    tools: int = 50,
    params: int = 10,
    visual_queries: int = 100,
    audio_queries: int = 20,
    prompt_chars: int = 20_000,
) -> dict[str, Any]:
    """50 LLM tools of 10 parameters, 100 visual and 20 audio queries, a 20 000-character prompt."""
    return {
        "persona_name": name,
        "system_prompt": system_prompt(prompt_chars),
        "pipeline_mode": "full",
        "context": "Customers call about orders, returns and product questions.",
        "default_replica_id": REPLICA_ID,
        "layers": {
            "llm": {
                "model": "tavus-gpt-oss",
                "speculative_inference": True,
                "tools": [tool(i, params) for i in range(tools)],
            },
            "tts": {"tts_engine": "cartesia", "tts_model_name": "sonic-3"},
            "stt": {"stt_engine": "tavus-auto", "hotwords": "Acme, trowel, secateurs"},
            "perception": {
                "perception_model": "raven-1",
                "visual_awareness_queries": [
                    f"Is the customer showing item number {i} to the camera?"
                    for i in range(visual_queries)
                ],
                "audio_awareness_queries": [
                    f"Does the customer sound upset about issue {i}?" for i in range(audio_queries)
                ],
            },
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "medium",
                "replica_interruptibility": "medium",
            },
        },
    }


def small_persona(name: str = "Bench small persona") -> dict[str, Any]:
    return {
        "persona_name": name,
        "system_prompt": "You help customers of Acme with their orders.",
        "pipeline_mode": "full",
        "context": "Acme sells garden tools.",
        "default_replica_id": REPLICA_ID,
        "layers": {
            "llm": {"model": "tavus-gpt-oss"},
            "stt": {"stt_engine": "tavus-auto"},
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "medium",
                "replica_interruptibility": "medium",
            },
        },
    }


def compact_persona(persona_id: str, version: int) -> dict[str, Any]:
    """A ~700-byte persona snapshot for the bulk audit rows (version n differs from n-1 by one field)."""
    doc = small_persona(f"Persona {persona_id}")
    doc["persona_id"] = persona_id
    doc["system_prompt"] = f"You help customers of Acme with their orders (revision {version})."
    doc["persona_type"] = "user"
    return copy.deepcopy(doc)

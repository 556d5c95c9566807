"""Starting points for a new persona: the Tavus examples, written with current field names.

Pure module: imports only the standard library and this package's pure modules; never Django,
never requests. `template_doc` hands out copies, so callers may edit them freely.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .jsontypes import JSONObject

__all__ = ["TEMPLATES", "Template", "template_doc"]


@dataclass(frozen=True)
class Template:
    """A named persona document to start from. Use template_doc() to get an editable copy."""

    key: str
    title: str
    description: str
    doc: JSONObject


# Tavus "Create Persona" example (shared/tavus/seeds/create-persona.txt), moved to current names:
# raven-1 visual_* fields, conversational_flow instead of the STT sensitivities (inverted:
# "high" sensitivity -> "low" patience/interruptibility), a hosted model instead of the
# base_url/api_key placeholders, no playht_user_id or placeholder voice id.
_WEATHER_TOOL: JSONObject = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {
                    "type": "string",
                    "description": "The city and state, e.g. San Francisco, CA",
                },
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
_ID_TOOL: JSONObject = {
    "type": "function",
    "function": {
        "name": "notify_if_id_shown",
        "description": (
            "Use this function when a drivers license or passport is detected in the image with "
            "high confidence. After collecting the ID, internally use final_ask()"
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "id_type": {"type": "string", "description": "best guess on what type of ID it is"}
            },
            "required": ["id_type"],
        },
    },
}
_LIFE_COACH: JSONObject = {
    "persona_name": "Life Coach",
    "system_prompt": ("As a Life Coach, you are a dedicated professional who specializes in..."),
    "pipeline_mode": "full",
    "context": (
        "Here are a few times that you have helped an individual make a breakthrough in..."
    ),
    "default_replica_id": "r79e1c033f",
    "layers": {
        "llm": {"model": "tavus-gpt-oss", "tools": [_WEATHER_TOOL]},
        "tts": {
            "tts_engine": "cartesia",
            "voice_settings": {"speed": "normal", "emotion": ["positivity:high", "curiosity"]},
            "tts_emotion_control": False,
            "tts_model_name": "sonic",
        },
        "perception": {
            "perception_model": "raven-1",
            "visual_awareness_queries": [
                "Is the user showing an ID card?",
                "Does the user appear distressed or uncomfortable?",
            ],
            "visual_tool_prompt": (
                "You have a tool to notify the system when an ID card is detected, named "
                "`notify_if_id_shown`. You MUST use this tool when a form of ID is detected."
            ),
            "visual_tools": [_ID_TOOL],
        },
        "stt": {
            "stt_engine": "tavus-auto",
            "hotwords": "Roey is the name of the person you're speaking with.",
        },
        "conversational_flow": {
            "turn_detection_model": "sparrow-1",
            "turn_taking_patience": "low",
            "replica_interruptibility": "low",
        },
    },
}

# The "Create a Persona" guide's example (shared/tavus/seeds/guide-create-and-patch-persona.txt,
# tests/data/seeds/create_interviewer.json).
_INTERVIEWER: JSONObject = {
    "persona_name": "Interviewer",
    "system_prompt": (
        "As an Interviewer, you are a skilled professional who conducts thoughtful and "
        "structured interviews. Your aim is to ask insightful questions, listen carefully, and "
        "assess responses objectively to identify the best candidates."
    ),
    "pipeline_mode": "full",
    "context": (
        "You have a track record of conducting interviews that put candidates at ease, draw out "
        "their strengths, and help organizations make excellent hiring decisions."
    ),
    "default_replica_id": "r90bbd427f71",
    "layers": {
        "perception": {"perception_model": "raven-1"},
        "conversational_flow": {
            "turn_detection_model": "sparrow-1",
            "turn_taking_patience": "medium",
            "replica_interruptibility": "medium",
        },
    },
}

# LLM tools reach the app as events (Tavus runs nothing itself); the escalation tool follows the
# raven-1 audio tool example of the Get Persona OpenAPI page.
_CUSTOMER_SUPPORT: JSONObject = {
    "persona_name": "Customer Support Agent",
    "system_prompt": (
        "You are a friendly, patient customer support agent. Help customers with orders, "
        "returns and account questions. Keep answers short and easy to follow when spoken. "
        "When a customer gives an order number, look the order up before answering questions "
        "about it. If you cannot solve the problem, offer to open a support ticket. Never ask "
        "for passwords or full card numbers."
    ),
    "pipeline_mode": "full",
    "context": (
        "Returns are accepted within 30 days of delivery. Refunds reach the original payment "
        "method within 5 business days."
    ),
    "layers": {
        "llm": {
            "model": "tavus-gpt-oss",
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "look_up_order",
                        "description": "Look up an order's status, items and delivery date.",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "order_id": {
                                    "type": "string",
                                    "description": "The order number the customer gave",
                                }
                            },
                            "required": ["order_id"],
                        },
                    },
                },
                {
                    "type": "function",
                    "function": {
                        "name": "create_support_ticket",
                        "description": "Open a ticket for a problem you cannot solve in the call.",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "summary": {
                                    "type": "string",
                                    "description": "One or two sentences describing the problem",
                                },
                                "priority": {"type": "string", "enum": ["low", "normal", "urgent"]},
                            },
                            "required": ["summary"],
                        },
                    },
                },
            ],
        },
        "perception": {
            "perception_model": "raven-1",
            "audio_awareness_queries": ["Does the customer sound frustrated or confused?"],
            "audio_tool_prompt": (
                "You have a tool to hand the call to a human agent, named `escalate_to_human`. "
                "Use it when the customer sounds very frustrated for several turns or asks for a "
                "person."
            ),
            "audio_tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "escalate_to_human",
                        "description": "Hand the conversation to a human agent",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "reason": {
                                    "type": "string",
                                    "description": "The reason for escalation",
                                }
                            },
                            "required": ["reason"],
                        },
                    },
                }
            ],
        },
        "conversational_flow": {
            "turn_detection_model": "sparrow-1",
            "turn_taking_patience": "high",
            "replica_interruptibility": "high",
        },
    },
}

# LiveKit avatar recipe (api-notes 5.4): echo mode, LiveKit transport, no system prompt needed.
# No perception layer: echo mode cannot use perception.
_LIVEKIT_AVATAR: JSONObject = {
    "persona_name": "LiveKit avatar",
    "pipeline_mode": "echo",
    "layers": {"transport": {"transport_type": "livekit"}},
}

TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "blank",
            "Blank persona",
            "Start from nothing: write the system prompt and pick every setting yourself.",
            {"pipeline_mode": "full", "system_prompt": ""},
        ),
        Template(
            "interviewer",
            "Interviewer",
            "Tavus's guide example: a structured job interviewer with raven-1 perception "
            "(screen share) and sparrow-1 turn-taking.",
            _INTERVIEWER,
        ),
        Template(
            "life_coach",
            "Life coach",
            "Tavus's Create Persona example with current settings: a weather tool, a Cartesia "
            "voice, ID-card awareness and quick, hard-to-interrupt turn-taking.",
            _LIFE_COACH,
        ),
        Template(
            "customer_support",
            "Customer support",
            "Answers order questions with LLM tools your app handles, and notices frustration "
            "in the customer's voice to hand over to a human.",
            _CUSTOMER_SUPPORT,
        ),
        Template(
            "livekit_avatar",
            "LiveKit avatar (echo)",
            "For a LiveKit agent that brings its own brain: Tavus only renders the replica and "
            "speaks the words your agent sends. Choose a default replica.",
            _LIVEKIT_AVATAR,
        ),
    )
}


def template_doc(key: str) -> JSONObject:
    """An editable deep copy of template `key`'s document (KeyError for an unknown key)."""
    return copy.deepcopy(TEMPLATES[key].doc)

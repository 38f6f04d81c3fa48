"""Chat inputs: conversations. From a JSONL `messages` array (optionally with temperature / max_tokens / seed),
a captured request body, a text line (one user message) or the built-in seeded set: prompts of varied length
and language, some with a system message."""

from __future__ import annotations

import random
from typing import Any

from farm.probes.base import MalformedBody

_SETTINGS = ("temperature", "max_tokens", "seed")

_ASKS = [
    "Explain in a few sentences how {t} works.",
    "What should a team check before it replaces {t}?",
    "Write a short note about {t}.",
    "Describe {t} to a new engineer.",
    "Pourquoi faut-il comparer {t} avant de changer de service ?",
    "Erkläre kurz, wie {t} funktioniert.",
    "¿Qué debe medir un equipo antes de cambiar {t}?",
    "Summarise what you know about {t}, please.",
]
_TOPICS = ["the gateway", "a language model", "streaming answers", "token counts", "the noise floor",
           "the old mill by the river", "the bakery at dawn", "a statistical verdict", "wire formats",
           "the weather in spring", "das Gateway", "la passerelle", "el modelo"]
_CONTEXT = ["We are moving traffic from an old service to a new one.", "The answers must stay the same.",
            "Keep it short.", "Nous avons des milliers de requêtes.", "Die Antworten kommen als Strom.",
            "Los tokens se cuentan de otra manera."]
_SYSTEMS = ["You are a helpful assistant.", "Answer briefly.", "Tu es un assistant concis."]


def synthetic_conversation(seed: int, idx: int) -> dict[str, Any]:
    rng = random.Random(f"chat:{seed}:{idx}")
    ask = rng.choice(_ASKS).format(t=rng.choice(_TOPICS))
    context = " ".join(rng.choice(_CONTEXT) for _ in range(rng.choice((0, 0, 1, 2, 4, 8))))
    messages = [{"role": "user", "content": f"{context} {ask}".strip() + f" (#{idx})"}]
    if rng.random() < 0.3:
        messages.insert(0, {"role": "system", "content": rng.choice(_SYSTEMS)})
    return {"messages": messages}


def conversation_from_json(value: Any) -> dict[str, Any]:
    """A JSONL field: a `messages` array, or an object holding one (and optional settings)."""
    if isinstance(value, list):
        value = {"messages": value}
    if not isinstance(value, dict):
        raise MalformedBody("not a conversation (a messages array, or an object with one)")
    messages = value.get("messages")
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages):
        raise MalformedBody("messages must be a non-empty list of {role, content} objects")
    out: dict[str, Any] = {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
    for key in _SETTINGS:
        setting = value.get(key)
        if setting is not None:
            if not isinstance(setting, int | float) or isinstance(setting, bool):
                raise MalformedBody(f"{key} must be a number")
            out[key] = setting
    return out


def conversation_from_text(line: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": line}]}


def prompt_text(conversation: dict[str, Any]) -> str:
    """What the demo model conditions on: the whole conversation, role by role."""
    return "\n".join(f"{m['role']}: {m['content']}" for m in conversation["messages"])

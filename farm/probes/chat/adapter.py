"""The chat adapter's stream reframing: a candidate's whole stream re-sent in the legacy's framing.

Each candidate event's text piece, then its finish reason and token counts, are read at the candidate profile's
stream paths and written back as the legacy profile frames a stream (`stream_events`, the same code the demo
gateways stream with): NDJSON lines into SSE `data:` events closed by `[DONE]`, or the other way round.
"""

from __future__ import annotations

from typing import Any

import orjson

from farm.probes.base import MalformedBody, Profile
from farm.probes.chat.profile import ChatProfile, first
from farm.profiles import get_path
from farm.wiredrift.adapter import register_stream


def _events(profile: ChatProfile, body: bytes) -> list[Any]:
    out = []
    for raw in body.split(b"\n"):
        line = raw.strip()
        if profile.stream_format == "sse":
            if not line.startswith(b"data:"):
                continue
            line = line[5:].strip()
            if line == profile.done_marker.encode():
                continue
        if line:
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise MalformedBody(f"not a JSON event: {line[:80]!r}") from None
    return out


def reframe(adapter_map: dict[str, Any], legacy: Profile, candidate: Profile, body: bytes) -> tuple[bytes, str]:
    if not isinstance(legacy, ChatProfile) or not isinstance(candidate, ChatProfile):
        raise TypeError("chat stream reframing needs two chat profiles")
    events = _events(candidate, body)
    pieces: list[str] = []
    finish, prompt, completion, model = "", 0, 0, ""
    for event in events:
        text = first(get_path(event, candidate.stream_text_path))
        reason = first(get_path(event, candidate.stream_finish_path))
        if isinstance(reason, str) and reason:
            finish = reason
            prompt = get_path(event, candidate.prompt_tokens_path) or prompt
            completion = get_path(event, candidate.completion_tokens_path) or completion
        elif isinstance(text, str):
            pieces.append(text)
        if candidate.model_field and isinstance(event, dict) and isinstance(event.get(candidate.model_field), str):
            model = event[candidate.model_field]
    frames = legacy.stream_events(pieces, finish, int(prompt), int(completion), model, cut=False)
    return b"".join(frames), legacy.media_type


register_stream("chat", reframe)

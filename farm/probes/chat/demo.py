"""The chat demo gateway's answers: the farm's trigram model behind either wire shape, streamed or not.

Knobs (all deterministic per prompt, so the same prompts drift on every call and every run): `drift_rate`
(a fraction of prompts answered by the slightly different model), `count_bos` (count a beginning-of-sequence
token in the prompt), `finish_names` (rename finish reasons, e.g. `stop=end_turn`), `chunking` (tokens per
stream chunk), `cut_rate` (a fraction of streams cut off halfway, before the done marker) and `token_delay_ms`
(a pause before each stream chunk).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import StreamingResponse

from farm.probes.base import Backend, MalformedBody
from farm.probes.chat.model import detokenize, model, prompt_tokens, stable_hash, tokenize
from farm.probes.chat.profile import ChatProfile
from farm.probes.chat.prompts import prompt_text

MODELS = ("trigram-demo",)
DEFAULT_MAX_TOKENS = 64


@dataclass(frozen=True)
class ChatKnobs:
    drift_rate: float = 0.0
    count_bos: bool = False
    finish_names: dict[str, str] | None = None
    chunking: int = 1
    cut_rate: float = 0.0
    token_delay_ms: float = 0.0

    @classmethod
    def from_knobs(cls, knobs: dict[str, Any]) -> ChatKnobs:
        names: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in str(knobs.get("finish_names") or "").split(","))):
            old, sep, new = pair.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise MalformedBody(f"--finish-names wants name=new pairs, not {pair!r}")
            names[old.strip()] = new.strip()
        chunking = int(knobs["chunking"]) if knobs.get("chunking") is not None else 1
        if chunking < 1:
            raise MalformedBody("--chunking must be at least 1 token a chunk")
        return cls(drift_rate=float(knobs.get("drift_rate") or 0.0), count_bos=bool(knobs.get("count_bos")),
                   finish_names=names or None, chunking=chunking, cut_rate=float(knobs.get("cut_rate") or 0.0),
                   token_delay_ms=float(knobs.get("token_delay_ms") or 0.0))


def _fraction(prompt: str, salt: str) -> float:
    return (stable_hash(salt + prompt) % 2**24) / 2**24


def backend(profile: ChatProfile, knobs: dict[str, Any]) -> Backend:
    settings = ChatKnobs.from_knobs(knobs)
    lm = model()

    def answer(body: dict[str, Any]) -> tuple[int, Callable[[], Any]]:
        conversation = profile.conversation_of(body)
        chosen = profile.model_of(body) or MODELS[0]
        if chosen not in MODELS:
            raise LookupError(f"model {chosen!r} not found")
        prompt = prompt_text(conversation)
        temperature = float(conversation.get("temperature", 0.0))
        max_tokens = int(conversation.get("max_tokens", DEFAULT_MAX_TOKENS))
        if max_tokens < 1 or temperature < 0:
            raise MalformedBody("max_tokens must be >= 1 and temperature >= 0")
        seed = conversation.get("seed")
        rng = random.Random(f"{seed}:{prompt}") if seed is not None else random.Random()
        stream = profile.wants_stream(body)

        def compute() -> Any:
            gen = lm.generate(prompt, max_tokens, temperature, rng,
                              variant=_fraction(prompt, "drift:") < settings.drift_rate)
            finish = (settings.finish_names or {}).get(gen.finish, gen.finish)
            n_prompt = prompt_tokens(conversation["messages"], bos=settings.count_bos)
            if not stream:
                return profile.answer_document(detokenize(gen.tokens), finish, n_prompt, len(gen.tokens), chosen)
            pieces = _pieces(gen.tokens, settings.chunking)
            lines = profile.stream_events(pieces, finish, n_prompt, len(gen.tokens), chosen,
                                          cut=_fraction(prompt, "cut:") < settings.cut_rate)
            return StreamingResponse(_paced(lines, settings.token_delay_ms), media_type=profile.media_type)

        return 1, compute

    return answer


def _pieces(tokens: list[str], chunking: int) -> list[str]:
    """The answer's text split every `chunking` tokens; the pieces concatenate to the non-streamed text."""
    text = detokenize(tokens)
    pieces: list[str] = []
    pos = 0
    for i in range(chunking, len(tokens), chunking):
        # Where token i starts in the text: the detokenized prefix, plus the space before a word.
        end = len(detokenize(tokens[:i]))
        pieces.append(text[pos:end])
        pos = end
    pieces.append(text[pos:])
    return [p for p in pieces if p]


async def _paced(lines: list[bytes], delay_ms: float) -> AsyncIterator[bytes]:
    for line in lines:
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000.0)
        yield line


def token_count(text: str) -> int:
    return len(tokenize(text))

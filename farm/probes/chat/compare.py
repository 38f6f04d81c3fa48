"""Comparing two chat answers: normalised text equality, a character n-gram F-score (chrF), token counts,
finish reasons, and the stream against the non-streamed answer on the same side.

chrF is written here (Popović, WMT 2015: character 1..6-grams, F-beta with beta = 2, as sacrebleu computes it
without word n-grams) because sacrebleu is not a dependency and the score is twenty lines.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any

from farm.probes.chat.profile import ChatAnswer

CHRF_ORDER = 6
CHRF_BETA = 2.0

# Finish reasons by meaning: OpenAI's `finish_reason`, Ollama's `done_reason`, Anthropic's `stop_reason`.
FINISH_CLASSES: dict[str, str] = {
    "stop": "stop", "end_turn": "stop", "eos": "stop", "stop_sequence": "stop", "done": "stop",
    "length": "length", "max_tokens": "length", "num_predict": "length",
    "content_filter": "filtered", "tool_calls": "tool", "tool_use": "tool", "function_call": "tool",
}


def normalise(text: str) -> str:
    """Light normalisation before equality: Unicode NFC, runs of whitespace as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _ngrams(text: str, n: int) -> Counter[str]:
    s = text.replace(" ", "")  # chrF ignores whitespace
    return Counter(s[i:i + n] for i in range(len(s) - n + 1))


def chrf(hypothesis: str, reference: str) -> float:
    """chrF in [0, 1] (1: the same characters in the same local order); symmetric enough for A/B use."""
    a, b = normalise(hypothesis), normalise(reference)
    if a == b:
        return 1.0
    precisions: list[float] = []
    recalls: list[float] = []
    for n in range(1, CHRF_ORDER + 1):
        hyp, ref = _ngrams(a, n), _ngrams(b, n)
        if not hyp or not ref:
            continue
        match = sum((hyp & ref).values())
        precisions.append(match / sum(hyp.values()))
        recalls.append(match / sum(ref.values()))
    if not precisions:
        return 0.0
    prec, rec = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if prec + rec == 0:
        return 0.0
    b2 = CHRF_BETA ** 2
    return min((1 + b2) * prec * rec / (b2 * prec + rec), 0.9999)  # only equal texts score exactly 1


def finish_class(name: str | None) -> str | None:
    return None if name is None else FINISH_CLASSES.get(name)


def similarity(legacy: ChatAnswer, candidate: ChatAnswer) -> tuple[float, bool]:
    """(chrF, exact equality after normalisation)."""
    exact = normalise(legacy.text) == normalise(candidate.text)
    return (1.0 if exact else chrf(candidate.text, legacy.text)), exact


def stream_check(value: dict[str, Any] | None) -> int | None:
    """1 when the side's streamed answer to the batch's first input equals its non-streamed one, 0 when not,
    None when the batch did not ask both ways (or either failed)."""
    if not value or value.get("check") is None or not value["answers"] or value["answers"][0] is None:
        return None
    streamed, plain = ChatAnswer.from_dict(value["answers"][0]), ChatAnswer.from_dict(value["check"])
    return int(normalise(streamed.text) == normalise(plain.text))

"""The demo gateways' language model: a word trigram model trained on the text the package ships.

Written for the farm (no model weights to download, no GPU): deterministic and fast, so every test and demo runs
offline and repeatably. Greedy at temperature 0; above it, sampling from counts**(1/T) with a seeded generator.
Its tokenizer (words and punctuation marks, Unicode-aware) also counts the tokens it reports.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib import resources

_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]", re.UNICODE)
_ENDS = frozenset(".!?")
_NO_SPACE_BEFORE = frozenset(".,;:!?)'")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def detokenize(tokens: list[str]) -> str:
    """Tokens back to text: a space between words, none before punctuation."""
    out: list[str] = []
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append(tok)
    return "".join(out)


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Generation:
    tokens: list[str]
    finish: str  # "stop" (the answer ended) or "length" (max_tokens reached)


class TrigramModel:
    def __init__(self, text: str) -> None:
        words = tokenize(text)
        self._tri: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self._bi: dict[str, list[tuple[str, int]]] = {}
        tri: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        bi: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for a, b, c in zip(words, words[1:], words[2:], strict=False):
            tri[(a, b)][c] += 1
        for a, b in itertools.pairwise(words):
            bi[a][b] += 1
        # Sorted by count, then by token: greedy decoding's ties are broken the same way on every run.
        for key, counter in tri.items():
            self._tri[key] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        for word, counter in bi.items():
            self._bi[word] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        self._starts = sorted({(b, c) for a, b, c in zip(words, words[1:], words[2:], strict=False)
                               if a in _ENDS and b[0].isupper() and c not in _ENDS})
        self._top = sorted(Counter(words).items(), key=lambda kv: (-kv[1], kv[0]))[:20]

    def _candidates(self, a: str, b: str) -> list[tuple[str, int]]:
        return self._tri.get((a, b)) or self._bi.get(b) or self._top

    def generate(self, prompt: str, max_tokens: int, temperature: float, rng: random.Random | None,
                 variant: bool = False) -> Generation:
        """The answer to `prompt`: it starts at a sentence opening chosen by the prompt's hash and ends after
        1 to 3 sentences. `variant` is the slightly different model: at its first choice between words it takes
        the second likeliest."""
        h = stable_hash(prompt)
        first = list(self._starts[h % len(self._starts)])
        sentences = 1 + (h >> 8) % 3
        out: list[str] = first[:max_tokens]
        ends = 0
        while len(out) < max_tokens:
            cands = self._candidates(out[-2] if len(out) > 1 else ".", out[-1])
            if variant and len(cands) > 1:
                tok, variant = cands[1][0], False
            elif temperature <= 0 or rng is None:
                tok = cands[0][0]
            else:
                weights = [c ** (1.0 / temperature) for _, c in cands]
                tok = rng.choices([t for t, _ in cands], weights=weights)[0]
            out.append(tok)
            if tok in _ENDS:
                ends += 1
                if ends >= sentences:
                    return Generation(_differ(out) if variant else out, "stop")
        return Generation(_differ(out) if variant else out, "length")


def _differ(tokens: list[str]) -> list[str]:
    """The variant model on an answer with no choice to make: it ends the last sentence otherwise."""
    return [*tokens[:-1], "!" if tokens[-1] != "!" else "."]


@functools.cache
def model() -> TrigramModel:
    text = resources.files("farm.probes.chat").joinpath("corpus.txt").read_text(encoding="utf-8")
    return TrigramModel(text)


def prompt_tokens(messages: list[dict[str, str]], *, bos: bool) -> int:
    """What the demo reports as prompt tokens: each message's tokens plus 2 (its role and a separator), plus
    one beginning-of-sequence marker when the gateway counts it."""
    return sum(len(tokenize(m.get("content", ""))) + 2 for m in messages) + int(bos)

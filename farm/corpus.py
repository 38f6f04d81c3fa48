"""Corpora: where sample inputs come from. Always streamed, never held whole in memory.

- a text file: one input per line (blank lines skipped);
- JSON Lines: one object per line, the input in `field`;
- synthetic: a seeded generator (`--samples N`), the same N texts on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from farm.errors import UsageError

_WORDS = (
    "vector search index shard replica embed model token gateway latency query table column row join "
    "filter storage bucket object prefix chat provider stream prompt answer audit baseline drift parity "
    "legacy candidate rust go python cosine norm dimension batch sample sweep verdict noise floor error "
    "timeout retry worker queue broker result schedule fleet host root receipt lineage summary export "
    "the a of to in and for with on at by from over under between across after before during without "
    "fast slow large small cold warm new old first last every each many few some all none zero one two"
).split()


@dataclass(frozen=True)
class CorpusSpec:
    """Where inputs come from; `limit` caps how many are read (`--samples` with a file)."""

    path: str | None = None
    field: str | None = None
    limit: int | None = None
    seed: int = 0

    def describe(self) -> str:
        if self.path is None:
            return f"synthetic(seed={self.seed}, n={self.limit})"
        source = f"{self.path}#{self.field}" if self.field else self.path
        return source if self.limit is None else f"{source}[:{self.limit}]"

    def validate(self) -> None:
        if self.path is None:
            if not self.limit or self.limit < 1:
                raise UsageError("a synthetic corpus needs --samples N (N >= 1), or give --corpus FILE")
            return
        if not Path(self.path).is_file():
            raise UsageError(f"corpus {self.path}: file not found")


def synthetic_text(seed: int, idx: int) -> str:
    """Input number `idx` of the synthetic corpus `seed`: 4 to 24 words, unique by its index.

    `random.Random` seeded per index: the same text for the same (seed, idx) on every machine, at a
    fraction of the cost of a numpy generator per input.
    """
    rng = random.Random(f"farm-corpus:{seed}:{idx}")
    return " ".join(rng.choices(_WORDS, k=rng.randint(4, 24))) + f" #{idx}"


def _lines(path: str) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="strict") as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise UsageError(f"corpus {path}: not UTF-8 text ({exc.reason})") from None


def iter_texts(spec: CorpusSpec) -> Iterator[str]:
    """The corpus's inputs in order, lazily."""
    count = 0
    if spec.path is None:
        for idx in range(spec.limit or 0):
            yield synthetic_text(spec.seed, idx)
        return
    for lineno, line in _lines(spec.path):
        if spec.limit is not None and count >= spec.limit:
            return
        if not line.strip():
            continue
        if spec.field is None:
            text = line
        else:
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise UsageError(f"corpus {spec.path}:{lineno}: not JSON ({exc})") from None
            value = doc.get(spec.field) if isinstance(doc, dict) else None
            if not isinstance(value, str):
                raise UsageError(f"corpus {spec.path}:{lineno}: no string field {spec.field!r}")
            text = value
        count += 1
        yield text


@dataclass(frozen=True)
class Batch:
    no: int
    start: int
    texts: list[str]

    @property
    def idxs(self) -> range:
        return range(self.start, self.start + len(self.texts))


def batches(texts: Iterable[str], size: int) -> Iterator[Batch]:
    """Group inputs into numbered batches; sample indices are global positions in the corpus."""
    chunk: list[str] = []
    no = start = 0
    for text in texts:
        chunk.append(text)
        if len(chunk) == size:
            yield Batch(no, start, chunk)
            no, start, chunk = no + 1, start + size, []
    if chunk:
        yield Batch(no, start, chunk)

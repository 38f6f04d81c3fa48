"""Corpora: where sample inputs come from. Always streamed, never held whole in memory.

- a text file: one input per line (blank lines skipped), or as the probe reads lines (SQL statements);
- JSON Lines: one object per line, the input in `field`;
- captured traffic (`format="requests"`): one request body per line as the legacy gateway logged it, parsed
  with the legacy profile's request parser into the probe's inputs; a bad line is counted, never fatal;
- synthetic: a seeded generator (`--samples N`), the same N inputs on every machine;
- listed: inputs the probe reads from the legacy gateway itself (storage's `--list-prefix`), see
  `Probe.gateway_inputs` and `SweepSpec.inputs`.

What an input is belongs to the probe (`Probe.item_from_text`, `item_from_json`, `synthetic`,
`items_from_request`): a text for embed, a query, a statement, a conversation for the others.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from farm.errors import UsageError
from farm.probes.base import MalformedBody, Probe, Profile

FORMATS = ("lines", "jsonl", "requests")

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
    format: str | None = None  # None: lines, or jsonl when `field` is set; "requests": captured bodies
    listed: str | None = None  # the probe lists its inputs through the legacy gateway (Probe.gateway_inputs)
    order: str = "file"  # "random": a seeded permutation of every input (farm.order), then `limit` of them
    order_seed: int | None = None

    @property
    def synthetic(self) -> bool:
        return self.path is None and self.listed is None

    @property
    def shuffled(self) -> bool:
        """Whether the inputs are drawn in a seeded random order (a synthetic set is random by construction)."""
        return self.order == "random" and not self.synthetic

    @property
    def kind(self) -> str:
        return self.format or ("jsonl" if self.field else "lines")

    def describe(self) -> str:
        if self.path is None and self.listed is None:
            return f"synthetic(seed={self.seed}, n={self.limit})"
        source = self.listed or (f"{self.path}#{self.field}" if self.field else str(self.path))
        if self.format == "requests":
            source = f"requests:{source}"
        if self.shuffled:
            taken = "" if self.limit is None else f"{self.limit} of "
            return f"{taken}{source} in random order (seed {self.order_seed})"
        return source if self.limit is None else f"{source}[:{self.limit}]"

    def validate(self) -> None:
        if self.order not in ("random", "file"):
            raise UsageError(f"--order {self.order!r}: expected random or file")
        if self.listed is not None:
            if self.path is not None:
                raise UsageError(f"{self.listed} and --corpus {self.path} are two sources of inputs: give one")
            return
        if self.path is None:
            if not self.limit or self.limit < 1:
                raise UsageError("a synthetic corpus needs --samples N (N >= 1), or give --corpus FILE")
            return
        if self.kind not in FORMATS:
            raise UsageError(f"--corpus-format {self.format!r}: expected one of {', '.join(FORMATS)}")
        path = Path(self.path)
        if path.is_dir():
            raise UsageError(f"corpus {self.path}: is a directory, not a file")
        if not path.is_file():
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


@dataclass
class CorpusStats:
    """What reading a corpus skipped: captured request bodies that did not parse (never a crash)."""

    bad_lines: int = 0
    first_bad: str | None = None
    position: str | None = None  # file:line of the input last yielded (None: not from a file)

    def bad(self, where: str) -> None:
        self.bad_lines += 1
        self.first_bad = self.first_bad or where


_TEXT_PROBE = Probe()  # the defaults: inputs are texts (what a corpus is without a probe named)


def iter_items(spec: CorpusSpec, probe: Probe | None = None, request_profile: Profile | None = None,
               stats: CorpusStats | None = None) -> Iterator[Any]:
    """The corpus's inputs in order, lazily, as the probe's items."""
    probe = probe or _TEXT_PROBE
    count = 0
    if spec.path is None:
        for idx in range(spec.limit or 0):
            yield probe.synthetic(spec.seed, idx)
        return
    kind = spec.kind
    if kind == "lines":
        try:
            for lineno, item in probe.items_from_lines(_lines(spec.path)):
                if spec.limit is not None and count >= spec.limit:
                    return
                count += 1
                if stats is not None:
                    stats.position = f"{spec.path}:{lineno}"
                yield item
        except MalformedBody as exc:
            raise UsageError(f"corpus {spec.path}: {exc}") from None
        return
    if kind == "requests" and request_profile is None:
        raise UsageError("--corpus-format requests needs the legacy gateway's wire profile")
    for lineno, line in _lines(spec.path):
        if spec.limit is not None and count >= spec.limit:
            return
        if not line.strip():
            continue
        where = f"{spec.path}:{lineno}"
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if kind == "requests" and stats is not None:
                stats.bad(f"{where}: not JSON ({exc})")
                continue
            raise UsageError(f"corpus {where}: not JSON ({exc})") from None
        try:
            if kind == "requests":
                if not isinstance(doc, dict):
                    raise MalformedBody("a request body must be a JSON object")
                assert request_profile is not None
                items = probe.items_from_request(request_profile, doc)
            else:
                value = doc.get(spec.field) if isinstance(doc, dict) else None
                if value is None:
                    raise MalformedBody(f"no string field {spec.field!r}")
                try:
                    items = [probe.item_from_json(value)]
                except MalformedBody as exc:
                    raise MalformedBody(f"field {spec.field!r}: {exc}") from None
        except MalformedBody as exc:
            if kind == "requests" and stats is not None:
                stats.bad(f"{where}: {exc}")
                continue
            raise UsageError(f"corpus {where}: {exc}") from None
        for item in items:
            if spec.limit is not None and count >= spec.limit:
                return
            count += 1
            if stats is not None:
                stats.position = where
            yield item


def count_items(spec: CorpusSpec, probe: Probe | None = None, request_profile: Profile | None = None) -> int | None:
    """How many inputs the corpus holds (the progress bar's total): a cheap first pass over a file."""
    probe = probe or _TEXT_PROBE
    if spec.path is None:
        return spec.limit
    if spec.kind == "lines" and type(probe).items_from_lines is not Probe.items_from_lines:
        return sum(1 for _ in iter_items(spec, probe))  # inputs are not lines here (SQL statements)
    if spec.kind != "requests":
        n = 0
        with open(spec.path, "rb") as fh:
            for line in fh:
                n += bool(line.strip())
                if spec.limit is not None and n >= spec.limit:
                    break
        return n
    return sum(1 for _ in iter_items(spec, probe, request_profile, CorpusStats()))


@dataclass(frozen=True)
class Batch:
    no: int
    start: int
    items: list[Any]

    @property
    def idxs(self) -> range:
        return range(self.start, self.start + len(self.items))


def batches(items: Iterable[Any], size: int) -> Iterator[Batch]:
    """Group inputs into numbered batches; sample indices are global positions in the corpus."""
    chunk: list[Any] = []
    no = start = 0
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield Batch(no, start, chunk)
            no, start, chunk = no + 1, start + size, []
    if chunk:
        yield Batch(no, start, chunk)

"""Streaming reads of a root's JSON Lines files, shared by the phases.

A phase is a *fold*: it names the datasets it reads, receives each record once, and builds its result at the
end. `scan(root, profile, folds)` parses every line once (orjson) and hands it to every fold that reads that
dataset, so a full audit reads each file once and memory stays flat however large the files are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson

from farm.audit.batch import BadLine, Batch
from farm.audit.layout import SCAN_ORDER
from farm.audit.paths import discover
from farm.audit.profile import AuditProfile
from farm.audit.result import FAIL, PASS, Check, PhaseResult
from farm.audit.schema import Schema

MAX_OFFENDERS = 10


READ_BYTES = 1 << 20  # the file is read from disk in ~1 MiB blocks ...
BATCH_BYTES = 1 << 15  # ... and handed to the phases ~32 KiB of lines at a time, so a batch stays in cache


class Progress(Protocol):
    """Where a long audit says how far it is (the CLI's bar on a terminal); the audit never needs one."""

    def stage(self, description: str, total_bytes: int | None = None) -> None:
        """A new stage (a phase, the shared scan), with the bytes it will read when known."""

    def advance(self, nbytes: int) -> None:
        """`nbytes` more of the stage's bytes read."""


class Fold(Protocol):
    datasets: tuple[str, ...]

    def start(self, files: dict[str, list[str]]) -> None:
        """Called once before any record, with each dataset's files (relative to the root; empty if absent)."""

    def feed(self, dataset: str, batch: Batch) -> None:
        """One batch of one file of `dataset`."""

    def finish(self) -> PhaseResult: ...


def resolve(root: str | Path, pattern: str) -> list[str]:
    """Files a dataset path (a path or a glob) names under `root`, relative to it, sorted, each file once and
    never through a symlink out of the root or around a loop (see `farm.audit.paths`)."""
    return discover(root, pattern).files


def _slow(rel: str, first: int, lines: list[bytes]) -> Batch:
    recs: list[dict[str, Any]] = []
    nos: list[int] = []
    bad: list[BadLine] = []
    for i, line in enumerate(lines):
        if not line.strip(b" \t\r\n"):  # blank: JSON whitespace only (a form feed is a bad line)
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            bad.append(BadLine(first + i, f"not JSON ({str(exc).split(':')[0]})"))
            continue
        if type(value) is dict:
            recs.append(value)
            nos.append(first + i)
        else:
            bad.append(BadLine(first + i, f"expected a JSON object, got {type(value).__name__}"))
    return Batch(rel, first, recs, nos, bad)


# Where one line would hold the end of one record and the start of the next: `}`, a comma, `{`, with only JSON
# whitespace between (never a newline). A block without it parses as an array of its lines in one call.
_TWO_ON_A_LINE = re.compile(rb"\}[ \t\r]*,[ \t\r]*\{")


def _blocks(fh: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """The file's text in blocks of whole lines (about `BATCH_BYTES` each), each without its final newline,
    and whether that newline was there (only the file's last line may lack it). Reads `READ_BYTES` at a time
    and slices the blocks out of that, so each byte is copied once on the way."""
    rest: list[bytes] = []  # the start of a line cut off by the end of the previous read
    while data := fh.read(READ_BYTES):
        start, size = 0, len(data)
        while start < size:
            cut = data.rfind(b"\n", start, start + BATCH_BYTES)
            if cut < 0:  # no line ends in the next BATCH_BYTES: a long line
                cut = data.find(b"\n", start + BATCH_BYTES)
                if cut < 0:
                    rest.append(data[start:] if start else data)
                    break
            if rest:
                rest.append(data[start:cut])
                yield b"".join(rest), True
                rest = []
            else:
                yield data[start:cut], True
            start = cut + 1
    if rest:
        yield b"".join(rest), False


def _parse(rel: str, first: int, block: bytes, terminated: bool) -> tuple[Batch, int]:
    """One block's batch and its number of lines.

    Fast path: the block's lines joined by commas into one JSON array, parsed by one `orjson.loads`. That is the
    per-line parse exactly when it yields one object per line and no line holds `}` `,` `{` at its own top
    level: every separator of the array's values is then one of the inserted commas, so each value is one whole
    line. Anything else (blank lines, bad JSON, non-objects, a `},{` anywhere, even inside a string) goes line
    by line."""
    joined = block.replace(b"\n", b", ")
    n = len(joined) - len(block) + 1  # one more byte per newline: the line count without a counting pass
    if _TWO_ON_A_LINE.search(block) is None:
        try:
            recs = orjson.loads(b"[" + joined + b"]")
        except orjson.JSONDecodeError:
            pass
        else:
            if len(recs) == n and set(map(type, recs)) == {dict}:
                return Batch(rel, first, recs, None, []), n
    lines = [line + b"\n" for line in block.split(b"\n")]
    if not terminated:
        lines[-1] = lines[-1][:-1]
    try:
        recs = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        return _slow(rel, first, lines), n
    if set(map(type, recs)) == {dict}:
        return Batch(rel, first, recs, None, []), n
    return _slow(rel, first, lines), n


class FileStats:
    """What one file held: lines (a final line without a newline counts), blank lines (only spaces, tabs, CR),
    readable records and bad lines (`farm.audit.schema`: not JSON, not an object, or not its dataset's schema;
    the lines phase 1 counts). lines = blank + records + bad."""

    __slots__ = ("bad", "blank", "dataset", "lines", "path", "records")

    def __init__(self, dataset: str, path: str) -> None:
        self.dataset, self.path = dataset, path
        self.lines = self.blank = self.records = self.bad = 0

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "path": self.path, "lines": self.lines, "blank": self.blank,
                "records": self.records, "bad": self.bad}


def iter_batches(root: str | Path, rel: str, stats: FileStats | None = None,
                 readable: Callable[[Batch], Batch] | None = None,
                 advance: Callable[[int], None] | None = None) -> Iterator[Batch]:
    """The file's lines in parsed batches, streamed (about `BATCH_BYTES` of text at a time); `readable` (a
    `Schema.readable`) moves the records that fail their schema to the bad lines; `advance` hears the bytes."""
    first = 1
    with open(Path(root) / rel, "rb", buffering=READ_BYTES) as fh:
        for block, terminated in _blocks(fh):
            if advance is not None:
                advance(len(block) + terminated)
            batch, n = _parse(rel, first, block, terminated)
            if readable is not None:
                batch = readable(batch)
            if stats is not None:
                stats.lines += n
                stats.records += len(batch.recs)
                stats.bad += len(batch.bad)
            yield batch
            first += n
    if stats is not None:
        stats.blank = stats.lines - stats.records - stats.bad


def scan(root: str | Path, profile: AuditProfile, folds: Sequence[Fold],
         progress: Progress | None = None) -> list[PhaseResult]:
    """Feed every batch of the datasets the folds read to those folds, each file read and parsed once, and
    only its readable records (`farm.audit.schema`): every fold skips the lines phase 1 reports. Each result
    lists the files of its datasets with their line counts (`PhaseResult.files`)."""
    schema = Schema(profile)
    wanted = {d for f in folds for d in f.datasets}
    files = {d: resolve(root, profile.paths[d]) for d in SCAN_ORDER if d in wanted}
    for fold in folds:
        fold.start({d: files[d] for d in fold.datasets})
    advance = None
    if progress is not None:
        total = sum(os.path.getsize(Path(root) / rel) for paths in files.values() for rel in paths)
        progress.stage(f"scanning {sum(map(len, files.values()))} files", total)
        advance = progress.advance
    stats: list[FileStats] = []
    for dataset, paths in files.items():
        feeders = [f.feed for f in folds if dataset in f.datasets]
        def readable(batch: Batch, dataset: str = dataset) -> Batch:
            return schema.readable(dataset, batch)

        for rel in paths:
            st = FileStats(dataset, rel)
            stats.append(st)
            for batch in iter_batches(root, rel, st, readable, advance):
                for feed in feeders:
                    feed(dataset, batch)
    results = []
    for fold in folds:
        result = fold.finish()
        result.files = [s.to_dict() for s in stats if s.dataset in fold.datasets]
        results.append(result)
    return results


class Offenders:
    """Counts offending records and keeps the first few as `file:line: reason`."""

    __slots__ = ("count", "first")

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []

    def add(self, rel: str, no: int, reason: str) -> None:
        self.count += 1
        if len(self.first) < MAX_OFFENDERS:
            self.first.append(f"{rel}:{no}: {reason}" if no else f"{rel}: {reason}")

    def check(self, name: str, phase: int, required: bool, ok: str, bad: str) -> Check:
        """A check that passes when nothing offended; `bad` may use `{n}` for the count."""
        if self.count == 0:
            return Check(name, phase, required, PASS, ok)
        return Check(name, phase, required, FAIL, bad.format(n=self.count), list(self.first), self.count)

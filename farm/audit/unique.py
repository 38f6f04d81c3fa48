"""Duplicate detection in a stream: the first place each key was seen, so a repeat names both lines.

Keys are kept as their 64-bit hash with a packed location (file index, line): about 100 bytes per distinct key,
never the rows themselves. Two different keys share a hash with probability about n^2 / 2^65 (3e-6 at 10
million keys); such a pair would be reported as a duplicate, never hidden. Batches without a repeat are
handled with C-level dict operations only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from farm.audit.batch import Batch

_SHIFT = 32  # line numbers below 2^32 per file


class Seen:
    """First occurrences of keys over a stream of batches."""

    __slots__ = ("_file_index", "files", "first")

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.files: list[str] = []
        self._file_index: dict[str, int] = {}

    def where(self, loc: int) -> str:
        return f"{self.files[loc >> _SHIFT]}:{loc & ((1 << _SHIFT) - 1)}"

    def add(self, batch: Batch, keys: Sequence[Any]) -> list[tuple[int, str]]:
        """Record the batch's keys (None: the record has no usable key and is left out); returns, for each
        repeat, its index in the batch and `file:line` of the key's first occurrence."""
        fi = self._file_index.get(batch.rel)
        if fi is None:
            fi = self._file_index[batch.rel] = len(self.files)
            self.files.append(batch.rel)
        base = fi << _SHIFT
        if batch.nos is None:
            locs: Sequence[int] = range(base + batch.first, base + batch.first + len(keys))
        else:
            locs = [base + n for n in batch.nos]
        if None not in keys:
            hashes = list(map(hash, keys))
            fresh = dict(zip(hashes, locs, strict=True))
            if len(fresh) == len(hashes) and self.first.keys().isdisjoint(fresh):
                self.first.update(fresh)
                return []
        repeats: list[tuple[int, str]] = []
        first = self.first
        for i, (key, loc) in enumerate(zip(keys, locs, strict=True)):
            if key is None:
                continue
            h = hash(key)
            prev = first.setdefault(h, loc)
            if prev != loc:
                repeats.append((i, self.where(prev)))
        return repeats


def str_keys(batch: Batch, names: Sequence[str]) -> list[Any]:
    """The batch's keys over the string fields `names`: the value (one field) or the tuple of values; None where
    a value is not a string (phase 1 reports those)."""
    cols = batch.cols(names)
    if all(batch.joined(n) is not None for n in names):
        return cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))
    if len(cols) == 1:
        return [v if type(v) is str else None for v in cols[0]]
    return [t if all(type(v) is str for v in t) else None for t in zip(*cols, strict=True)]


def repeats_in(batch: Batch, seen: Seen, names: Sequence[str]) -> list[tuple[int, str]]:
    """`seen.add` over the key fields `names`, memoised on the batch, so the folds of one shared scan that key
    the same dataset the same way (phases 3 and 6) pay for it once; each fold keeps its own `Seen` for when it
    runs alone."""
    memo = batch.memo
    key = ("repeats", *names)
    if key not in memo:
        memo[key] = seen.add(batch, str_keys(batch, names))
    result: list[tuple[int, str]] = memo[key]
    return result

"""A batch of parsed lines of one file, with column caches shared by the phases (see `farm.audit.scan`)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter, methodcaller
from typing import Any


class BadLine:
    """A line that is not a JSON object (only phase 1 reports these; other phases skip them)."""

    __slots__ = ("no", "reason")

    def __init__(self, no: int, reason: str) -> None:
        self.no, self.reason = no, reason


class Batch:
    """About `BATCH_BYTES` of consecutive lines of one file, parsed: `recs` are the JSON objects, `bad` the rest.

    Phases work on whole batches with C-level operations (`map`, `str.join`, set algebra, `Counter`) and only
    walk records one by one in Python when a batch has something to report. A column (`cols`), its text
    (`joined`) and its distinct values (`distinct`) are computed once per batch and shared by every phase that
    reads them.
    """

    __slots__ = ("_absent", "_cols", "_distinct", "_joined", "_keys", "bad", "first", "memo", "nos", "recs", "rel")

    def __init__(self, rel: str, first: int, recs: list[dict[str, Any]], nos: list[int] | None,
                 bad: list[BadLine]) -> None:
        self.rel, self.first, self.recs, self.nos, self.bad = rel, first, recs, nos, bad
        self._cols: dict[str, list[Any]] = {}
        self._joined: dict[str, str | None] = {}
        self._distinct: dict[str, set[str] | None] = {}
        self._absent: set[str] = set()
        self._keys: dict[str, str] | None = None
        self.memo: dict[tuple[str, ...], Any] = {}  # per-batch results shared by the folds of one scan

    def line(self, i: int) -> int:
        """The 1-based line number of `recs[i]`."""
        return self.nos[i] if self.nos is not None else self.first + i

    def cols(self, keys: Sequence[str]) -> list[list[Any]]:
        """The records' values for each of `keys` (`rec.get(key)`: None where a record lacks the key)."""
        cache = self._cols
        for key in keys:
            if key not in cache:
                if self._keys is None:  # the parser's own key objects: lookups then match by identity
                    self._keys = {k: k for k in self.recs[0]} if self.recs else {}
                own = self._keys.get(key, key)
                try:
                    cache[key] = list(map(itemgetter(own), self.recs))
                except KeyError:
                    self._absent.add(key)
                    cache[key] = list(map(methodcaller("get", own), self.recs))
        return [cache[key] for key in keys]

    def lacks(self, keys: Sequence[str]) -> bool:
        """True when some record has no value for one of `keys` (after `cols(keys)`)."""
        return not self._absent.isdisjoint(keys)

    def joined(self, key: str) -> str | None:
        """The column of `key` joined with newlines when every value is a string, else None."""
        cache = self._joined
        if key not in cache:
            try:
                cache[key] = "\n".join(self.cols((key,))[0])
            except TypeError:
                cache[key] = None
        return cache[key]

    def distinct(self, key: str) -> set[str] | None:
        """The distinct values of the column of `key` when every value is a string, else None."""
        cache = self._distinct
        if key not in cache:
            cache[key] = None if self.joined(key) is None else set(self._cols[key])
        return cache[key]

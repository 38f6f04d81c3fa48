"""What a *readable* line is, once for every phase: a JSON object with its dataset's fields, of the right types
(and, for scored runs, a known verdict). `Schema.readable` moves every other record of a batch to its bad
lines, so phase 1 reports exactly the lines the other phases never see (docs/audit-layout.md: "a count never
includes a line it could not read")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from farm.audit.batch import BadLine, Batch
from farm.audit.layout import BOOL, COUNTS, INT, NUM, OPT_NUM, OPT_STR, SCAN_ORDER, SCORED_RUNS, SPECS, STR, STR_LIST
from farm.audit.profile import AuditProfile


def _is_num(v: Any) -> bool:
    return type(v) is int or type(v) is float


_TYPES: dict[str, Callable[[Any], bool]] = {
    STR: lambda v: type(v) is str,
    INT: lambda v: type(v) is int,
    NUM: _is_num,
    BOOL: lambda v: type(v) is bool,
    OPT_STR: lambda v: v is None or type(v) is str,
    OPT_NUM: lambda v: v is None or _is_num(v),
    STR_LIST: lambda v: type(v) is list and all(type(x) is str for x in v),
    COUNTS: lambda v: type(v) is dict and all(type(x) is int and x >= 0 for x in v.values()),
}
_MISSING = object()

_FAST_TYPES: dict[str, frozenset[type]] = {
    INT: frozenset({int}), NUM: frozenset({int, float}), BOOL: frozenset({bool}),
    OPT_STR: frozenset({str, type(None)}), OPT_NUM: frozenset({int, float, type(None)}),
}
# A batch plan: the keys to read and, per key, the types allowed (None: strings, tested by `Batch.joined`).
_Plan = tuple[tuple[str, ...], list[frozenset[type] | None]]


class Schema:
    """The record schemas of a profile (its field names and verdict values)."""

    def __init__(self, profile: AuditProfile) -> None:
        self.fields: dict[str, list[tuple[str, str, Callable[[Any], bool]]]] = {
            ds: [(profile.field_name(ds, f), t, _TYPES[t]) for f, t in SPECS[ds].fields] for ds in SCAN_ORDER
        }
        self.verdict_key = profile.field_name(SCORED_RUNS, "verdict")
        self.verdicts = frozenset(profile.verdict_values.values())
        self.plans: dict[str, _Plan | None] = {ds: self._fast_plan(ds) for ds in SCAN_ORDER}

    def _fast_plan(self, dataset: str) -> _Plan | None:
        """Per field, a whole-column test (None when a field needs a nested check)."""
        keys: list[str] = []
        tests: list[frozenset[type] | None] = []
        for key, tname, _ in self.fields[dataset]:
            if tname != STR and tname not in _FAST_TYPES:
                return None
            keys.append(key)
            tests.append(_FAST_TYPES.get(tname))
        return tuple(keys), tests

    def _batch_ok(self, dataset: str, batch: Batch) -> bool:
        """True when every record is valid, decided per column with C-level operations (no per-record Python)."""
        plan = self.plans[dataset]
        if plan is None:
            return False
        keys, tests = plan
        cols = batch.cols(keys)
        if batch.lacks(keys):  # a missing field
            return False
        for key, col, allowed in zip(keys, cols, tests, strict=True):
            if allowed is None:
                if batch.joined(key) is None:
                    return False
            elif not set(map(type, col)) <= allowed:
                return False
        if dataset != SCORED_RUNS:
            return True
        verdicts = batch.distinct(self.verdict_key)  # a string column here, so never None
        return verdicts is not None and verdicts <= self.verdicts

    def reason(self, dataset: str, rec: dict[str, Any]) -> str | None:
        """Why `rec` is not a readable record of `dataset`, or None when it is."""
        for key, tname, ok in self.fields[dataset]:
            value = rec.get(key, _MISSING)
            if value is _MISSING:
                return f"missing field {key!r}"
            if not ok(value):
                return f"field {key!r} should be {tname}, got {type(value).__name__} {value!r:.40}"
        if dataset == SCORED_RUNS and rec[self.verdict_key] not in self.verdicts:
            return f"{self.verdict_key} {rec[self.verdict_key]!r:.40} is not one of {', '.join(sorted(self.verdicts))}"
        return None

    def readable(self, dataset: str, batch: Batch) -> Batch:
        """`batch` itself when every record is readable, else a batch of its readable records with the others
        added to its bad lines (in line order)."""
        if not batch.recs or self._batch_ok(dataset, batch):
            return batch
        recs: list[dict[str, Any]] = []
        nos: list[int] = []
        bad = list(batch.bad)
        for i, rec in enumerate(batch.recs):
            why = self.reason(dataset, rec)
            if why is None:
                recs.append(rec)
                nos.append(batch.line(i))
            else:
                bad.append(BadLine(batch.line(i), why))
        if len(recs) == len(batch.recs):
            return batch
        bad.sort(key=lambda b: b.no)
        return Batch(batch.rel, batch.first, recs, nos, bad)

"""Phase 1: schema validation. Every line of every dataset is a JSON object with the fields its schema
names, of the right types; bad lines are reported as `file:line: reason` and counted, never raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from farm.audit.layout import BOOL, COUNTS, INT, NUM, OPT_NUM, OPT_STR, SCAN_ORDER, SCORED_RUNS, SPECS, STR, STR_LIST
from farm.audit.profile import AuditProfile
from farm.audit.result import PhaseResult
from farm.audit.scan import Batch, Offenders


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


class SchemaFold:
    datasets: tuple[str, ...] = SCAN_ORDER

    def __init__(self, profile: AuditProfile) -> None:
        self.profile = profile
        self.bad = Offenders()
        self.records = 0
        self.schemas: dict[str, list[tuple[str, str, Callable[[Any], bool]]]] = {
            ds: [(profile.field_name(ds, f), t, _TYPES[t]) for f, t in SPECS[ds].fields] for ds in SCAN_ORDER
        }
        self.verdict_key = profile.field_name(SCORED_RUNS, "verdict")
        self.verdicts = frozenset(profile.verdict_values.values())
        self.plans: dict[str, _Plan | None] = {ds: self._fast_plan(ds) for ds in SCAN_ORDER}

    def start(self, files: dict[str, list[str]]) -> None:
        pass

    def _fast_plan(self, dataset: str) -> _Plan | None:
        """Per field, a whole-column test (None when a field needs a nested check)."""
        keys: list[str] = []
        tests: list[frozenset[type] | None] = []
        for key, tname, _ in self.schemas[dataset]:
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

    def _reason(self, dataset: str, rec: dict[str, Any]) -> str | None:
        for key, tname, ok in self.schemas[dataset]:
            value = rec.get(key, _MISSING)
            if value is _MISSING:
                return f"missing field {key!r}"
            if not ok(value):
                return f"field {key!r} should be {tname}, got {type(value).__name__} {value!r:.40}"
        if dataset == SCORED_RUNS and rec[self.verdict_key] not in self.verdicts:
            return f"{self.verdict_key} {rec[self.verdict_key]!r:.40} is not one of {', '.join(sorted(self.verdicts))}"
        return None

    def feed(self, dataset: str, batch: Batch) -> None:
        self.records += len(batch.recs) + len(batch.bad)
        found = [(bad.no, bad.reason) for bad in batch.bad]
        if not self._batch_ok(dataset, batch):
            for i, rec in enumerate(batch.recs):
                reason = self._reason(dataset, rec)
                if reason is not None:
                    found.append((batch.line(i), reason))
        for no, reason in sorted(found):
            self.bad.add(batch.rel, no, reason)

    def finish(self) -> PhaseResult:
        check = self.bad.check(
            "p1_schema_valid", 1, True, f"all {self.records} records match their schema",
            f"{{n}} of {self.records} records are malformed",
        )
        metrics: dict[str, int | float] = {"p1_records": self.records, "p1_bad_lines": self.bad.count}
        return PhaseResult(1, "schema validation", [check], metrics)

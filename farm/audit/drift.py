"""The drift table: the current audit's metrics against the latest baseline (and the runs before it).

Rules (BRIEF.md, "Drift table for audit baselines"):
- invariants (contamination overlap, self-pairs, malformed hashes, ...): any value > 0 is FAIL;
- counts: DRIFT when |delta| > abs_floor AND |delta| / max(|baseline|, abs_floor) > ratio;
- zero baseline: 0 -> 0 is OK, 0 -> x is NEW_NONZERO (never silent); x -> 0 is -100% under the count rule;
- first run: NO_BASELINE; a metric that appears: NEW_METRIC; one that vanished: MISSING;
- with `min_history` or more earlier runs holding the metric, also OUTLIER when the value lies outside
  mean +/- sigma * stdev (sample) of those runs *and* further than abs_floor from the mean (so a metric
  that never moved does not flag a change of 1).
The drift table reports; it never changes the audit's exit code (required checks do).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OK, FAIL, DRIFT, OUTLIER = "OK", "FAIL", "DRIFT", "OUTLIER"
NEW_NONZERO, NO_BASELINE, NEW_METRIC, MISSING, CHANGED = (
    "NEW_NONZERO", "NO_BASELINE", "NEW_METRIC", "MISSING", "CHANGED",
)
FLAGGED = frozenset({FAIL, DRIFT, OUTLIER, NEW_NONZERO, MISSING, CHANGED})
INVARIANT, COUNT = "invariant", "count"

DEFAULT_INVARIANTS: frozenset[str] = frozenset({
    "p0_required_missing", "p1_bad_lines", "p4_sft_contaminated", "p4_rag_contaminated", "p4_pref_contaminated",
    "p4_self_pairs", "p4_bad_sig_hash", "p2_missing_outputs", "p5_receipt_mismatches", "p6_replay_mismatches",
    "p7_lineage_errors", "p0_required_empty", "p0_path_problems", "p3_duplicate_records", "p4_duplicate_sig_hash",
    "p4_duplicate_quarantine",
})


@dataclass(frozen=True)
class DriftRules:
    abs_floor: float = 5.0
    ratio: float = 0.10
    sigma: float = 3.0
    min_history: int = 5
    invariants: frozenset[str] = field(default=DEFAULT_INVARIANTS)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DriftRules:
        """From a profile's `drift` table; `invariants` there are added to the defaults."""
        base = cls()
        return cls(
            abs_floor=float(data.get("abs_floor", base.abs_floor)), ratio=float(data.get("ratio", base.ratio)),
            sigma=float(data.get("sigma", base.sigma)), min_history=int(data.get("min_history", base.min_history)),
            invariants=base.invariants | frozenset(data.get("invariants", ())),
        )


@dataclass
class DriftRow:
    metric: str
    kind: str
    baseline: Any
    current: Any
    abs_delta: float | None
    rel_delta: float | None
    rule: str
    status: str
    baseline_run: str | None = None

    @property
    def flagged(self) -> bool:
        return self.status in FLAGGED

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "kind": self.kind, "baseline": self.baseline, "current": self.current,
            "abs_delta": self.abs_delta, "rel_delta": self.rel_delta, "rule": self.rule, "status": self.status,
            "baseline_run": self.baseline_run,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftRow:
        return cls(
            str(data["metric"]), str(data["kind"]), data.get("baseline"), data.get("current"), data.get("abs_delta"),
            data.get("rel_delta"), str(data["rule"]), str(data["status"]), data.get("baseline_run"),
        )


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _row(metric: str, current: Any, history: Sequence[Mapping[str, Any]], rules: DriftRules,
         run: str | None) -> DriftRow:
    kind = INVARIANT if metric in rules.invariants else COUNT
    baseline: Any = history[-1].get(metric) if history else None
    has_base = bool(history) and metric in history[-1]

    def row(rule: str, status: str, abs_d: float | None = None, rel_d: float | None = None) -> DriftRow:
        return DriftRow(metric, kind, baseline, current, abs_d, rel_d, rule, status, run)

    if current is None:
        return row("metric vanished from this run", MISSING)
    # integers stay integers (a count's delta is a count); floats stay floats
    abs_d = current - baseline if has_base and _num(current) and _num(baseline) else None
    rel_d = (abs_d / abs(baseline)) if abs_d is not None and baseline != 0 else None
    if kind == INVARIANT and _num(current) and current > 0:
        return row("invariant: must be 0", FAIL, abs_d, rel_d)
    if not history:
        return row("first run", NO_BASELINE)
    if not has_base:
        return row("not in the baseline", NEW_METRIC)
    if not (_num(current) and _num(baseline)):
        return row("non-numeric: must be equal", OK if current == baseline else CHANGED)
    assert abs_d is not None and baseline is not None
    if kind == INVARIANT:
        return row("invariant: must be 0", OK, abs_d, rel_d)
    if baseline == 0:
        return row("zero baseline: 0 -> x is never silent", OK if current == 0 else NEW_NONZERO, abs_d, None)
    floor, ratio = rules.abs_floor, rules.ratio
    if abs(abs_d) > floor and abs(abs_d) / max(abs(baseline), floor) > ratio:
        return row(f"|d| > {floor:g} and |d|/max(|b|, {floor:g}) > {ratio:g}", DRIFT, abs_d, rel_d)
    earlier = [h[metric] for h in history if _num(h.get(metric))]
    if len(earlier) >= rules.min_history:
        mean, sd = statistics.fmean(earlier), statistics.stdev(earlier)
        rule = f"mean +/- {rules.sigma:g} sigma of {len(earlier)} runs"
        if abs(current - mean) > rules.sigma * sd and abs(current - mean) > floor:
            return row(rule, OUTLIER, abs_d, rel_d)
        return row(rule, OK, abs_d, rel_d)
    return row(f"|d| > {floor:g} and |d|/max(|b|, {floor:g}) > {ratio:g}", OK, abs_d, rel_d)


def drift_table(
    current: Mapping[str, Any], history: Sequence[Mapping[str, Any]], rules: DriftRules | None = None,
    baseline_run: str | None = None,
) -> list[DriftRow]:
    """One row per metric in the current run or the latest baseline; `history` is oldest first."""
    rules = rules or DriftRules()
    names = set(current) | (set(history[-1]) if history else set())
    return [_row(m, current.get(m), history, rules, baseline_run) for m in sorted(names)]

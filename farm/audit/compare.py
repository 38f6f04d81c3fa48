"""Cross-implementation parity: do two audits agree, metric by metric?

Each side is a baseline entry (`LOG@N`, N counted from 0, negative from the end), a baseline log (its last
entry), or a data root (audited now). Metrics present on both sides must be equal; a metric on one side
only is listed (implementations may cover different phases, as the seed's Go port covered 0, 3 and 4) and
only fails the comparison with `strict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.audit.baselines import load_log
from farm.audit.paths import path_problem
from farm.audit.profile import AuditProfile
from farm.errors import UsageError

EQUAL, DIFFERENT, ONLY_A, ONLY_B = "EQUAL", "DIFFERENT", "ONLY_A", "ONLY_B"


@dataclass(frozen=True)
class Side:
    label: str
    metrics: dict[str, Any]
    implementation: str | None
    warning: str | None = None  # lines of its log that are not entries (`BaselineLog.garbage`)


@dataclass(frozen=True)
class CompareRow:
    metric: str
    a: Any
    b: Any
    status: str


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    rows: list[CompareRow]

    def agree(self, strict: bool = False) -> bool:
        bad = {DIFFERENT, ONLY_A, ONLY_B} if strict else {DIFFERENT}
        return any(r.status == EQUAL for r in self.rows) and not any(r.status in bad for r in self.rows)

    def summary(self, strict: bool = False) -> str:
        n = {s: sum(r.status == s for r in self.rows) for s in (EQUAL, DIFFERENT, ONLY_A, ONLY_B)}
        verdict = "AGREE" if self.agree(strict) else "DISAGREE"
        return (f"{verdict}: {n[EQUAL]} metrics equal, {n[DIFFERENT]} different, {n[ONLY_A]} only in A, "
                f"{n[ONLY_B]} only in B")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool | str):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return bool(a == b)


def compare_metrics(a: Side, b: Side) -> Comparison:
    rows = []
    for m in sorted(set(a.metrics) | set(b.metrics)):
        if m not in b.metrics:
            rows.append(CompareRow(m, a.metrics[m], None, ONLY_A))
        elif m not in a.metrics:
            rows.append(CompareRow(m, None, b.metrics[m], ONLY_B))
        else:
            va, vb = a.metrics[m], b.metrics[m]
            rows.append(CompareRow(m, va, vb, EQUAL if _same(va, vb) else DIFFERENT))
    rank = {DIFFERENT: 0, ONLY_A: 1, ONLY_B: 1, EQUAL: 2}
    rows.sort(key=lambda r: (rank[r.status], r.metric))  # what differs first
    return Comparison(a, b, rows)


def side_from_log(spec: str) -> Side:
    """`LOG` (its last valid entry) or `LOG@N`."""
    path, index = spec, None
    if "@" in spec and not Path(spec).exists():
        path, _, raw = spec.rpartition("@")
        try:
            index = int(raw)
        except ValueError:
            raise UsageError(f"{spec!r}: expected LOG@N with an integer N") from None
    problem = path_problem(path)
    if problem is not None:
        raise UsageError(f"{path!r} is not a baseline log file: {problem}")
    if not Path(path).is_file():
        raise UsageError(f"{path!r} is not a baseline log file")
    log = load_log(path)
    valid = log.valid
    if not valid:
        raise UsageError(f"{path!r} holds no baseline entries")
    if index is None:
        entry = valid[-1]
    else:
        by_seq = {e.seq: e for e in valid}
        pick = index if index >= 0 else len(log.entries) + index
        if pick not in by_seq:
            raise UsageError(f"{spec!r}: no valid entry at line index {index}")
        entry = by_seq[pick]
    return Side(f"{path} {entry.label}", entry.metrics, entry.implementation, log.garbage())


def resolve_side(spec: str, profile: AuditProfile | None = None) -> Side:
    """A directory is a data root (audited now); anything else a baseline log, `LOG` or `LOG@N`."""
    if Path(spec).is_dir():
        from farm.audit.audit import IMPLEMENTATION, run_audit

        report = run_audit(spec, profile)
        return Side(f"{spec} (audited {report.started_at})", report.metrics, IMPLEMENTATION)
    return side_from_log(spec)

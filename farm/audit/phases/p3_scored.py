"""Phase 3: scored-runs distribution: how many scored records were accepted, partial, rejected or human."""

from __future__ import annotations

from collections import Counter
from typing import Any

from farm.audit.layout import SCORED_RUNS, VERDICTS
from farm.audit.profile import AuditProfile
from farm.audit.result import FAIL, PASS, Check, PhaseResult
from farm.audit.scan import Batch


class ScoredFold:
    datasets: tuple[str, ...] = (SCORED_RUNS,)

    def __init__(self, profile: AuditProfile) -> None:
        self.key = profile.field_name(SCORED_RUNS, "verdict")
        self.to_logical = {actual: logical for logical, actual in profile.verdict_values.items()}
        self.counts = dict.fromkeys(VERDICTS, 0)
        self.files = 0
        self.seen: Counter[Any] = Counter()

    def start(self, files: dict[str, list[str]]) -> None:
        self.files = len(files[SCORED_RUNS])

    def feed(self, dataset: str, batch: Batch) -> None:
        values = batch.cols((self.key,))[0]
        distinct = batch.distinct(self.key)
        if distinct is not None and len(distinct) == 1:  # one verdict in the whole batch
            self.seen[next(iter(distinct))] += len(values)
        elif distinct is not None:
            self.seen.update(values)
        else:  # non-string verdicts (phase 1 reports them) never count: count the strings only
            self.seen.update(v for v in values if type(v) is str)

    def finish(self) -> PhaseResult:
        for actual, n in self.seen.items():
            logical = self.to_logical.get(actual)
            if logical is not None:
                self.counts[logical] += n
        total = sum(self.counts.values())
        check = Check("p3_scored_runs_present", 3, True, PASS, f"{total} scored records in {self.files} file(s)") \
            if total else Check("p3_scored_runs_present", 3, True, FAIL, "no scored records with a known verdict")
        return PhaseResult(3, "scored-runs distribution", [check], {f"p3_{v}": n for v, n in self.counts.items()})

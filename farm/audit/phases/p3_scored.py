"""Phase 3: scored-runs distribution: how many distinct scored records were accepted, partial, rejected or human.

A scored record is one `(run_id, record_id)`: a record written twice counts once (its first line decides its
verdict) and the repeat is a finding (`p3_unique_records`, required: a non-idempotent writer inflates every
count published downstream, and a repeat with another verdict leaves the true verdict unknown). The same
record id in two runs is two scored records (a re-score).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from farm.audit.batch import Batch
from farm.audit.layout import SCORED_RUNS, VERDICTS
from farm.audit.profile import AuditProfile
from farm.audit.result import FAIL, PASS, Check, PhaseResult
from farm.audit.scan import Offenders
from farm.audit.unique import Seen, repeats_in


class ScoredFold:
    datasets: tuple[str, ...] = (SCORED_RUNS,)

    def __init__(self, profile: AuditProfile) -> None:
        self.key = profile.field_name(SCORED_RUNS, "verdict")
        self.id_keys = (profile.field_name(SCORED_RUNS, "run_id"), profile.field_name(SCORED_RUNS, "record_id"))
        self.to_logical = {actual: logical for logical, actual in profile.verdict_values.items()}
        self.counts = dict.fromkeys(VERDICTS, 0)
        self.files = 0
        self.seen: Counter[Any] = Counter()
        self.ids = Seen()
        self.repeats = Offenders()

    def start(self, files: dict[str, list[str]]) -> None:
        self.files = len(files[SCORED_RUNS])

    def feed(self, dataset: str, batch: Batch) -> None:
        values = batch.cols((self.key,))[0]
        repeats = repeats_in(batch, self.ids, self.id_keys)
        if repeats:
            for i, first in repeats:
                self.repeats.add(batch.rel, batch.line(i), f"scored record {batch.recs[i].get(self.id_keys[1])!r:.60} "
                                 f"of run {batch.recs[i].get(self.id_keys[0])!r:.60} already at {first}")
            skip = {i for i, _ in repeats}
            values = [v for i, v in enumerate(values) if i not in skip]
            self.seen.update(v for v in values if type(v) is str)
            return
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
        checks = [
            Check("p3_scored_runs_present", 3, True, PASS, f"{total} distinct scored records in {self.files} file(s)")
            if total else Check("p3_scored_runs_present", 3, True, FAIL, "no scored records with a known verdict"),
            self.repeats.check("p3_unique_records", 3, True, "no scored record (run_id, record_id) appears twice",
                               "{n} scored lines repeat a (run_id, record_id) already seen (counted once)"),
        ]
        metrics: dict[str, int | float] = {f"p3_{v}": n for v, n in self.counts.items()}
        metrics["p3_duplicate_records"] = self.repeats.count
        return PhaseResult(3, "scored-runs distribution", checks, metrics)

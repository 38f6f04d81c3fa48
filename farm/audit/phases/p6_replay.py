"""Phase 6: replay sanity. Re-derive each sampled run's verdict counts from the raw scored records (distinct
`(run_id, record_id)`, as phase 3 counts them) and compare them with the counts its run summary declares. The
sample is deterministic: the `replay.sample` run ids with the smallest SHA-1. Memory: one counter per run id
and one hash per scored record. Skipped without run summaries."""

from __future__ import annotations

import hashlib
from collections import Counter
from itertools import compress, repeat
from operator import eq
from typing import Any

from farm.audit.batch import Batch
from farm.audit.layout import RUN_SUMMARIES, SCORED_RUNS, VERDICTS
from farm.audit.profile import AuditProfile
from farm.audit.result import SKIP, Check, PhaseResult
from farm.audit.scan import Offenders
from farm.audit.unique import Seen, repeats_in


class ReplayFold:
    datasets: tuple[str, ...] = (SCORED_RUNS, RUN_SUMMARIES)

    def __init__(self, profile: AuditProfile) -> None:
        self.sample = profile.replay_sample
        self.run_key = profile.field_name(SCORED_RUNS, "run_id")
        self.verdict_key = profile.field_name(SCORED_RUNS, "verdict")
        self.id_keys = (self.run_key, profile.field_name(SCORED_RUNS, "record_id"))
        self.ids = Seen()  # distinct scored records, as phase 3 counts them
        self.to_logical = {actual: logical for logical, actual in profile.verdict_values.items()}
        self.s_run = profile.field_name(RUN_SUMMARIES, "run_id")
        self.s_counts = profile.field_name(RUN_SUMMARIES, "counts")
        self.runs_by_verdict: dict[str, Counter[str]] = {}  # verdict value -> run id -> scored records
        self.derived: dict[str, dict[str, int]] = {}
        self.declared: dict[str, tuple[str, int, Any]] = {}
        self.present = False

    def start(self, files: dict[str, list[str]]) -> None:
        self.present = bool(files[RUN_SUMMARIES])

    def _runs(self, verdict: str) -> Counter[str]:
        runs = self.runs_by_verdict.get(verdict)
        if runs is None:
            runs = self.runs_by_verdict[verdict] = Counter()
        return runs

    def feed(self, dataset: str, batch: Batch) -> None:
        recs = batch.recs
        if dataset == SCORED_RUNS:
            runs, verdicts = batch.cols((self.run_key, self.verdict_key))
            distinct = batch.distinct(self.verdict_key)
            repeats = repeats_in(batch, self.ids, self.id_keys)
            if repeats:  # a repeated record counts once (phase 3 reports it)
                skip = {i for i, _ in repeats}
                runs = [r for i, r in enumerate(runs) if i not in skip]
                verdicts = [v for i, v in enumerate(verdicts) if i not in skip]
                distinct = None
            if distinct is None or batch.joined(self.run_key) is None:
                # non-string values (phase 1 reports them) never count: keep the string pairs
                for r, v in zip(runs, verdicts, strict=True):
                    if type(r) is str and type(v) is str:
                        self._runs(v)[r] += 1
            elif len(distinct) == 1:  # one verdict in the whole batch
                verdict = next(iter(distinct))
                if verdict in self.to_logical:
                    self._runs(verdict).update(runs)
            else:
                for verdict in distinct.intersection(self.to_logical):
                    self._runs(verdict).update(compress(runs, map(eq, verdicts, repeat(verdict))))
            return
        for i, rec in enumerate(recs):
            run = rec.get(self.s_run)
            if type(run) is str:
                self.declared[run] = (batch.rel, batch.line(i), rec.get(self.s_counts))

    def finish(self) -> PhaseResult:
        if not self.present:
            check = Check("p6_replay", 6, False, SKIP, "no run summaries in this root (optional)")
            return PhaseResult(6, "replay sanity", [check], {})
        for actual, runs in self.runs_by_verdict.items():
            logical = self.to_logical.get(actual)
            if logical is None:
                continue
            for run, n in runs.items():
                self.derived.setdefault(run, dict.fromkeys(VERDICTS, 0))[logical] += n
        order = sorted(self.declared, key=lambda r: hashlib.sha1(r.encode()).hexdigest())[: self.sample]
        bad = Offenders()
        for run in order:
            rel, no, declared = self.declared[run]
            derived = self.derived.get(run, dict.fromkeys(VERDICTS, 0))
            if not isinstance(declared, dict):
                bad.add(rel, no, f"run {run}: counts is not an object")
                continue
            diffs = [f"{v} {declared.get(v, 0)!r} != {derived[v]}" for v in VERDICTS
                     if declared.get(v, 0) != derived[v]]
            if diffs:
                bad.add(rel, no, f"run {run}: summary vs replay: {', '.join(diffs)}")
        check = bad.check("p6_replay", 6, False, f"{len(order)} sampled runs re-derive to their summaries' counts",
                          f"{{n}} of {len(order)} sampled runs disagree with their summaries")
        return PhaseResult(6, "replay sanity", [check], {"p6_runs_replayed": len(order),
                                                         "p6_replay_mismatches": bad.count})

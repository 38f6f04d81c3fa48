"""Phase 7: run-summary lineage. Every parent a summary names exists; the parent graph has no cycle; and no
gap: a root run has `seq` 0 and every other run's `seq` is one more than its highest parent's. A run id
summarised twice is an error too. Memory: one node per run. Skipped without run summaries."""

from __future__ import annotations

from typing import Any

from farm.audit.batch import Batch
from farm.audit.layout import RUN_SUMMARIES
from farm.audit.profile import AuditProfile
from farm.audit.result import SKIP, Check, PhaseResult
from farm.audit.scan import Offenders


class LineageFold:
    datasets: tuple[str, ...] = (RUN_SUMMARIES,)

    def __init__(self, profile: AuditProfile) -> None:
        self.keys = tuple(profile.field_name(RUN_SUMMARIES, f) for f in ("run_id", "parents", "seq"))
        self.nodes: dict[str, tuple[str, int, list[str], Any]] = {}
        self.bad = Offenders()
        self.present = False

    def start(self, files: dict[str, list[str]]) -> None:
        self.present = bool(files[RUN_SUMMARIES])

    def feed(self, dataset: str, batch: Batch) -> None:
        for i, rec in enumerate(batch.recs):
            self._node(batch.rel, batch.line(i), rec)

    def _node(self, rel: str, no: int, rec: dict[str, Any]) -> None:
        run_key, parents_key, seq_key = self.keys
        run, parents = rec.get(run_key), rec.get(parents_key)
        if type(run) is not str:
            return
        if run in self.nodes:
            self.bad.add(rel, no, f"run {run} summarised twice (first at {self.nodes[run][0]}:{self.nodes[run][1]})")
            return
        parents = [p for p in parents if type(p) is str] if type(parents) is list else []
        self.nodes[run] = (rel, no, parents, rec.get(seq_key))

    def _cycles(self) -> list[str]:
        state: dict[str, int] = {}  # 1 visiting, 2 done
        found: list[str] = []
        for start in self.nodes:
            if start in state:
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            state[start] = 1
            while stack:
                node, i = stack[-1]
                parents = self.nodes[node][2]
                if i < len(parents):
                    stack[-1] = (node, i + 1)
                    parent = parents[i]
                    if parent not in self.nodes:
                        continue
                    if state.get(parent) == 1:
                        found.append(parent)
                    elif parent not in state:
                        state[parent] = 1
                        stack.append((parent, 0))
                else:
                    state[node] = 2
                    stack.pop()
        return found

    def finish(self) -> PhaseResult:
        if not self.present:
            check = Check("p7_lineage", 7, False, SKIP, "no run summaries in this root (optional)")
            return PhaseResult(7, "run-summary lineage", [check], {})
        for run, (rel, no, parents, seq) in self.nodes.items():
            missing = [p for p in parents if p not in self.nodes]
            if missing:
                self.bad.add(rel, no, f"run {run}: parent {', '.join(missing)} has no summary")
                continue
            seqs = [self.nodes[p][3] for p in parents]
            if type(seq) is not int or not all(type(s) is int for s in seqs):
                self.bad.add(rel, no, f"run {run}: seq is not an integer")
                continue
            expected = max(seqs) + 1 if seqs else 0
            if seq != expected:
                self.bad.add(rel, no, f"run {run}: gap in lineage (seq {seq}, expected {expected})")
        for node in self._cycles():
            rel, no = self.nodes[node][0], self.nodes[node][1]
            self.bad.add(rel, no, f"run {node}: lineage cycle through this run")
        check = self.bad.check("p7_lineage", 7, False, f"{len(self.nodes)} run summaries form an unbroken lineage",
                               "{n} lineage errors")
        return PhaseResult(7, "run-summary lineage", [check], {"p7_summaries": len(self.nodes),
                                                               "p7_lineage_errors": self.bad.count})

"""Phase 1: schema validation. Every line of every dataset is a JSON object with the fields its schema
names, of the right types; bad lines are reported as `file:line: reason` and counted, never raised.

What a bad line is lives in `farm.audit.schema`, applied by the shared scan before any phase sees a batch:
this phase reports the bad lines, every other phase only ever receives the readable records."""

from __future__ import annotations

from farm.audit.batch import Batch
from farm.audit.layout import SCAN_ORDER
from farm.audit.profile import AuditProfile
from farm.audit.result import PhaseResult
from farm.audit.scan import Offenders


class SchemaFold:
    datasets: tuple[str, ...] = SCAN_ORDER

    def __init__(self, profile: AuditProfile) -> None:
        self.profile = profile
        self.bad = Offenders()
        self.records = 0

    def start(self, files: dict[str, list[str]]) -> None:
        pass

    def feed(self, dataset: str, batch: Batch) -> None:
        self.records += len(batch.recs) + len(batch.bad)
        for bad in batch.bad:
            self.bad.add(batch.rel, bad.no, bad.reason)

    def finish(self) -> PhaseResult:
        check = self.bad.check(
            "p1_schema_valid", 1, True, f"all {self.records} records match their schema",
            f"{{n}} of {self.records} records are malformed",
        )
        metrics: dict[str, int | float] = {"p1_records": self.records, "p1_bad_lines": self.bad.count}
        return PhaseResult(1, "schema validation", [check], metrics)

"""Plain-data results: a phase's checks and metrics, and the assembled audit report.

Everything here round-trips through plain JSON (`to_dict` / `from_dict`) so a Celery task can run one
phase, return its result over the wire, and an aggregation task can rebuild the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "PASS"
FAIL = "FAIL"
SKIP = "SKIP"
INCONCLUSIVE = "INCONCLUSIVE"  # a check that had nothing to check against (e.g. a firewall with no barred source)

Metrics = dict[str, int | float]


@dataclass
class Check:
    """One check: `required` checks decide the overall verdict; the others only report."""

    name: str
    phase: int
    required: bool
    status: str
    detail: str
    offenders: list[str] = field(default_factory=list)
    offender_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "phase": self.phase, "required": self.required, "status": self.status,
            "detail": self.detail, "offenders": list(self.offenders), "offender_count": self.offender_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        return cls(
            name=str(data["name"]), phase=int(data["phase"]), required=bool(data["required"]),
            status=str(data["status"]), detail=str(data["detail"]),
            offenders=[str(o) for o in data.get("offenders", [])], offender_count=int(data.get("offender_count", 0)),
        )


@dataclass
class PhaseResult:
    phase: int
    name: str
    checks: list[Check] = field(default_factory=list)
    metrics: Metrics = field(default_factory=dict)
    elapsed_s: float = 0.0
    # The files the phase read (`FileStats.to_dict`: dataset, path, lines, blank, records, bad) or skipped
    # (`{"dataset", "path", "skipped": reason}`, phase 0).
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if any(c.status == FAIL for c in self.checks):
            return FAIL
        if any(c.status == INCONCLUSIVE for c in self.checks):
            return INCONCLUSIVE
        if self.checks and all(c.status == SKIP for c in self.checks):
            return SKIP
        return PASS

    @property
    def required_failed(self) -> bool:
        return any(c.required and c.status == FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase, "name": self.name, "checks": [c.to_dict() for c in self.checks],
            "metrics": dict(self.metrics), "elapsed_s": self.elapsed_s, "files": [dict(f) for f in self.files],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhaseResult:
        return cls(
            phase=int(data["phase"]), name=str(data["name"]),
            checks=[Check.from_dict(c) for c in data.get("checks", [])],
            metrics={str(k): v for k, v in data.get("metrics", {}).items()},
            elapsed_s=float(data.get("elapsed_s", 0.0)), files=[dict(f) for f in data.get("files", [])],
        )


@dataclass
class AuditReport:
    """All phases of one audit of one root, plus the drift table against the baseline log (if any)."""

    root: str
    host: str
    implementation: str
    runtime: str
    version: str
    started_at: str
    run_id: str
    phases: list[PhaseResult]
    drift: list[dict[str, Any]] = field(default_factory=list)
    baseline_run: str | None = None

    @property
    def checks(self) -> list[Check]:
        return [c for p in self.phases for c in p.checks]

    @property
    def required_checks(self) -> list[Check]:
        return [c for c in self.checks if c.required]

    @property
    def verdict(self) -> str:
        """FAIL when a required check fails, INCONCLUSIVE when one could not decide, else PASS. With no
        required check at all (`--phases 5-7`) INCONCLUSIVE: the required checks decide PASS, and nothing
        shown is not a pass (as a firewall with nothing to check), nor a failure of what ran."""
        required = self.required_checks
        if any(c.status == FAIL for c in required):
            return FAIL
        if not required or any(c.status != PASS for c in required):
            return INCONCLUSIVE
        return PASS

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    @property
    def advisory_failed(self) -> list[Check]:
        return [c for c in self.checks if not c.required and c.status == FAIL]

    def headline(self) -> str:
        """One honest line: `PASS (8/8 required), 3 advisory FAIL`; required failures and inconclusive checks
        counted apart, advisory failures always shown."""
        required = self.required_checks
        if not required:
            ran = ", ".join(str(p.phase) for p in self.phases) or "none"
            text = f"{self.verdict} (no required check in the phases run: {ran})"
            advisory = len(self.advisory_failed)
            return text + (f", {advisory} advisory FAIL" if advisory else "")
        ok = sum(c.status == PASS for c in required)
        text = f"{self.verdict} ({ok}/{len(required)} required pass"
        undecided = sum(c.status == INCONCLUSIVE for c in required)
        text += f", {undecided} inconclusive)" if undecided else ")"
        advisory = len(self.advisory_failed)
        return text + (f", {advisory} advisory FAIL" if advisory else "")

    @property
    def files(self) -> list[dict[str, Any]]:
        """Every file read (with its line counts) or skipped, once, in path order."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for p in self.phases:
            for f in p.files:
                key = (str(f.get("dataset")), str(f.get("path")))
                if key not in out or "lines" in f:
                    out[key] = dict(f)
        return [out[k] for k in sorted(out, key=lambda k: (k[1], k[0]))]

    @property
    def metrics(self) -> Metrics:
        out: Metrics = {}
        for p in self.phases:
            out.update(p.metrics)
        return out

    def envelope(self) -> dict[str, Any]:
        """The baseline-log envelope for this run (written with sorted keys)."""
        return {
            "timestamp": self.started_at, "run_id": self.run_id, "implementation": self.implementation,
            "runtime": self.runtime, "host": self.host, "root": self.root, "version": self.version,
            "metrics": dict(sorted(self.metrics.items())),
            "checks": {c.name: c.status for c in self.checks},
            "passed": self.passed, "verdict": self.verdict,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root, "host": self.host, "implementation": self.implementation, "runtime": self.runtime,
            "version": self.version, "started_at": self.started_at, "run_id": self.run_id,
            "passed": self.passed, "verdict": self.verdict, "headline": self.headline(),
            "metrics": dict(sorted(self.metrics.items())), "files": self.files,
            "phases": [p.to_dict() for p in self.phases], "drift": list(self.drift),
            "baseline_run": self.baseline_run,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditReport:
        return cls(
            root=str(data["root"]), host=str(data["host"]), implementation=str(data["implementation"]),
            runtime=str(data["runtime"]), version=str(data["version"]), started_at=str(data["started_at"]),
            run_id=str(data["run_id"]), phases=[PhaseResult.from_dict(p) for p in data.get("phases", [])],
            drift=[dict(r) for r in data.get("drift", [])], baseline_run=data.get("baseline_run"),
        )

"""Assembling an audit: phase results -> report (with the drift table against the baseline log).

A Celery deployment runs `run_phase` once per phase (near the data root), then one aggregation task calls
`assemble` with the results and the log's history, and `append_baseline` with `report.envelope()`.
`run_audit` does all of it in one process with a single shared scan of the root.
"""

from __future__ import annotations

import os
import platform
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from farm import __version__
from farm.audit.baselines import BaselineLog, load_log
from farm.audit.drift import DriftRules, drift_table
from farm.audit.layout import BASELINES
from farm.audit.phases import ALL_PHASES, run_phases
from farm.audit.profile import AuditProfile
from farm.audit.result import AuditReport, PhaseResult
from farm.audit.scan import Progress

IMPLEMENTATION = "farm-python"


def runtime() -> str:
    return f"{platform.python_implementation().lower()} {platform.python_version()}"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def baseline_log_path(root: str | Path, profile: AuditProfile) -> Path:
    """Where the root's baseline log lives under its profile (default `data/_kb/audit_baselines.jsonl`)."""
    return Path(root) / profile.paths[BASELINES]


def assemble(
    results: Sequence[PhaseResult], *, root: str, host: str | None = None,
    history: Sequence[Mapping[str, Any]] = (), rules: DriftRules | None = None,
    baseline_run: str | None = None, started_at: str | None = None, run_id: str | None = None,
) -> AuditReport:
    """Build the report from phase results (any order, each phase at most once) and the drift table against
    `history` (baseline metrics, oldest first; empty for a first run)."""
    seen: set[int] = set()
    for r in results:
        if r.phase in seen:
            raise ValueError(f"phase {r.phase} given twice")
        seen.add(r.phase)
    report = AuditReport(
        root=os.path.abspath(root), host=host or socket.gethostname(), implementation=IMPLEMENTATION,
        runtime=runtime(), version=__version__, started_at=started_at or now_iso(),
        run_id=run_id or uuid.uuid4().hex, phases=sorted(results, key=lambda r: r.phase), baseline_run=baseline_run,
    )
    report.drift = [row.to_dict() for row in drift_table(report.metrics, history, rules, baseline_run)]
    return report


def run_audit(
    root: str, profile: AuditProfile | None = None, *, phases: Iterable[int] = ALL_PHASES,
    log_path: str | Path | None = None, host: str | None = None, log: BaselineLog | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Run the phases over `root` and compare with the baseline log: `log` when the caller loaded it already,
    else the one at `log_path` (default: the profile's log path)."""
    profile = profile or AuditProfile()
    started = now_iso()
    results = run_phases(root, profile, phases, progress)
    if log is None:
        log = load_log(log_path if log_path is not None else baseline_log_path(root, profile))
    last = log.last()
    return assemble(
        results, root=root, host=host, history=log.history(), rules=DriftRules.from_mapping(profile.drift),
        baseline_run=last.label if last else None, started_at=started,
    )

"""The eight audit phases. `run_phase` runs one (a Celery task's unit); `run_phases` runs several with one
shared streaming scan of the root, so each file is read once."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from farm.audit.paths import path_problem
from farm.audit.phases.p0_presence import phase0
from farm.audit.phases.p1_schema import SchemaFold
from farm.audit.phases.p2_materializer import phase2
from farm.audit.phases.p3_scored import ScoredFold
from farm.audit.phases.p4_firewall import FirewallFold
from farm.audit.phases.p5_receipts import ReceiptsFold
from farm.audit.phases.p6_replay import ReplayFold
from farm.audit.phases.p7_lineage import LineageFold
from farm.audit.profile import AuditProfile
from farm.audit.result import PhaseResult
from farm.audit.scan import Fold, Progress, scan
from farm.errors import UsageError

PHASES: dict[int, str] = {
    0: "file presence", 1: "schema validation", 2: "materializer dry-run", 3: "scored-runs distribution",
    4: "contamination firewall", 5: "receipts", 6: "replay sanity", 7: "run-summary lineage",
}
ALL_PHASES = tuple(PHASES)


def _fold(root: str, phase: int, profile: AuditProfile) -> Fold:
    if phase == 1:
        return SchemaFold(profile)
    if phase == 3:
        return ScoredFold(profile)
    if phase == 4:
        return FirewallFold(profile)
    if phase == 5:
        return ReceiptsFold(root, profile)
    if phase == 6:
        return ReplayFold(profile)
    return LineageFold(profile)


def check_root(root: str) -> None:
    problem = path_problem(root)
    if problem is not None:
        raise UsageError(f"audit root {root!r} is not a directory: {problem}")
    if not Path(root).is_dir():
        raise UsageError(f"audit root {root!r} is not a directory: it is a file")


def run_phases(root: str, profile: AuditProfile, phases: Iterable[int] = ALL_PHASES,
               progress: Progress | None = None) -> list[PhaseResult]:
    """Run the given phases over `root` (one shared scan for the file-reading ones), in phase order;
    `progress` hears each stage and the bytes the scan reads."""
    check_root(root)
    wanted = sorted(set(phases))
    for p in wanted:
        if p not in PHASES:
            raise UsageError(f"unknown audit phase {p} (phases are 0 to 7)")
    results: dict[int, PhaseResult] = {}
    for p, fn in ((0, phase0), (2, phase2)):
        if p in wanted:
            if progress is not None:
                progress.stage(f"phase {p}: {PHASES[p]}")
            t0 = time.perf_counter()
            results[p] = fn(root, profile)
            results[p].elapsed_s = round(time.perf_counter() - t0, 6)
    scanned = [p for p in wanted if p not in (0, 2)]
    if scanned:
        t0 = time.perf_counter()
        for result in scan(root, profile, [_fold(root, p, profile) for p in scanned], progress):
            result.elapsed_s = round((time.perf_counter() - t0) / len(scanned), 6)  # shared scan: split evenly
            results[result.phase] = result
    return [results[p] for p in wanted]


def run_phase(root: str, phase: int, profile: AuditProfile) -> PhaseResult:
    """One phase over `root`: a pure function of the files (phase 2 also runs the configured command)."""
    return run_phases(root, profile, (phase,))[0]


__all__ = ["ALL_PHASES", "PHASES", "check_root", "run_phase", "run_phases"]

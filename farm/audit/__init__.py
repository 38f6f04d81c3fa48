"""The audit: eight phases over a data root, a baseline log, drift tables, cross-implementation comparison.

For a Celery deployment (one phase per task, one aggregation task):

    run_phase(root: str, phase: int, profile: AuditProfile) -> PhaseResult   # PhaseResult.to_dict/from_dict
    assemble(results, *, root, host=None, history=(), rules=None, baseline_run=None) -> AuditReport
    append_baseline(path, report.envelope(), database_url=None) -> BaselineEntry   # reconciles the DB mirror
    write_fleet_report(reports, path) -> None

`report.verdict` is PASS, FAIL or INCONCLUSIVE (exit 0, 1, 3) and `report.headline()` the one-line summary.
"""

from farm.audit.audit import assemble, baseline_log_path, run_audit
from farm.audit.baselines import BaselineEntry, BaselineLog, append_baseline, load_last, load_log, write_log
from farm.audit.drift import DriftRow, DriftRules, drift_table
from farm.audit.phases import ALL_PHASES, PHASES, run_phase, run_phases
from farm.audit.profile import AuditProfile, profile_from_config
from farm.audit.result import AuditReport, Check, PhaseResult

__all__ = [
    "ALL_PHASES", "PHASES", "AuditProfile", "AuditReport", "BaselineEntry", "BaselineLog", "Check", "DriftRow",
    "DriftRules", "PhaseResult", "append_baseline", "assemble", "baseline_log_path", "drift_table", "load_last",
    "load_log", "profile_from_config", "run_audit", "run_phase", "run_phases", "write_log",
]

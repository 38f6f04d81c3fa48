"""Scheduled work: beat entries from farm.toml `[[schedules]]`, deterministic run ids, and the bookkeeping of
scheduled runs in the `scheduled_runs` table (see docs/scheduling.md).

Every beat fire becomes one `ScheduledRun` row keyed by `run_id(schedule, fire_time)` (the fire time floored to
the minute, UTC). The row is inserted with ON CONFLICT DO NOTHING before any work starts, so a duplicate fire
(a second beat, a redelivered message) finds it there and does nothing.

A fleet audit keeps all its state in the same table, one row each (no result backend, no chord):

- `<run>`             kind `audit`:       the fleet run; `running` -> `reporting` -> `done`
- `<run>/<i>`         kind `audit-root`:  target i (host, root); `running` -> `assembling` -> `assembled`/`failed`
- `<run>/<i>/p<k>`    kind `audit-phase`: phase k of target i, its `PhaseResult` in `detail` (first write wins)

The phase whose row completes a root enqueues the root's assembly; the root that completes the fleet enqueues
the fleet report. Each of those steps claims its row with `UPDATE ... WHERE status IN (...)`, so however many
times it is enqueued, it runs once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from farm.config import FarmConfig, ScheduleConfig
from farm.distributed.names import AGGREGATE_QUEUE, FIRE_TASK
from farm.errors import ConfigError, UsageError
from farm.store.schedules import (
    child_details,
    count_children,
    get_run,
    insert_child,
    insert_rows_once,
    transition,
    update_run,
)

if TYPE_CHECKING:
    from farm.sweep.spec import SweepRequest

log = logging.getLogger(__name__)

FIRE_TIME_HEADER = "farm_fire_time"  # set by the publisher of a fire (beat), read by the task

KIND_AUDIT_ROOT = "audit-root"
KIND_AUDIT_PHASE = "audit-phase"
ROOT_DONE = ("assembled", "failed")

_SCHEDULE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
_SWEEP_STR = {"probe", "legacy", "candidate", "legacy_profile", "candidate_profile", "legacy_secondary", "corpus",
              "field", "corpus_format", "model", "reports_dir"}
_SWEEP_INT = {"samples", "seed", "batch_size", "concurrency", "retries"}
_SWEEP_FLOAT = {"timeout", "deadline", "max_body_mb", "tau", "p_max", "alpha", "floor", "noise_sample"}
_SWEEP_BOOL = {"no_report"}
SWEEP_ARGS = _SWEEP_STR | _SWEEP_INT | _SWEEP_FLOAT | _SWEEP_BOOL
AUDIT_ARGS = {"targets", "profile", "reports_dir", "phases"}


# ---------------------------------------------------------------------------------------------------- beat


def parse_cron(cron: str, source: str = "<schedule>", key: str = "cron") -> Any:
    """A Celery `crontab` from a 5-field cron expression (minute hour day-of-month month day-of-week, UTC)."""
    from celery.schedules import crontab

    parts = cron.split()
    if len(parts) != 5:
        raise ConfigError(source, key, f"expected 5 cron fields, got {cron!r}")
    try:
        return crontab(**dict(zip(_CRON_FIELDS, parts, strict=True)))
    except Exception as exc:  # celery raises ValueError or its own ParseException
        raise ConfigError(source, key, f"not a valid cron expression {cron!r}: {exc}") from None


def beat_schedule(config: FarmConfig) -> dict[str, Any]:
    """The `beat_schedule` for Celery: one entry per configured schedule, firing `farm.schedule.fire(name)`."""
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for i, sched in enumerate(config.schedules):
        validate_schedule(config, i, sched)
        if sched.name in seen:
            raise ConfigError(config.source, f"schedules[{i}].name", f"duplicate schedule name {sched.name!r}")
        seen.add(sched.name)
        out[f"farm:{sched.name}"] = {
            "task": FIRE_TASK,
            "schedule": parse_cron(sched.cron, config.source, f"schedules[{i}].cron"),
            "args": (sched.name,),
            "options": {"queue": AGGREGATE_QUEUE},
        }
    return out


def floor_minute(when: datetime) -> datetime:
    """`when` in UTC (naive means UTC), seconds dropped."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(second=0, microsecond=0)


def fire_stamp(when: datetime) -> str:
    return floor_minute(when).strftime("%Y-%m-%dT%H:%MZ")


def run_id(schedule_name: str, fire_time: datetime) -> str:
    """The deterministic id of one fire: the same schedule in the same UTC minute gives the same id."""
    name = schedule_name
    if len(name) > 100:  # keep ids (and sub-run ids) well inside the 160-character column
        name = name[:80] + "~" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name}@{fire_stamp(fire_time)}"


def parse_fire_time(value: Any) -> datetime | None:
    """The fire time carried in a message header (ISO 8601), or None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return floor_minute(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class AuditTarget:
    host: str
    root: str
    profile: str | None = None

    @property
    def queue(self) -> str:
        return audit_queue(self.host)


@dataclass(frozen=True)
class AuditPlan:
    targets: tuple[AuditTarget, ...]
    profile: str | None
    reports_dir: str
    phases: tuple[int, ...]


def audit_queue(host: str) -> str:
    """The queue of the workers next to `host`'s data roots: start them with `-Q audit.<host>`."""
    return f"audit.{host}"


def _fail(config: FarmConfig, key: str, problem: str) -> ConfigError:
    return ConfigError(config.source, key, problem)


def validate_schedule(config: FarmConfig, i: int, sched: ScheduleConfig) -> None:
    """Check a schedule's name, cron and args (types and keys; gateways and corpora are checked at fire time)."""
    key = f"schedules[{i}]"
    if not _SCHEDULE_NAME_RE.match(sched.name):
        raise _fail(config, key + ".name", f"schedule names are 1 to 64 letters, digits, '.', '-', '_'; "
                                           f"got {sched.name!r}")
    parse_cron(sched.cron, config.source, key + ".cron")
    if sched.kind == "sweep":
        sweep_args(config, sched, key)
    else:
        audit_plan(config, sched, key)


def sweep_args(config: FarmConfig, sched: ScheduleConfig, key: str = "schedules[?]") -> dict[str, Any]:
    """The sweep's arguments, type-checked: the shared ones and the probe's own sweep options (`list_prefix`,
    `max_rows`, `k`...); `legacy` and `candidate` are required."""
    from farm.probes import get_probe

    args = dict(sched.args)
    probe_name = args.get("probe", "embed")
    try:
        own = {o.name: o.type for o in get_probe(str(probe_name)).sweep_options}
    except UsageError as exc:
        raise _fail(config, f"{key}.args.probe", str(exc)) from None
    allowed = SWEEP_ARGS | set(own)
    for name, value in args.items():
        k = f"{key}.args.{name}"
        if name not in allowed:
            raise _fail(config, k, f"unknown argument of a {probe_name} sweep (allowed: {', '.join(sorted(allowed))})")
        kind = own.get(name) if name not in SWEEP_ARGS else (
            str if name in _SWEEP_STR else bool if name in _SWEEP_BOOL else int if name in _SWEEP_INT else float)
        base = _base_type(kind)
        ok = (isinstance(value, bool) if base is bool
              else isinstance(value, int) and not isinstance(value, bool) if base is int
              else isinstance(value, int | float) and not isinstance(value, bool) if base is float
              else isinstance(value, str))
        if not ok:
            raise _fail(config, k, f"wrong type {type(value).__name__} {value!r}")
        if isinstance(kind, click.ParamType):  # a probe option's range or choices, as its CLI flag checks them
            try:
                kind.convert(value, None, None)
            except click.BadParameter as exc:
                raise _fail(config, k, exc.format_message()) from None
    for name in ("legacy", "candidate"):
        if name not in args:
            raise _fail(config, f"{key}.args.{name}", "required for a sweep schedule (a gateway name or URL)")
    return args


def sweep_request(args: dict[str, Any]) -> SweepRequest:
    """What a sweep schedule's (checked) `args` ask for: the shared sweep arguments, and the probe's own
    options as its `probe_options`."""
    from farm.probes import get_probe
    from farm.sweep.spec import SweepRequest

    own = {o.name for o in get_probe(str(args.get("probe", "embed"))).sweep_options}
    request = SweepRequest(**{k: v for k, v in args.items() if k in SweepRequest.names()},
                           probe_options={k: v for k, v in args.items() if k in own})
    return replace(request, timeout=float(request.timeout), until_decided=False)


def _base_type(kind: Any) -> Any:
    """The Python type a probe option's values have: its own, or the number type of a click range."""
    if isinstance(kind, click.IntRange):
        return int
    if isinstance(kind, click.FloatRange):
        return float
    return kind if kind in (bool, int, float) else str


def audit_plan(config: FarmConfig, sched: ScheduleConfig, key: str = "schedules[?]") -> AuditPlan:
    """The fleet audit a schedule asks for: `targets = [{host, root, profile?}]`, `profile`, `reports_dir`,
    `phases` (default all eight)."""
    from farm.audit.phases import ALL_PHASES
    from farm.audit.profile import profile_from_config

    args = dict(sched.args)
    for name in args:
        if name not in AUDIT_ARGS:
            allowed = ", ".join(sorted(AUDIT_ARGS))
            raise _fail(config, f"{key}.args.{name}", f"unknown audit argument (allowed: {allowed})")
    raw = args.get("targets")
    if not isinstance(raw, list) or not raw:
        raise _fail(config, f"{key}.args.targets", "expected a non-empty array of {host, root} tables")
    profile = args.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise _fail(config, f"{key}.args.profile", f"expected an audit profile name, got {profile!r}")
    targets: list[AuditTarget] = []
    for j, t in enumerate(raw):
        tk = f"{key}.args.targets[{j}]"
        if not isinstance(t, dict):
            raise _fail(config, tk, "expected a table {host, root}")
        extra = set(t) - {"host", "root", "profile"}
        if extra:
            raise _fail(config, f"{tk}.{sorted(extra)[0]}", "unknown key (allowed: host, profile, root)")
        host, root, tprof = t.get("host"), t.get("root"), t.get("profile")
        if not isinstance(host, str) or not _HOST_RE.match(host):
            raise _fail(config, f"{tk}.host", f"expected a host name (letters, digits, '.', '-', '_'), got {host!r}")
        if not isinstance(root, str) or not root:
            raise _fail(config, f"{tk}.root", f"expected the data root's path on that host, got {root!r}")
        if tprof is not None and not isinstance(tprof, str):
            raise _fail(config, f"{tk}.profile", f"expected an audit profile name, got {tprof!r}")
        targets.append(AuditTarget(host, root, tprof))
    if len({(t.host, t.root) for t in targets}) != len(targets):
        raise _fail(config, f"{key}.args.targets", "the same host and root appear twice")
    for prof in {profile, *(t.profile for t in targets)} - {None}:
        profile_from_config(config, prof)  # raises ConfigError naming audit.profiles.<name>
    reports_dir = args.get("reports_dir", "reports")
    if not isinstance(reports_dir, str) or not reports_dir:
        raise _fail(config, f"{key}.args.reports_dir", f"expected a directory, got {reports_dir!r}")
    phases = args.get("phases", list(ALL_PHASES))
    if (not isinstance(phases, list) or not phases
            or any(isinstance(p, bool) or p not in ALL_PHASES for p in phases)):
        raise _fail(config, f"{key}.args.phases", f"expected a list of phases 0 to 7, got {phases!r}")
    return AuditPlan(tuple(targets), profile, reports_dir, tuple(sorted(set(phases))))


def find_schedule(config: FarmConfig, name: str) -> tuple[int, ScheduleConfig]:
    for i, sched in enumerate(config.schedules):
        if sched.name == name:
            return i, sched
    raise UsageError(f"no schedule named {name!r} in {config.source}")


# ------------------------------------------------------------------------------------------- bookkeeping


def claim_run(url: str, rid: str, schedule: str, kind: str, status: str, detail: dict[str, Any]) -> bool:
    """Insert the run's row; False when it already exists (a duplicate fire: do nothing)."""
    return insert_rows_once(url, {"run_id": rid, "schedule": schedule, "kind": kind, "status": status,
                                  "detail": detail})


# --------------------------------------------------------------------------------------------- fleet audit


def root_run_id(fleet_run: str, index: int) -> str:
    return f"{fleet_run}/{index}"


def phase_run_id(root_run: str, phase: int) -> str:
    return f"{root_run}/p{phase}"


def fleet_of(root_run: str) -> str:
    return root_run.rsplit("/", 1)[0]


def start_fleet_audit(config: FarmConfig, url: str, sched: ScheduleConfig, plan: AuditPlan, rid: str,
                      fire_time: datetime) -> list[tuple[str, AuditTarget, dict[str, Any]]] | None:
    """Record the fleet run and one row per root; None on a duplicate fire. Returns (root run, target,
    profile dict) for each root, for the caller to fan the phases out."""
    from farm.audit.audit import now_iso
    from farm.audit.profile import profile_from_config

    started = now_iso()
    roots: list[tuple[str, AuditTarget, dict[str, Any]]] = []
    rows: list[dict[str, Any]] = []
    for i, t in enumerate(plan.targets):
        profile = profile_from_config(config, t.profile or plan.profile).to_dict()
        sub = root_run_id(rid, i)
        roots.append((sub, t, profile))
        rows.append({"run_id": sub, "schedule": sched.name, "kind": KIND_AUDIT_ROOT, "status": "running",
                     "detail": {"fleet_run": rid, "index": i, "host": t.host, "root": t.root, "profile": profile,
                                "phases": list(plan.phases), "started_at": started}})
    fleet = {"run_id": rid, "schedule": sched.name, "kind": "audit", "status": "running",
             "detail": {"fire_time": fire_stamp(fire_time), "started_at": started, "reports_dir": plan.reports_dir,
                        "targets": [{"host": t.host, "root": t.root} for t in plan.targets],
                        "phases": list(plan.phases)}}
    return roots if insert_rows_once(url, fleet, rows) else None


def phase_landed(url: str, root_run: str, phase: int) -> bool:
    return get_run(url, phase_run_id(root_run, phase)) is not None


def record_phase(url: str, root_run: str, phase: int, payload: dict[str, Any]) -> bool:
    """Store one phase's outcome (first write wins); True when every phase of the root has landed."""
    _schedule, root = insert_child(url, root_run, {
        "run_id": phase_run_id(root_run, phase), "kind": KIND_AUDIT_PHASE,
        "status": "error" if payload.get("error") else "done", "detail": payload})
    # Count in a fresh transaction, after the commit: of two phases landing together, the later sees both.
    return count_phases(url, root_run) >= len(root.get("phases", []))


def count_phases(url: str, root_run: str) -> int:
    return count_children(url, root_run + "/p", KIND_AUDIT_PHASE)


def _phase_rows(url: str, root_run: str) -> list[dict[str, Any]]:
    return child_details(url, root_run + "/p", KIND_AUDIT_PHASE)


def error_result(phase: int, message: str) -> dict[str, Any]:
    """A phase that could not run (root missing, a crash, a time limit): a failed required check."""
    from farm.audit.phases import PHASES
    from farm.audit.result import FAIL, Check, PhaseResult

    check = Check(name=f"phase{phase}_ran", phase=phase, required=True, status=FAIL, detail=message[:500])
    return PhaseResult(phase=phase, name=PHASES.get(phase, f"phase {phase}"), checks=[check]).to_dict()


def assemble_root(url: str, root_run: str) -> bool | None:
    """Assemble one root's report from its phases, append ONE baseline (when all eight ran, none failing) and
    record the report on the root's row. None when another delivery already claimed it; else True when this
    root completed the fleet (the caller enqueues the fleet report)."""
    from farm.audit.audit import assemble, baseline_log_path
    from farm.audit.baselines import append_baseline, load_log
    from farm.audit.drift import DriftRules
    from farm.audit.phases import ALL_PHASES
    from farm.audit.profile import AuditProfile
    from farm.audit.result import PhaseResult

    if not transition(url, root_run, ["running"], "assembling"):
        return None
    found = get_run(url, root_run)
    assert found is not None
    detail = found[1]
    profile = AuditProfile.from_dict(detail["profile"])
    root, host = str(detail["root"]), str(detail["host"])
    payloads = {int(p["phase"]): p for p in _phase_rows(url, root_run)}
    errors = {k: str(p["error"]) for k, p in payloads.items() if p.get("error")}
    results = [PhaseResult.from_dict(p["result"]) for _, p in sorted(payloads.items())]
    log_path = baseline_log_path(root, profile)
    try:
        history = load_log(log_path)
        last = history.last()
        report = assemble(results, root=root, host=host, history=history.history(),
                          rules=DriftRules.from_mapping(profile.drift), baseline_run=last.label if last else None,
                          started_at=detail.get("started_at"), run_id=root_run)
        appended: int | None = None
        # A baseline is a whole audit (as `farm audit --append-baseline` insists): a subset of phases reports only.
        if not errors and set(payloads) == set(ALL_PHASES):
            entry = append_baseline(log_path, report.envelope(), database_url=url)
            appended = entry.seq
        status = "failed" if errors else "assembled"
        update_run(url, root_run, status, report=report.to_dict(), baseline_log=str(log_path),
                   baseline_seq=appended, errors=errors)
    except Exception as exc:
        log.exception("audit root %s could not be assembled", root_run)
        update_run(url, root_run, "failed", errors={**errors, "assemble": f"{type(exc).__name__}: {exc}"})
    return fleet_complete(url, fleet_of(root_run))


def fleet_complete(url: str, fleet_run: str) -> bool:
    """Have all roots of the fleet run been assembled (or failed)?"""
    found = get_run(url, fleet_run)
    if found is None:
        return False
    total = len(found[1].get("targets", []))
    return count_children(url, fleet_run + "/", KIND_AUDIT_ROOT, ROOT_DONE) >= total


def fleet_report_path(reports_dir: str | Path, fleet_run: str) -> Path:
    """`reports/audits/fleet_<schedule>_<YYYYmmdd-HHMM>.md` for run `<schedule>@<YYYY-mm-ddTHH:MMZ>`."""
    name, _, stamp = fleet_run.rpartition("@")
    compact = stamp.replace("-", "").replace(":", "").replace("T", "-").rstrip("Z")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name or fleet_run)
    return Path(reports_dir) / "audits" / f"fleet_{safe}_{compact}.md"


def write_fleet(url: str, fleet_run: str) -> Path | None:
    """Write the fleet report once (claims the fleet row); None when not complete or already written."""
    from farm.audit.fleet import write_fleet_report
    from farm.audit.result import AuditReport

    if not fleet_complete(url, fleet_run) or not transition(url, fleet_run, ["running"], "reporting"):
        return None
    found = get_run(url, fleet_run)
    assert found is not None
    detail = found[1]
    details = sorted(child_details(url, fleet_run + "/", KIND_AUDIT_ROOT), key=lambda d: int(d.get("index", 0)))
    reports = [AuditReport.from_dict(d["report"]) for d in details if d.get("report")]
    path = fleet_report_path(detail.get("reports_dir", "reports"), fleet_run)
    write_fleet_report(reports, path, title=f"Fleet audit {fleet_run}")
    failed = [f"{d.get('host')}:{d.get('root')}" for d in details if d.get("errors")]
    update_run(url, fleet_run, "done", report=str(path.resolve()), failed=failed,
               passed=sum(r.passed for r in reports), finished_at=datetime.now(UTC).isoformat())
    return path

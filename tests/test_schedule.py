"""Schedules: cron -> crontab, beat entries, deterministic run ids, argument validation, and the fleet-audit
bookkeeping (claims, phase landing, one baseline append, one fleet report) on SQLite without Celery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from farm.audit import AuditProfile, load_log, run_phase
from farm.audit.fixtures import SEED_METRICS, generate_root
from farm.config import FarmConfig, ScheduleConfig, parse_config
from farm.distributed.names import AGGREGATE_QUEUE, FIRE_TASK
from farm.errors import ConfigError
from farm.schedule import (
    assemble_root,
    audit_plan,
    beat_schedule,
    claim_run,
    error_result,
    fleet_report_path,
    parse_cron,
    parse_fire_time,
    record_phase,
    run_id,
    start_fleet_audit,
    sweep_args,
    sweep_request,
    write_fleet,
)
from farm.store.schedules import get_run, transition


def config_with(*schedules: dict[str, Any], audit: dict[str, Any] | None = None) -> FarmConfig:
    data: dict[str, Any] = {"schedules": list(schedules)}
    if audit is not None:
        data["audit"] = audit
    return parse_config(data, "farm.toml")


SWEEP = {"name": "nightly-embed", "cron": "30 2 * * *", "kind": "sweep",
         "args": {"legacy": "legacy", "candidate": "candidate", "samples": 300}}


def test_cron_fields_map_to_crontab_in_order() -> None:
    tab = parse_cron("*/15 3 1 6 1-5")
    assert tab.minute == {0, 15, 30, 45}
    assert tab.hour == {3}
    assert tab.day_of_month == {1}
    assert tab.month_of_year == {6}
    assert tab.day_of_week == {1, 2, 3, 4, 5}


def test_every_minute_is_due_each_minute() -> None:
    tab = parse_cron("* * * * *")
    assert tab.minute == set(range(60)) and tab.hour == set(range(24))


def test_beat_schedule_has_one_entry_per_schedule_firing_by_name() -> None:
    audit = {"name": "fleet", "cron": "0 4 * * 0", "kind": "audit",
             "args": {"targets": [{"host": "hosta", "root": "/data/a"}]}}
    entries = beat_schedule(config_with(SWEEP, audit))
    assert set(entries) == {"farm:nightly-embed", "farm:fleet"}
    entry = entries["farm:nightly-embed"]
    assert entry["task"] == FIRE_TASK == "farm.schedule.fire"
    assert entry["args"] == ("nightly-embed",)
    assert entry["options"] == {"queue": AGGREGATE_QUEUE}
    assert entry["schedule"].hour == {2} and entry["schedule"].minute == {30}
    assert entries["farm:fleet"]["schedule"].day_of_week == {0}


def test_no_schedules_no_entries() -> None:
    assert beat_schedule(FarmConfig()) == {}


def test_run_ids_are_deterministic_per_minute() -> None:
    t = datetime(2026, 5, 1, 3, 0, 2, 123456, tzinfo=UTC)
    assert run_id("fleet", t) == run_id("fleet", t.replace(second=59)) == "fleet@2026-05-01T03:00Z"
    assert run_id("fleet", t + timedelta(minutes=1)) == "fleet@2026-05-01T03:01Z"
    assert run_id("other", t) != run_id("fleet", t)
    # The same instant seen in another time zone, or naive (taken as UTC), is the same run.
    assert run_id("fleet", t.astimezone(timezone(timedelta(hours=2)))) == run_id("fleet", t)
    assert run_id("fleet", t.replace(tzinfo=None)) == run_id("fleet", t)
    assert len(run_id("x" * 300, t)) <= 120 and run_id("x" * 300, t) != run_id("x" * 299 + "y", t)


def test_fire_time_header_round_trips() -> None:
    t = datetime(2026, 5, 1, 3, 7, 41, tzinfo=UTC)
    assert parse_fire_time(t.isoformat()) == t.replace(second=0)
    assert parse_fire_time("2026-05-01T03:07Z") == t.replace(second=0)
    assert parse_fire_time(None) is None and parse_fire_time("yesterday") is None


@pytest.mark.parametrize(("cron", "problem"), [
    ("61 * * * *", "schedules[0].cron: not a valid cron expression"),
    ("* 25 * * *", "schedules[0].cron: not a valid cron expression"),
    ("* * * * funday", "schedules[0].cron: not a valid cron expression"),
    ("*/0 * * * *", "schedules[0].cron: not a valid cron expression"),
])
def test_bad_cron_is_a_config_error_naming_the_key(cron: str, problem: str) -> None:
    config = config_with({**SWEEP, "cron": cron})
    with pytest.raises(ConfigError) as err:
        beat_schedule(config)
    assert str(err.value).startswith(f"farm.toml: {problem}")
    assert err.value.key == "schedules[0].cron"


def test_four_field_cron_is_rejected_by_the_config() -> None:
    with pytest.raises(ConfigError, match=r"schedules\[0\]\.cron: expected 5 cron fields"):
        config_with({**SWEEP, "cron": "0 3 * *"})


@pytest.mark.parametrize(("schedule", "key"), [
    ({**SWEEP, "args": {"legacy": "legacy"}}, "schedules[0].args.candidate"),
    ({**SWEEP, "args": {**SWEEP["args"], "samples": "many"}}, "schedules[0].args.samples"),
    ({**SWEEP, "args": {**SWEEP["args"], "until_decided": True}}, "schedules[0].args.until_decided"),
    ({**SWEEP, "name": "has space"}, "schedules[0].name"),
    ({**SWEEP, "args": {**SWEEP["args"], "probe": "nope"}}, "schedules[0].args.probe"),
    ({**SWEEP, "args": {**SWEEP["args"], "max_rows": 5}}, "schedules[0].args.max_rows"),  # not an embed option
    ({**SWEEP, "args": {**SWEEP["args"], "probe": "sql", "max_rows": "five"}}, "schedules[0].args.max_rows"),
    ({**SWEEP, "args": {**SWEEP["args"], "probe": "sql", "strict_types": 1}}, "schedules[0].args.strict_types"),
    ({**SWEEP, "args": {**SWEEP["args"], "probe": "sql", "max_rows": 0}}, "schedules[0].args.max_rows"),  # range
    ({**SWEEP, "args": {**SWEEP["args"], "probe": "chat", "max_tokens": 9000}}, "schedules[0].args.max_tokens"),
    ({"name": "f", "cron": "* * * * *", "kind": "audit", "args": {}}, "schedules[0].args.targets"),
    ({"name": "f", "cron": "* * * * *", "kind": "audit", "args": {"targets": [{"host": "a b", "root": "/r"}]}},
     "schedules[0].args.targets[0].host"),
    ({"name": "f", "cron": "* * * * *", "kind": "audit", "args": {"targets": [{"host": "a"}]}},
     "schedules[0].args.targets[0].root"),
    ({"name": "f", "cron": "* * * * *", "kind": "audit",
      "args": {"targets": [{"host": "a", "root": "/r"}], "phases": [9]}}, "schedules[0].args.phases"),
    ({"name": "f", "cron": "* * * * *", "kind": "audit",
      "args": {"targets": [{"host": "a", "root": "/r"}], "profile": "nope"}}, "audit.profiles.nope"),
])
def test_bad_schedule_args_name_the_key(schedule: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        beat_schedule(config_with(schedule))
    assert err.value.key == key


def test_a_sweep_schedule_takes_the_probes_own_options() -> None:
    from farm.sweep.spec import build_spec

    sql = {**SWEEP, "args": {"probe": "sql", "legacy": "http://127.0.0.1:9/", "candidate": "http://127.0.0.1:9/",
                             "samples": 50, "max_rows": 5, "strict_types": True, "float_tol": 1e-6,
                             "reports_dir": "reports"}}
    config = config_with(sql)
    spec = build_spec(config, sweep_request(sweep_args(config, config.schedules[0])))
    assert spec.probe == "sql" and spec.corpus.limit == 50
    assert spec.probe_options == {"max_rows": 5, "strict_types": True, "float_tol": 1e-6, "allow_writes": False,
                                  "dialect": "sqlite"}  # the legacy profile's, resolved when specified
    storage = {**SWEEP, "args": {**sql["args"], "probe": "storage", "list_prefix": "logs/"}}
    del storage["args"]["max_rows"], storage["args"]["strict_types"], storage["args"]["float_tol"]
    config = config_with(storage)
    spec = build_spec(config, sweep_request(sweep_args(config, config.schedules[0])))
    assert spec.probe_options["list_prefix"] == "logs/"
    assert spec.corpus.describe() == f"50 of listing(farm-demo/logs/) in random order (seed {spec.corpus.order_seed})"
    chat = {**SWEEP, "args": {**sql["args"], "probe": "chat", "max_tokens": 64, "temperature": 0.5}}
    for key in ("max_rows", "strict_types", "float_tol"):
        del chat["args"][key]
    config = config_with(chat)
    spec = build_spec(config, sweep_request(sweep_args(config, config.schedules[0])))
    assert spec.probe_options["max_tokens"] == 64 and spec.probe_options["temperature"] == 0.5  # click ranges


def test_duplicate_schedule_names_are_rejected() -> None:
    with pytest.raises(ConfigError) as err:
        beat_schedule(config_with(SWEEP, SWEEP))
    assert err.value.key == "schedules[1].name"


def test_audit_plan_defaults_and_profiles() -> None:
    config = config_with(
        {"name": "f", "cron": "0 3 * * *", "kind": "audit",
         "args": {"targets": [{"host": "hosta", "root": "/a"}, {"host": "hostb", "root": "/b", "profile": "lake"}],
                  "profile": "default"}},
        audit={"profiles": {"lake": {"paths": {"sft": "exports/sft.jsonl"}}}},
    )
    plan = audit_plan(config, config.schedules[0])
    assert [t.queue for t in plan.targets] == ["audit.hosta", "audit.hostb"]
    assert plan.phases == tuple(range(8)) and plan.reports_dir == "reports"
    assert plan.targets[1].profile == "lake"


def test_fleet_report_path_is_under_reports_audits() -> None:
    path = fleet_report_path("reports", "fleet@2026-05-01T03:00Z")
    assert path == Path("reports/audits/fleet_fleet_20260501-0300.md")


def test_claim_is_once_per_run_id(sqlite_url: str) -> None:
    assert claim_run(sqlite_url, "s@2026-05-01T03:00Z", "s", "sweep", "dispatching", {}) is True
    assert claim_run(sqlite_url, "s@2026-05-01T03:00Z", "s", "sweep", "dispatching", {"again": 1}) is False
    assert get_run(sqlite_url, "s@2026-05-01T03:00Z") == ("dispatching", {})
    assert transition(sqlite_url, "s@2026-05-01T03:00Z", ["dispatching"], "dispatched") is True
    assert transition(sqlite_url, "s@2026-05-01T03:00Z", ["dispatching"], "dispatched") is False


def _fleet(tmp_path: Path, roots: list[Path], phases: list[int] | None = None) -> tuple[FarmConfig, ScheduleConfig]:
    args: dict[str, Any] = {"targets": [{"host": f"host{i}", "root": str(r)} for i, r in enumerate(roots)],
                            "reports_dir": str(tmp_path / "reports")}
    if phases is not None:
        args["phases"] = phases
    config = config_with({"name": "fleet", "cron": "* * * * *", "kind": "audit", "args": args})
    return config, config.schedules[0]


def _run_fleet_in_process(config: FarmConfig, sched: ScheduleConfig, url: str, when: datetime) -> str:
    """What the Celery tasks do, in this process and in a shuffled order: phases, roots, report."""
    rid = run_id(sched.name, when)
    roots = start_fleet_audit(config, url, sched, audit_plan(config, sched), rid, when)
    assert roots is not None
    completes = []
    for sub, target, profile in roots:
        for phase in reversed(audit_plan(config, sched).phases):
            try:
                result = run_phase(target.root, phase, AuditProfile.from_dict(profile)).to_dict()
                payload: dict[str, Any] = {"phase": phase, "result": result, "worker": "test"}
            except Exception as exc:
                payload = {"phase": phase, "error": str(exc), "result": error_result(phase, str(exc))}
            completes.append(record_phase(url, sub, phase, payload))
        # Only the last phase of a root completes it; a redelivered phase is ignored but still sees completion.
        assert completes[-1] is True and not any(completes[:-1][-(len(audit_plan(config, sched).phases) - 1):])
        assert record_phase(url, sub, 0, {"phase": 0, "error": "late duplicate"}) is True
    outcomes = [assemble_root(url, sub) for sub, _, _ in roots]
    assert outcomes[-1] is True and all(o is False for o in outcomes[:-1])
    assert [assemble_root(url, sub) for sub, _, _ in roots] == [None] * len(roots)  # claimed: never twice
    return rid


def test_fleet_audit_appends_one_baseline_per_root_and_one_report(tmp_path: Path, sqlite_url: str) -> None:
    roots = [tmp_path / "a", tmp_path / "b"]
    for r in roots:
        generate_root(r)
    config, sched = _fleet(tmp_path, roots)
    when = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    rid = _run_fleet_in_process(config, sched, sqlite_url, when)
    assert start_fleet_audit(config, sqlite_url, sched, audit_plan(config, sched), rid, when) is None
    for i, r in enumerate(roots):
        entries = load_log(r / "data/_kb/audit_baselines.jsonl").valid
        assert len(entries) == 1
        assert {k: entries[0].metrics[k] for k in SEED_METRICS} == SEED_METRICS
        assert entries[0].host == f"host{i}" and entries[0].run_id == f"{rid}/{i}"
        assert entries[0].data is not None and entries[0].data["passed"] is True
    path = write_fleet(sqlite_url, rid)
    assert path == tmp_path / "reports/audits/fleet_fleet_20260501-0300.md"
    text = path.read_text()
    assert text.startswith("# Fleet audit fleet@2026-05-01T03:00Z: 2/2 hosts pass")
    assert "| host0 |" in text and "| host1 |" in text and "386" in text
    assert write_fleet(sqlite_url, rid) is None  # exactly once
    status, detail = get_run(sqlite_url, rid) or ("", {})
    assert status == "done" and detail["report"] == str(path.resolve()) and detail["failed"] == []
    # The next fire appends a second line and its drift table compares with the first.
    rid2 = _run_fleet_in_process(config, sched, sqlite_url, when + timedelta(minutes=1))
    assert rid2 != rid and write_fleet(sqlite_url, rid2) is not None
    assert len(load_log(roots[0] / "data/_kb/audit_baselines.jsonl").valid) == 2
    report = (get_run(sqlite_url, f"{rid2}/0") or ("", {}))[1]["report"]
    assert report["baseline_run"] is not None and {d["status"] for d in report["drift"]} == {"OK"}


def test_a_subset_of_phases_reports_without_a_baseline(tmp_path: Path, sqlite_url: str) -> None:
    good = tmp_path / "good"
    generate_root(good)
    config, sched = _fleet(tmp_path, [good], phases=[0, 3, 4])
    rid = _run_fleet_in_process(config, sched, sqlite_url, datetime(2026, 5, 1, 4, 0, tzinfo=UTC))
    assert not (good / "data/_kb/audit_baselines.jsonl").exists()  # a partial entry would break the next drift
    found = get_run(sqlite_url, f"{rid}/0")
    assert found is not None and found[0] == "assembled" and found[1]["baseline_seq"] is None


def test_a_root_whose_phases_cannot_run_fails_without_a_baseline(tmp_path: Path, sqlite_url: str) -> None:
    good, missing = tmp_path / "good", tmp_path / "missing"
    generate_root(good)
    config, sched = _fleet(tmp_path, [good, missing])
    rid = _run_fleet_in_process(config, sched, sqlite_url, datetime(2026, 5, 1, 4, 0, tzinfo=UTC))
    assert len(load_log(good / "data/_kb/audit_baselines.jsonl").valid) == 1
    assert not missing.exists()
    assert (get_run(sqlite_url, f"{rid}/1") or ("", {}))[0] == "failed"
    path = write_fleet(sqlite_url, rid)
    assert path is not None and "1/2 hosts pass" in path.read_text()
    assert (get_run(sqlite_url, rid) or ("", {}))[1]["failed"] == [f"host1:{missing}"]

"""A scheduled fleet audit through real processes: Celery beat, a worker per host queue (`audit.hosta`,
`audit.hostb`), the aggregate worker, Redis as broker and a fresh Postgres database. Nothing is mocked."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from farm.audit import load_log
from farm.audit.fixtures import SEED_METRICS, generate_root
from farm.store.db import transaction, upgrade
from farm.store.models import ScheduledRun

REPO = Path(__file__).resolve().parents[2]


def toml_value(value: Any) -> str:
    """A TOML value (strings, numbers, booleans, lists and inline tables are all this test needs)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def celery_env(config: Path, database_url: str, broker_url: str) -> dict[str, str]:
    return {**os.environ, "FARM_CONFIG": str(config), "FARM_DATABASE_URL": database_url,
            "FARM_BROKER_URL": broker_url, "PYTHONUNBUFFERED": "1"}


class Processes:
    """Celery processes started by a test, each in its own session, logs in files; `stop()` always cleans up."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it until it exits
        try:
            proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers", *argv], cwd=REPO,
                                    env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            log.close()
        self.procs.append((name, proc))

    def worker(self, name: str, queue: str) -> str:
        """Start a worker consuming `queue`; returns its node name prefix."""
        node = f"{name}-{secrets.token_hex(3)}"
        self._start(name, ["worker", "-Q", queue, "--pool", "prefork", "--concurrency", "2", "--without-mingle",
                           "--without-gossip", "--without-heartbeat", "-n", f"{node}@%h", "-l", "info"])
        return node

    def beat(self, schedule_file: Path) -> None:
        self._start("beat", ["beat", "--schedule", str(schedule_file), "-l", "info"])

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM everything (beat first), then SIGKILL what is still running after `timeout`."""
        for _, proc in sorted(self.procs, key=lambda p: p[0] != "beat"):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def tails(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)[-2500:]}" for name, _ in self.procs)


def wait_for(condition: Callable[[], bool], timeout: float, procs: Processes, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        procs.check_alive()
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{procs.tails()}")


@contextlib.contextmanager
def private_dir() -> Iterator[Path]:
    """A private directory for roots, configs, logs and beat state. Not `tmp_path`: pytest deletes all but the
    newest three `pytest-N` directories, and other pytest sessions on this machine may rotate ours away while
    the Celery processes are still using it."""
    path = Path(tempfile.mkdtemp(prefix="farm-celery-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def workdir() -> Iterator[Path]:
    with private_dir() as path:
        yield path


def scheduled_rows(url: str, kind: str) -> list[ScheduledRun]:
    with transaction(url) as s:
        return list(s.scalars(select(ScheduledRun).where(ScheduledRun.kind == kind).order_by(ScheduledRun.run_id)))


@pytest.mark.slow
@pytest.mark.services
def test_beat_runs_a_fleet_audit_on_two_host_queues(workdir: Path, pg_url: str, broker_url: str) -> None:
    tmp_path = workdir
    root_a, root_b, reports = tmp_path / "root_a", tmp_path / "root_b", tmp_path / "reports"
    generate_root(root_a)
    generate_root(root_b)
    upgrade(pg_url)
    targets = [{"host": "hosta", "root": str(root_a)}, {"host": "hostb", "root": str(root_b)}]
    config = tmp_path / "farm.toml"
    config.write_text(
        "[[schedules]]\nname = \"fleet\"\ncron = \"* * * * *\"\nkind = \"audit\"\n"
        f"args = {toml_value({'targets': targets, 'profile': 'default', 'reports_dir': str(reports)})}\n",
        encoding="utf-8",
    )
    logs = {r: r / "data/_kb/audit_baselines.jsonl" for r in (root_a, root_b)}
    assert all(not p.exists() for p in logs.values())
    procs = Processes(celery_env(config, pg_url, broker_url), tmp_path)
    try:
        node_a = procs.worker("hosta", "audit.hosta")
        node_b = procs.worker("hostb", "audit.hostb")
        procs.worker("aggregate", "farm.aggregate")
        procs.beat(tmp_path / "celerybeat-schedule")

        def fleet_done() -> bool:
            return any(r.status == "done" for r in scheduled_rows(pg_url, "audit"))

        # The cron fires at the next minute boundary: up to 60 s, then eight phases per root and the report.
        wait_for(lambda: all(len(load_log(p).valid) >= 1 for p in logs.values()) and fleet_done(), 170, procs,
                 "a baseline for each root and the fleet report")
    finally:
        procs.stop()

    fleet = next(r for r in scheduled_rows(pg_url, "audit") if r.status == "done")
    assert fleet.run_id.startswith("fleet@") and fleet.run_id.endswith("Z")
    for i, (root, node) in enumerate(((root_a, node_a), (root_b, node_b))):
        entries = [e for e in load_log(logs[root]).valid if e.run_id == f"{fleet.run_id}/{i}"]
        assert len(entries) == 1, f"exactly one baseline per root per run: {entries}"
        entry = entries[0]
        assert {k: entry.metrics.get(k) for k in SEED_METRICS} == SEED_METRICS
        assert entry.host == ("hosta", "hostb")[i] and entry.data is not None and entry.data["passed"] is True
        # Every phase of this root ran on its host's queue, on its host's worker, and only there.
        phases = [r for r in scheduled_rows(pg_url, "audit-phase") if r.run_id.startswith(f"{fleet.run_id}/{i}/p")]
        assert sorted(r.detail["phase"] for r in phases) == list(range(8))
        assert {r.detail["queue"] for r in phases} == {f"audit.{('hosta', 'hostb')[i]}"}
        assert all(r.detail["worker"].startswith(node + "@") for r in phases)
        assert all("error" not in r.detail for r in phases)
    # The host workers ran audit tasks (their logs show them) and the aggregate worker wrote the report.
    ran = "Task farm.audit.run_phase["
    assert ran in procs.log("hosta") and ran in procs.log("hostb") and ran not in procs.log("aggregate")
    assert "Task farm.audit.fleet_report[" in procs.log("aggregate")
    # One fleet report, both hosts, every metric.
    report = Path(fleet.detail["report"])
    assert report.parent == (reports / "audits").resolve() and report.name.startswith("fleet_fleet_")
    text = report.read_text()
    assert text.startswith(f"# Fleet audit {fleet.run_id}: 2/2 hosts pass")
    assert "| hosta |" in text and "| hostb |" in text and "`p3_accepted`" in text
    host_rows = [ln for ln in text.split("## Host x metric", 1)[1].splitlines() if ln.startswith("| host")]
    assert [ln.split("|")[1].strip() for ln in host_rows[1:]] == ["hosta", "hostb"]
    assert all("386" in ln and "1325" in ln for ln in host_rows[1:])
    # The baselines were mirrored into the database too.
    from farm.audit.mirror import mirrored_logs

    assert set(mirrored_logs(pg_url)) == {str(p.resolve()) for p in logs.values()}

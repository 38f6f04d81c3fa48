"""A fleet's weekly faults, on real processes: Redis and Postgres servers of the test's own (restarted mid-sweep,
never the machine's), three Celery workers, demo gateways, and `farm sweep embed --distributed` as a child
process. Each sweep must complete with exact counts and exit 0; the figures go to the fault matrix
(docs/reliability.md; `FARM_FAULT_MATRIX=path pytest tests/faults` writes them)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.conftest import PLANNED, Workers, counts, newest_sweep, record, start_sweep, wait_progress
from tests.faults.services import PrivatePostgres, PrivateRedis

# One worker runs the whole module: its cluster fixture (three workers, private servers) is set up once.
pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.xdist_group("fault-cluster")]
_baseline: dict[str, float] = {}


def _baseline_seconds(env: dict[str, str], tmp: Path) -> float:
    """How long the same sweep takes without a fault (measured once per session, on the same machine)."""
    if "seconds" not in _baseline:
        code, out, err, seconds = start_sweep(env, cwd=tmp).wait()
        assert code == 0, err[-2000:]
        _baseline["seconds"] = seconds
        record({"fault": "none (baseline)", "injected": "-", "planned": PLANNED, "recorded": out["n"],
                "duplicated": 0, "seconds": round(seconds, 1), "lost": 0.0, "exit": code, "resent": out["resent"]})
    return _baseline["seconds"]


def _complete(fault: str, injected: str, env: dict[str, str], result: tuple[int, dict, str, float],
              baseline: float) -> float:
    code, out, err, seconds = result
    assert code == 0 and out.get("verdict") == "PASS", (code, out.get("reason"), err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    recorded, distinct = counts(env["FARM_DATABASE_URL"], out["sweep_id"])
    assert (recorded, distinct, out["n"]) == (PLANNED, PLANNED, PLANNED)  # every sample once, none twice
    lost = seconds - baseline
    record({"fault": fault, "injected": injected, "planned": PLANNED, "recorded": recorded,
            "duplicated": recorded - distinct, "seconds": round(seconds, 1), "lost": round(lost, 1), "exit": code,
            "resent": out["resent"]})
    return lost


def test_a_broker_restart_mid_sweep(cluster: tuple[Workers, dict[str, str]], private_redis: PrivateRedis,
                                    tmp_path: Path) -> None:
    workers, env = cluster
    baseline = _baseline_seconds(env, tmp_path)
    before = newest_sweep(env["FARM_DATABASE_URL"])[0]
    sweep = start_sweep(env, cwd=tmp_path)
    wait_progress(env["FARM_DATABASE_URL"], 15, before)
    private_redis.restart(down_for=2.0)  # no persistence: every queued message is gone
    result = sweep.wait()
    assert all(workers.alive().values()), workers.alive()  # the workers rode it out
    lost = _complete("Redis restarted mid-sweep (no persistence)", "kill -9 redis-server, 2 s down, start",
                     env, result, baseline)
    assert lost < 60, lost


def test_a_database_restart_mid_sweep(cluster: tuple[Workers, dict[str, str]], private_pg: PrivatePostgres,
                                      tmp_path: Path) -> None:
    workers, env = cluster
    baseline = _baseline_seconds(env, tmp_path)
    before = newest_sweep(env["FARM_DATABASE_URL"])[0]
    sweep = start_sweep(env, cwd=tmp_path)
    wait_progress(env["FARM_DATABASE_URL"], 15, before)
    private_pg.restart()
    result = sweep.wait()
    assert all(workers.alive().values()), workers.alive()
    lost = _complete("Postgres restarted mid-sweep", "pg_ctl restart -m fast", env, result, baseline)
    assert lost < 60, lost


def test_a_sigkilled_worker_costs_at_most_about_30_seconds(cluster: tuple[Workers, dict[str, str]],
                                                           tmp_path: Path) -> None:
    workers, env = cluster
    baseline = _baseline_seconds(env, tmp_path)
    before = newest_sweep(env["FARM_DATABASE_URL"])[0]
    sweep = start_sweep(env, cwd=tmp_path)
    wait_progress(env["FARM_DATABASE_URL"], 15, before)
    workers.kill9("legacy")  # the worker's whole process group, holding its messages unacked
    time.sleep(1.0)
    workers.start("legacy")
    result = sweep.wait()
    lost = _complete("legacy worker killed (SIGKILL of its process group), restarted", "killpg SIGKILL, start",
                     env, result, baseline)
    assert lost <= 35, lost  # the bar: about 30 s (it was 277 s: the 300 s re-send timeout)


def test_a_database_gone_for_good_is_one_line_and_exit_2_then_resume_finishes(
        cluster: tuple[Workers, dict[str, str]], private_pg: PrivatePostgres, tmp_path: Path) -> None:
    _workers, env = cluster
    before = newest_sweep(env["FARM_DATABASE_URL"])[0]
    sweep = start_sweep({**env, "FARM_RECONNECT_WAIT": "4"}, cwd=tmp_path)
    wait_progress(env["FARM_DATABASE_URL"], 15, before)
    private_pg.stop()
    try:
        code, _out, err, _seconds = sweep.wait(timeout=120)
    finally:
        private_pg.start()
    lines = [line for line in err.splitlines() if line.startswith("farm: error:")]
    assert code == 2 and "Traceback" not in err, err[-3000:]
    assert len(lines) == 1 and "database unreachable" in lines[0] and "of retries" in lines[0], err[-2000:]
    sweep_id = newest_sweep(env["FARM_DATABASE_URL"])[0]
    resumed = subprocess.run([sys.executable, "-m", "farm", "sweep", "resume", sweep_id, "--json", "--quiet"],
                             env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert counts(env["FARM_DATABASE_URL"], sweep_id) == (PLANNED, PLANNED)


def test_a_side_failing_everywhere_stops_a_distributed_sweep(cluster: tuple[Workers, dict[str, str]],
                                                             tmp_path: Path) -> None:
    _workers, env = cluster
    code, _out, err, seconds = start_sweep(env, "--legacy", "http://127.0.0.1:9", "--legacy-profile",
                                           "lakehouse-legacy", cwd=tmp_path).wait()
    assert code == 4 and "Traceback" not in err, err[-2000:]
    assert "legacy unreachable:" in err and "connection refused or lost at http://127.0.0.1:9/ai/embed" in err
    recorded = int(err.split("legacy unreachable: ")[1].split(" of ")[0].replace(",", ""))
    assert 3 * 32 <= recorded < PLANNED  # stopped after the first batches, not at the end
    assert seconds < 60

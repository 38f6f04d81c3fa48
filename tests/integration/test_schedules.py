"""A scheduled sweep through real processes: two demo gateways, a worker on each gateway's queue, the aggregate
worker and Celery beat firing every minute; Redis as broker, a fresh Postgres database. Nothing is mocked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from farm.config import load_config
from farm.gateway.process import spawn
from farm.schedule import run_id
from farm.store.db import transaction, upgrade
from farm.store.models import ScheduledRun, Sweep
from farm.store.schedules import get_run
from farm.store.sweeps import sample_count
from tests.integration.test_audit_celery import (
    Processes,
    celery_env,
    private_dir,
    scheduled_rows,
    wait_for,
)

SCHEDULE = "embed-every-minute"


@pytest.fixture
def workdir() -> Iterator[Path]:
    with private_dir() as path:
        yield path


def sweep_done(url: str, sweep_id: str | None) -> bool:
    if sweep_id is None:
        return False
    with transaction(url) as s:
        return s.scalar(select(Sweep.status).where(Sweep.id == sweep_id)) == "done"


def sweep_total(url: str) -> int:
    with transaction(url) as s:
        return int(s.scalar(select(func.count()).select_from(Sweep)) or 0)


@pytest.mark.slow
@pytest.mark.services
def test_beat_fires_a_distributed_sweep_once_per_minute(workdir: Path, pg_url: str, broker_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = workdir
    upgrade(pg_url)
    reports = tmp_path / "reports"
    with spawn("lakehouse-legacy") as legacy, spawn("lakehouse-candidate") as candidate:
        config_path = tmp_path / "farm.toml"
        config_path.write_text(
            f'[gateways.legacy]\nurl = "{legacy.url}"\nprofile = "lakehouse-legacy"\n\n'
            f'[gateways.candidate]\nurl = "{candidate.url}"\nprofile = "lakehouse-candidate"\n\n'
            f'[[schedules]]\nname = "{SCHEDULE}"\ncron = "* * * * *"\nkind = "sweep"\n'
            f'args = {{ legacy = "legacy", candidate = "candidate", samples = 300, reports_dir = "{reports}" }}\n',
            encoding="utf-8",
        )
        env = celery_env(config_path, pg_url, broker_url)
        procs = Processes(env, tmp_path)
        try:
            procs.worker("legacy", "probe.legacy")
            procs.worker("candidate", "probe.candidate")
            procs.worker("aggregate", "farm.aggregate")
            procs.beat(tmp_path / "celerybeat-schedule")

            # A second tick of the same minute (a second beat, a redelivery): call fire twice, as beat would.
            from workers.app import make_app
            from workers.schedule import fire_schedule

            for key in ("FARM_CONFIG", "FARM_DATABASE_URL", "FARM_BROKER_URL"):
                monkeypatch.setenv(key, env[key])
            config = load_config()
            app = make_app(config)
            tick = datetime(2001, 1, 1, 0, 0, 17, tzinfo=UTC)  # a minute beat itself never fires in this test
            assert fire_schedule(app, config, SCHEDULE, tick) == run_id(SCHEDULE, tick)
            before = sweep_total(pg_url)
            assert fire_schedule(app, config, SCHEDULE, tick.replace(second=58)) is None
            assert sweep_total(pg_url) == before
            manual = get_run(pg_url, run_id(SCHEDULE, tick))
            assert manual is not None and manual[0] == "dispatched"
            manual_sweep = manual[1]["sweep_id"]
            wait_for(lambda: sweep_done(pg_url, manual_sweep), 120, procs, "the directly fired sweep")

            # The same through the broker, twice, with the fire time in the header as beat stamps it: the worker
            # takes its run id from the header, and the second message is a no-op.
            sent = tick.replace(minute=1)
            for _ in range(2):
                app.send_task("farm.schedule.fire", args=[SCHEDULE], queue="farm.aggregate",
                              headers={"farm_fire_time": sent.isoformat()})

            def via_broker() -> bool:
                found = get_run(pg_url, run_id(SCHEDULE, sent))
                return found is not None and sweep_done(pg_url, found[1].get("sweep_id"))

            wait_for(via_broker, 120, procs, "the sweep fired through the broker")

            def beat_sweep() -> str | None:
                for row in scheduled_rows(pg_url, "sweep"):
                    if (row.run_id not in (run_id(SCHEDULE, tick), run_id(SCHEDULE, sent))
                            and sweep_done(pg_url, row.detail.get("sweep_id"))):
                        return str(row.detail["sweep_id"])
                return None

            # Beat fires at the next minute boundary (up to 60 s), then 300 samples on both gateways.
            wait_for(lambda: beat_sweep() is not None, 150, procs, "a beat-fired sweep to finish")
            fired = beat_sweep()
        finally:
            procs.stop()
            aggregate_log = procs.log("aggregate")
    assert fired is not None
    for sweep_id in (manual_sweep, fired, (get_run(pg_url, run_id(SCHEDULE, sent)) or ("", {}))[1]["sweep_id"]):
        assert sample_count(pg_url, sweep_id) == 300
        assert sweep_done(pg_url, sweep_id)
    # Every sweep in the database was started by exactly one scheduled run: duplicates created none.
    rows = scheduled_rows(pg_url, "sweep")
    with transaction(pg_url) as s:
        sweeps = set(s.scalars(select(Sweep.id)))
        runs_for_manual = s.scalar(select(func.count()).select_from(ScheduledRun)
                                   .where(ScheduledRun.run_id == run_id(SCHEDULE, tick)))
    linked = [r.detail.get("sweep_id") for r in rows]
    assert runs_for_manual == 1
    assert sorted(s for s in linked if s) == sorted(sweeps)
    assert all(r.run_id.startswith(f"{SCHEDULE}@") and r.run_id.endswith("Z") for r in rows)
    assert "already fired; duplicate ignored" in aggregate_log
    beat_rows = [r for r in rows if r.run_id not in (run_id(SCHEDULE, tick), run_id(SCHEDULE, sent))]
    assert beat_rows and all(r.detail["fire_time"] in r.run_id for r in beat_rows)
    # The aggregate worker finalized it as usual: the parity report is on disk.
    assert list((reports / "cutover").glob("embed_parity_*.md"))

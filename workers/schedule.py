"""Scheduled work fired by Celery beat: `farm.schedule.fire(name)` on the farm.aggregate queue.

`celery -A workers beat` publishes one `fire` per due `[[schedules]]` entry of farm.toml; the publisher stamps
the fire time (floored to the minute, UTC) into the message header `farm_fire_time`, so a redelivered message
keeps its run id. The first thing `fire` does is insert that run id into `scheduled_runs`: a duplicate fire
(a second beat, a redelivery) finds it there and is a no-op. See docs/scheduling.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Task
from celery.signals import before_task_publish

from farm.config import FarmConfig, ScheduleConfig
from farm.distributed.names import FIRE_TASK, RUN_PHASE_TASK
from farm.schedule import (
    FIRE_TIME_HEADER,
    audit_plan,
    claim_run,
    find_schedule,
    fire_stamp,
    floor_minute,
    parse_fire_time,
    run_id,
    start_fleet_audit,
    sweep_args,
    sweep_request,
)
from farm.store.schedules import update_run
from workers.app import app, long_task_limits

log = logging.getLogger(__name__)


@before_task_publish.connect
def _stamp_fire_time(sender: str | None = None, headers: dict[str, Any] | None = None, **_kw: Any) -> None:
    """Beat (or anyone) publishing a fire: record when, unless the publisher already did."""
    if sender == FIRE_TASK and headers is not None and not headers.get(FIRE_TIME_HEADER):
        headers[FIRE_TIME_HEADER] = floor_minute(datetime.now(UTC)).isoformat()


def fire_schedule(celery_app: Any, config: FarmConfig, name: str, fire_time: datetime) -> str | None:
    """Run one fire of schedule `name`: returns the run id, or None when this fire was a duplicate."""
    i, sched = find_schedule(config, name)
    rid = run_id(name, fire_time)
    if sched.kind == "sweep":
        return _fire_sweep(celery_app, config, i, sched, rid, fire_time)
    return _fire_audit(celery_app, config, i, sched, rid, fire_time)


def _fire_sweep(celery_app: Any, config: FarmConfig, i: int, sched: ScheduleConfig, rid: str,
                fire_time: datetime) -> str | None:
    from farm.distributed.inflight import RESEND_AFTER, Inflight
    from farm.distributed.producer import Sender, dispatch, start
    from farm.store.sweeps import set_status
    from farm.sweep.spec import build_spec

    args = sweep_args(config, sched, f"schedules[{i}]")
    url = config.database_url
    if not claim_run(url, rid, sched.name, "sweep", "dispatching", {"fire_time": fire_stamp(fire_time)}):
        log.info("schedule %s: run %s already fired; duplicate ignored", sched.name, rid)
        return None
    sweep_id: str | None = None
    try:
        spec = build_spec(config, sweep_request(args))
        reports = None if args.get("no_report") else Path(args.get("reports_dir", "reports"))
        sweep_id = start(config, spec, reports)
        update_run(url, rid, sweep_id=sweep_id)
        # Blocks only for flow control (re-sending lost batches meanwhile); after that, broker redelivery alone.
        batches = dispatch(Sender(celery_app, config, spec), spec, sweep_id, Inflight(url, sweep_id, RESEND_AFTER))
    except Exception as exc:
        log.exception("schedule %s: run %s failed to dispatch", sched.name, rid)
        update_run(url, rid, "failed", error=f"{type(exc).__name__}: {exc}")
        if sweep_id is not None:
            set_status(url, sweep_id, "failed")
        return rid
    update_run(url, rid, "dispatched", batches=batches)
    log.info("schedule %s: run %s dispatched sweep %s (%d batches)", sched.name, rid, sweep_id, batches)
    return rid


def _fire_audit(celery_app: Any, config: FarmConfig, i: int, sched: ScheduleConfig, rid: str,
                fire_time: datetime) -> str | None:
    plan = audit_plan(config, sched, f"schedules[{i}]")
    roots = start_fleet_audit(config, config.database_url, sched, plan, rid, fire_time)
    if roots is None:
        log.info("schedule %s: run %s already fired; duplicate ignored", sched.name, rid)
        return None
    for sub, target, profile in roots:
        for phase in plan.phases:
            celery_app.send_task(RUN_PHASE_TASK, args=[sub, target.host, target.root, phase, profile],
                                 queue=target.queue, argsrepr=f"{sub} phase {phase}")
    log.info("schedule %s: run %s fanned out %d phases over %d roots", sched.name, rid,
             len(plan.phases) * len(roots), len(roots))
    return rid


@app.task(name=FIRE_TASK, bind=True, **long_task_limits())
def fire(self: Task, name: str) -> None:
    """One beat fire of schedule `name` (its only argument: never secrets, never the schedule's args)."""
    config: FarmConfig = app.conf.farm_config
    when = parse_fire_time(self.request.get(FIRE_TIME_HEADER)) or floor_minute(datetime.now(UTC))
    fire_schedule(app, config, name, when)

"""Sweep tasks, for every probe. Each is a thin shell over `farm.distributed.work`; see it for guarantees."""

from __future__ import annotations

from typing import Any

from celery import Task

from farm.distributed.jobs import SideJob, describe_pairing
from farm.distributed.names import AGGREGATE_QUEUE, CALL_TASK, FINALIZE_TASK, PAIR_TASK
from farm.distributed.work import finalize_distributed, pair, run_side
from workers.app import app, database_url, long_task_limits


@app.task(name=CALL_TASK, bind=True)
def call_gateway(self: Task, job: dict[str, Any]) -> None:
    """Call this worker's gateway for a few batches; the side that completes them enqueues their comparison."""
    side_job = SideJob.from_dict(job)
    both = run_side(side_job, database_url(), self.request.hostname or "worker")
    if both:
        pair_batch.apply_async(args=[side_job.sweep_id, both], queue=AGGREGATE_QUEUE,
                               argsrepr=describe_pairing(side_job.sweep_id, both))


@app.task(name=PAIR_TASK)
def pair_batch(sweep_id: str, batch_nos: list[int]) -> None:
    """Compare and store batches (each once); the pairing that completes the sweep enqueues `finalize_sweep`."""
    result = pair(database_url(), sweep_id, batch_nos)
    if result.paired and result.complete:
        finalize_sweep.apply_async(args=[sweep_id], queue=AGGREGATE_QUEUE)


@app.task(name=FINALIZE_TASK, **long_task_limits())
def finalize_sweep(sweep_id: str) -> None:
    """Verdict, drift catalog and reports; a second delivery finds the sweep already finalizing and stops."""
    from farm.store.sweeps import get_sweep

    reports = get_sweep(database_url(), sweep_id).params.get("reports_dir")
    finalize_distributed(database_url(), sweep_id, reports)

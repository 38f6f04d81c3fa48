"""Embed sweep tasks. Each is a thin shell over `farm.distributed.work`; see that module for guarantees."""

from __future__ import annotations

from typing import Any

from celery import Task
from sqlalchemy.exc import DBAPIError

from farm.distributed.jobs import SideJob, describe_pairing
from farm.distributed.work import finalize_distributed, pair, run_side
from workers.app import AGGREGATE_QUEUE, app, database_url, long_task_limits

_RETRY: dict[str, Any] = {"autoretry_for": (DBAPIError,), "retry_backoff": True, "retry_backoff_max": 60,
                          "retry_jitter": True, "max_retries": 8}


@app.task(name="farm.embed.call_gateway", bind=True, **_RETRY)
def call_gateway(self: Task, job: dict[str, Any]) -> None:
    """Call this worker's gateway for a few batches; the side that completes them enqueues their comparison."""
    side_job = SideJob.from_dict(job)
    both = run_side(side_job, database_url(), self.request.hostname or "worker")
    if both:
        pair_batch.apply_async(args=[side_job.sweep_id, both], queue=AGGREGATE_QUEUE,
                               argsrepr=describe_pairing(side_job.sweep_id, both))


@app.task(name="farm.embed.pair_batch", **_RETRY)
def pair_batch(sweep_id: str, batch_nos: list[int]) -> None:
    """Compare and store batches (each once); the pairing that completes the sweep enqueues `finalize_sweep`."""
    result = pair(database_url(), sweep_id, batch_nos)
    if result.paired and result.complete:
        finalize_sweep.apply_async(args=[sweep_id], queue=AGGREGATE_QUEUE)


@app.task(name="farm.embed.finalize_sweep", **_RETRY, **long_task_limits())
def finalize_sweep(sweep_id: str) -> None:
    """Verdict, drift catalog and reports; a second delivery finds the sweep already finalizing and stops."""
    from farm.store.sweeps import get_sweep

    reports = get_sweep(database_url(), sweep_id).params.get("reports_dir")
    finalize_distributed(database_url(), sweep_id, reports)

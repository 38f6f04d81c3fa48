"""What the Celery tasks do, as plain functions: call one side, pair a batch, finalize a sweep.

The calls and the comparison are the shared per-batch step (`farm.sweep.step`); the exactly-once
bookkeeping around them is `farm.store.batches`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from farm.distributed.jobs import Part, SideJob, pack, retry_policy, unpack
from farm.gateway.client import PER_BATCH_REQUESTS, make_client
from farm.probes import get_probe
from farm.probes.base import Profile
from farm.report.sweep import render
from farm.store.batches import PairResult, claim_finalize, drift_states, status_of, store_and_count
from farm.store.batches import pair as pair_batches
from farm.store.sweeps import get_sweep, set_status
from farm.sweep.finalize import Outcome, finalize
from farm.sweep.spec import params_of, profiles_of, target_from_dict
from farm.sweep.step import call_side, compare_sides
from farm.wiredrift import DOC_BATCHES, DriftObserver

_local = threading.local()
T = TypeVar("T")


def _loop_and_client() -> tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]:
    """One event loop and one pooled client per worker thread, kept for the life of the process."""
    if getattr(_local, "loop", None) is None:
        _local.loop = asyncio.new_event_loop()
        _local.client = make_client(concurrency=4 * PER_BATCH_REQUESTS, timeout=60.0)  # room for per-input probes
    return _local.loop, _local.client


def _run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on this thread's loop; if interrupted (a task's soft time limit raises from a signal handler),
    cancel what it left running so the next job starts on a clean loop."""
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        raise


_STATUS_TTL = 1.0  # seconds a worker trusts a sweep's status: a cancel takes effect within it
_status_cache: dict[str, tuple[float, str | None]] = {}


def sweep_status(url: str, sweep_id: str) -> str | None:
    """The sweep's status, read at most once a second per process (every batch asking cost a round trip)."""
    now = time.monotonic()
    cached = _status_cache.get(sweep_id)
    if cached is not None and now - cached[0] < _STATUS_TTL:
        return cached[1]
    status = status_of(url, sweep_id)
    _status_cache[sweep_id] = (now, status)
    return status


def run_side(job: SideJob, url: str, worker: str) -> list[int]:
    """Call this worker's gateway for the job's batches (concurrently, one request each) and store the answers.

    Returns the job's batches whose two sides are now both stored: the ones to pair.
    """
    if sweep_status(url, job.sweep_id) != "running":  # cancelled, failed, already complete, or unknown
        return []
    loop, client = _loop_and_client()
    probe = get_probe(job.probe)
    target, policy = target_from_dict(job.gateway), retry_policy(job.retry)
    secondary = target_from_dict(job.secondary) if job.secondary else None

    async def call(part: Part) -> bytes:
        side = await call_side(client, probe, target, part.items, job.model, policy, worker, noise=part.noise,
                               secondary=secondary, options=job.options)
        return pack(job.probe, side, part.start, keep_doc=part.batch_no < DOC_BATCHES)

    async def call_all() -> list[bytes]:
        return list(await asyncio.gather(*(call(part) for part in job.parts)))

    payloads = _run(loop, call_all())
    rows = [{"sweep_id": job.sweep_id, "batch_no": part.batch_no, "side": job.side, "worker": worker,
             "payload": payload} for part, payload in zip(job.parts, payloads, strict=True)]
    return store_and_count(url, job.sweep_id, rows, job.batch_nos)


_sweep_cache: dict[str, tuple[str, Profile, Profile, Any, dict[str, Any]]] = {}


def _sweep_facts(url: str, sweep_id: str) -> tuple[str, Profile, Profile, Any, dict[str, Any]]:
    """A sweep's probe, wire profiles and verdict parameters, read once per process (they never change; every
    batch reading them cost a round trip)."""
    if sweep_id not in _sweep_cache:
        sweep = get_sweep(url, sweep_id)
        if len(_sweep_cache) > 256:
            _sweep_cache.clear()
        _sweep_cache[sweep_id] = (sweep.probe, *profiles_of(sweep), params_of(sweep),
                                  dict(sweep.params.get("probe_options") or {}))
    return _sweep_cache[sweep_id]


def pair(url: str, sweep_id: str, batch_nos: Sequence[int]) -> PairResult:
    """Compare the two stored sides of each batch and write their rows, once (see `farm.store.batches.pair`)."""
    probe_name, lp, cp, params, options = _sweep_facts(url, sweep_id)
    probe = get_probe(probe_name)

    def compare(batch_no: int, sides: dict[str, bytes]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                                  list[dict[str, Any]], dict[str, Any] | None]:
        legacy, start = unpack(probe_name, sides["legacy"])
        candidate, _ = unpack(probe_name, sides["candidate"])
        observer = DriftObserver(lp, cp)
        rows = compare_sides(probe, sweep_id, batch_no, start, legacy, candidate, params, observer, options)
        state = observer.to_dict() if observer.batches else None  # observed only when both sides parsed
        return rows.samples, rows.extra, rows.noise, state

    return pair_batches(url, sweep_id, batch_nos, probe, compare)


def finalize_distributed(url: str, sweep_id: str, reports_dir: str | None) -> Outcome | None:
    """Verdict, drift catalog and reports of a complete sweep, produced once."""
    if not claim_finalize(url, sweep_id):
        return None
    sweep = get_sweep(url, sweep_id)
    try:
        lp, cp = profiles_of(sweep)
        observer = DriftObserver(lp, cp)
        for state in drift_states(url, sweep_id):
            observer.merge(DriftObserver.from_dict(state, lp, cp))
        # The producer sets `planned` in the same UPDATE as `batches_total`, which the finalize claim requires.
        bad = sweep.params.get("corpus_bad_lines")
        outcome = finalize(url, sweep_id, sweep.probe, params_of(sweep), observer, planned=sweep.planned,
                           sequential=bool(sweep.params.get("until_decided")), status="finalizing",
                           extra={"corpus_bad_lines": bad} if bad else None)
        if reports_dir is not None:
            render(url, sweep_id, Path(reports_dir))
    except BaseException:
        set_status(url, sweep_id, "failed")  # never leave a producer waiting on a sweep nobody will finish
        raise
    set_status(url, sweep_id, "done")  # last: a producer that sees "done" finds the reports written
    return outcome

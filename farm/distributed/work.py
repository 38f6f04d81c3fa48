"""What the Celery tasks do, as plain functions: call one side, pair a batch, finalize a sweep.

Every step is idempotent, so at-least-once delivery gives exactly-once results:
- a side result is keyed (sweep, batch, side): a redelivered call stores nothing new;
- pairing inserts (sweep, batch) into `paired_batches` first: only the insert that wins writes and counts it;
- finalize moves the sweep from `running` to `finalizing` in one UPDATE: only one caller renders.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import delete, func, select, update

from farm.distributed.jobs import SIDES, Part, SideJob, pack, retry_policy, unpack
from farm.gateway.client import SideResult, call_embed, make_client
from farm.probes.embed import compare_batch, self_cosines
from farm.profiles import WireProfile
from farm.report.embed import render
from farm.stats import VerdictParams
from farm.store.db import ensure_schema, transaction
from farm.store.models import NoiseSample, PairedBatch, Sample, Sweep
from farm.store.models import SideResult as SideRow
from farm.store.sides import fetch_sides, store_sides
from farm.store.sweeps import claim, insert_new, set_status
from farm.sweep.finalize import Outcome, finalize
from farm.sweep.spec import profiles_of, target_from_dict
from farm.wiredrift import DOC_BATCHES, DriftObserver

_local = threading.local()
T = TypeVar("T")


def _loop_and_client() -> tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]:
    """One event loop and one pooled client per worker thread, kept for the life of the process."""
    if getattr(_local, "loop", None) is None:
        _local.loop = asyncio.new_event_loop()
        _local.client = make_client(concurrency=4, timeout=60.0)
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
    with transaction(url) as s:
        status = s.scalar(select(Sweep.status).where(Sweep.id == sweep_id))
    _status_cache[sweep_id] = (now, status)
    return status


def run_side(job: SideJob, url: str, worker: str) -> list[int]:
    """Call this worker's gateway for the job's batches (concurrently, one request each) and store the answers.

    Returns the job's batches whose two sides are now both stored: the ones to pair.
    """
    if sweep_status(url, job.sweep_id) != "running":  # cancelled, failed, already complete, or unknown
        return []
    loop, client = _loop_and_client()
    target, policy = target_from_dict(job.gateway), retry_policy(job.retry)

    async def call(part: Part) -> bytes:
        result = await call_embed(client, target, part.texts, job.model, policy, worker)
        self_cos = None
        if part.noise:
            again = await call_embed(client, target, part.texts, job.model, policy, worker)
            self_cos = self_cosines(result, again)
        return pack(result, part.start, self_cos, keep_doc=part.batch_no < DOC_BATCHES)

    async def call_all() -> list[bytes]:
        return list(await asyncio.gather(*(call(part) for part in job.parts)))

    payloads = _run(loop, call_all())
    rows = [{"sweep_id": job.sweep_id, "batch_no": part.batch_no, "side": job.side, "worker": worker,
             "payload": payload} for part, payload in zip(job.parts, payloads, strict=True)]
    # Two transactions on purpose: counting after our insert has committed means that of two sides landing
    # at once, at least the later one sees both and enqueues the pairing. A Core connection, not a Session:
    # this runs for every job.
    with ensure_schema(url).connect() as conn:
        with conn.begin():
            store_sides(conn, rows)
        with conn.begin():
            both = conn.execute(select(SideRow.batch_no).where(
                SideRow.sweep_id == job.sweep_id, SideRow.batch_no.in_(job.batch_nos))
                .group_by(SideRow.batch_no).having(func.count() == len(SIDES))).scalars().all()
    return sorted(both)


@dataclass(frozen=True)
class PairResult:
    paired: list[int]  # the batches this call paired (claimed); the others were paired before or lack a side
    done: int
    total: int | None

    @property
    def complete(self) -> bool:
        return self.total is not None and self.done >= self.total


def pair(url: str, sweep_id: str, batch_nos: Sequence[int]) -> PairResult:
    """Compare the two stored sides of each batch and write their samples, once, in one transaction.

    The `paired_batches` insert is the claim: of two deliveries racing, the second waits on the first's keys
    and then inserts none of them, so only the winner writes a batch's samples (COPY on Postgres) and counts it.
    """
    lp, cp = _profiles(url, sweep_id)
    with ensure_schema(url).connect() as conn, conn.begin():
        found: dict[int, dict[str, tuple[SideResult, dict[str, Any]]]] = {}
        for batch_no, side, payload in fetch_sides(conn, sweep_id, batch_nos):
            found.setdefault(batch_no, {})[side] = unpack(payload)
        # A batch without both sides was paired already (redelivery) or its twin has not landed yet.
        compared = {no: _compare(sweep_id, no, sides, lp, cp) for no, sides in found.items()
                    if set(sides) == set(SIDES)}
        won = [no for _sweep, no in claim(conn, PairedBatch, [
            {"sweep_id": sweep_id, "batch_no": no, "drift_state": drift} for no, (_s, _n, drift) in compared.items()])]
        if won:
            insert_new(conn, Sample, [row for no in won for row in compared[no][0]])
            insert_new(conn, NoiseSample, [row for no in won for row in compared[no][1]])
            conn.execute(delete(SideRow).where(SideRow.sweep_id == sweep_id, SideRow.batch_no.in_(won)))
            # Last: the sweep row is the one every pairing updates, so its lock is held for the commit only.
            done, total = conn.execute(update(Sweep).where(Sweep.id == sweep_id)
                                       .values(batches_done=Sweep.batches_done + len(won))
                                       .returning(Sweep.batches_done, Sweep.batches_total)).one()
        else:
            done, total = conn.execute(select(Sweep.batches_done, Sweep.batches_total)
                                       .where(Sweep.id == sweep_id)).one()
    return PairResult(sorted(won), int(done), total)


_profile_cache: dict[str, tuple[WireProfile, WireProfile]] = {}


def _profiles(url: str, sweep_id: str) -> tuple[WireProfile, WireProfile]:
    """A sweep's wire profiles, read once per process (they never change; every batch reading them cost a
    round trip)."""
    if sweep_id not in _profile_cache:
        with transaction(url) as s:
            sweep = s.get(Sweep, sweep_id)
            if sweep is None:
                raise LookupError(f"no sweep {sweep_id}")
            if len(_profile_cache) > 256:
                _profile_cache.clear()
            _profile_cache[sweep_id] = profiles_of(sweep)
    return _profile_cache[sweep_id]


def _compare(sweep_id: str, batch_no: int, sides: dict[str, tuple[SideResult, dict[str, Any]]],
             lp: WireProfile, cp: WireProfile) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                         dict[str, Any] | None]:
    """Sample rows, A/A noise rows and the wire-drift state of one batch, from its two unpacked sides."""
    (legacy, lmeta), (candidate, cmeta) = sides["legacy"], sides["candidate"]
    texts = legacy.request.get("texts") or candidate.request.get("texts") or _texts(legacy.request)
    samples = compare_batch(sweep_id, batch_no, lmeta["start"], texts, legacy, candidate)
    noise = [{"sweep_id": sweep_id, "idx": lmeta["start"] + i, "side": side, "cosine": cos,
              "error": None if cos is not None else "unpaired"}
             for side, meta in (("legacy", lmeta), ("candidate", cmeta)) if meta["self_cos"] is not None
             for i, cos in enumerate(meta["self_cos"])]
    drift_state = None
    if legacy.response is not None and candidate.response is not None:
        observer = DriftObserver(lp, cp)
        observer.observe(legacy.request, legacy.response, candidate.request, candidate.response, norms=False)
        drift_state = observer.to_dict()
    return samples, noise, drift_state


def _texts(request: dict[str, Any]) -> list[str]:
    for value in request.values():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    raise ValueError("stored request has no list of texts")


def claim_finalize(url: str, sweep_id: str) -> bool:
    """Move a complete sweep from running to finalizing; True for the one caller that did it."""
    with transaction(url) as s:
        claimed = s.execute(update(Sweep).where(
            Sweep.id == sweep_id, Sweep.status == "running", Sweep.batches_total.is_not(None),
            Sweep.batches_done >= Sweep.batches_total).values(status="finalizing").returning(Sweep.id)).all()
        return len(claimed) == 1


def finalize_distributed(url: str, sweep_id: str, reports_dir: str | None) -> Outcome | None:
    """Verdict, drift catalog and reports of a complete sweep, produced once."""
    if not claim_finalize(url, sweep_id):
        return None
    with transaction(url) as s:
        sweep = s.get(Sweep, sweep_id)
        states = s.scalars(select(PairedBatch.drift_state).where(PairedBatch.sweep_id == sweep_id)
                           .order_by(PairedBatch.batch_no))
        state_list = [state for state in states if state]  # a JSON column stores None as JSON null
    assert sweep is not None
    try:
        outcome = _finalize_claimed(url, sweep, state_list, reports_dir)
    except BaseException:
        set_status(url, sweep_id, "failed")  # never leave a producer waiting on a sweep nobody will finish
        raise
    set_status(url, sweep_id, "done")  # last: a producer that sees "done" finds the reports written
    return outcome


def _finalize_claimed(url: str, sweep: Sweep, state_list: list[dict[str, Any]], reports_dir: str | None) -> Outcome:
    sweep_id = sweep.id
    lp, cp = profiles_of(sweep)
    observer = DriftObserver(lp, cp)
    for state in state_list:
        observer.merge(DriftObserver.from_dict(state, lp, cp))
    p = sweep.params
    params = VerdictParams(tau=p["tau"], p_max=p["p_max"], alpha=p["alpha"], floor=p["floor"])
    # The producer sets `planned` in the same UPDATE as `batches_total`, which the finalize claim requires.
    outcome = finalize(url, sweep_id, params, observer, planned=sweep.planned,
                       sequential=bool(p.get("until_decided")), status="finalizing")
    if reports_dir is not None:
        render(url, sweep_id, Path(reports_dir))
    return outcome

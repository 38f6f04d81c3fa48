"""The embedded engine: the whole sweep in one process, async httpx with bounded concurrency.

Corpus -> batches -> both gateways concurrently -> the probe's comparison -> bulk write -> (sequential check).
Writes go through one writer thread so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from farm.corpus import Batch, CorpusStats, batches
from farm.gateway.client import PER_BATCH_REQUESTS, make_client
from farm.probes.base import Probe
from farm.reconnect import retrying
from farm.store.sweeps import write_samples
from farm.sweep.finalize import decide_stored
from farm.sweep.health import MIN_BATCHES
from farm.sweep.spec import SweepSpec
from farm.sweep.step import BatchRows, call_side, compare_sides, in_noise_subsample
from farm.wiredrift import DriftObserver

Progress = Callable[[int], None]
FLUSH_ROWS = 1024  # samples per database write: fewer transactions, at most this many redone after a crash


@dataclass
class Tally:
    """Running counts for the progress line and the side-health check, and where the sequential stop stands."""

    samples: int = 0
    batches: int = 0
    decided: str | None = None
    decided_at: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    checked_at: int = 0
    failed_side: str | None = None  # why the sweep stopped: a side failed on every sample (farm.sweep.health)
    details: dict[str, str] = field(default_factory=dict)  # the first detail seen per "side:error class"

    def side_failure(self, where: dict[str, str]) -> str | None:
        from farm.sweep.health import failing_side, split_tally

        return failing_side(self.samples, split_tally(self.errors), where, split_tally(self.details))

    def due(self, batch_size: int) -> bool:
        """Whether the sequential stop should ask the verdict now: after every batch at first, then every 5% of
        the samples seen (the verdict reads every stored sample, so asking after each batch would be quadratic)."""
        if self.samples - self.checked_at < max(batch_size, self.checked_at // 20):
            return False
        self.checked_at = self.samples
        return True

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.batches += 1
        self.samples += len(rows)
        for row in rows:
            for side in ("legacy", "candidate"):
                err = row[f"{side}_error"]
                if err is not None:
                    key = f"{side}:{err}"
                    self.errors[key] = self.errors.get(key, 0) + 1


@dataclass
class EngineResult:
    observer: DriftObserver
    tally: Tally
    planned: int
    corpus: CorpusStats


async def run_batch(spec: SweepSpec, probe: Probe, client: httpx.AsyncClient, batch: Batch, sweep_id: str,
                    worker: str, observer: DriftObserver | None) -> BatchRows:
    """One batch through the shared step: both sides concurrently, then the comparison."""
    noise = in_noise_subsample(batch.no, spec.noise_sample)
    legacy, candidate = await asyncio.gather(
        call_side(client, probe, spec.legacy, batch.items, spec.model, spec.retry, worker, noise=noise,
                  secondary=spec.legacy_secondary, options=spec.probe_options),
        call_side(client, probe, spec.candidate, batch.items, spec.model, spec.retry, worker, noise=noise,
                  options=spec.probe_options),
    )
    return compare_sides(probe, sweep_id, batch.no, batch.start, legacy, candidate, spec.params, observer,
                         spec.probe_options)


async def run_embedded(spec: SweepSpec, sweep_id: str, progress: Progress | None = None,
                       worker: str = "embedded", done: set[int] | frozenset[int] = frozenset()) -> EngineResult:
    """Run the sweep to the end of the corpus, or until decided when `spec.until_decided`; a continued sweep
    skips the batches whose samples (`done`, by index) are stored already."""
    probe = spec.plugin
    observer = DriftObserver(spec.legacy.profile, spec.candidate.profile)
    tally = Tally()
    corpus_stats = CorpusStats()
    source = batches(spec.inputs(corpus_stats), spec.batch_size)
    planned = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="farm-writer")

    pending = BatchRows([], [], [])
    where = {"legacy": spec.legacy.endpoint, "candidate": spec.candidate.endpoint}

    async def flush() -> None:
        rows = BatchRows(pending.samples[:], pending.extra[:], pending.noise[:])
        pending.samples.clear()
        pending.extra.clear()
        pending.noise.clear()
        if rows.samples or rows.noise:
            await loop.run_in_executor(writer, retrying, write_samples, spec.database_url, rows.samples, rows.noise,
                                       probe, rows.extra)

    def next_batch() -> Batch | None:
        nonlocal planned
        if stop.is_set():
            return None
        batch = next(source, None)
        while batch is not None and done and all(i in done for i in batch.idxs):
            planned += len(batch.items)
            batch = next(source, None)
        if batch is not None:
            planned += len(batch.items)
        return batch

    deciding = asyncio.Lock()

    async def decide() -> None:
        """The sequential stop: the verdict itself, on every sample stored so far (in sample order, the noise
        floor included), always-valid; it stops the sweep at its first PASS or FAIL."""
        async with deciding:
            if tally.decided is not None or not tally.due(spec.batch_size):
                return
            await flush()
            seen = tally.samples
            verdict = await loop.run_in_executor(writer, partial(
                retrying, decide_stored, spec.database_url, sweep_id, probe, spec.params, planned=None,
                sequential=True, options=spec.probe_options))
            if verdict.outcome in ("PASS", "FAIL"):
                tally.decided, tally.decided_at = verdict.outcome, seen
                stop.set()

    async def lane(client: httpx.AsyncClient) -> None:
        while (batch := next_batch()) is not None:
            rows = await run_batch(spec, probe, client, batch, sweep_id, worker, observer)
            pending.samples.extend(rows.samples)
            pending.extra.extend(rows.extra)
            pending.noise.extend(rows.noise)
            if len(pending.samples) >= FLUSH_ROWS:
                await flush()
            tally.add(rows.samples)
            for key, text in rows.details.items():
                tally.details.setdefault(key, text)
            if progress is not None:
                progress(len(rows.samples))
            if tally.batches == MIN_BATCHES and tally.failed_side is None:
                tally.failed_side = tally.side_failure(where)
                if tally.failed_side is not None:
                    stop.set()
            if spec.until_decided and tally.decided is None:
                await decide()

    try:
        # Probes taking one request per input send up to PER_BATCH_REQUESTS per lane and side: room for all of
        # them in the pool, or requests wait for a connection inside their timed span (time to first token).
        lanes = spec.concurrency * (PER_BATCH_REQUESTS if probe.request_per_input else 1)
        async with make_client(lanes, spec.retry.timeout) as client:
            await asyncio.gather(*(lane(client) for _ in range(spec.concurrency)))
        await flush()
    finally:
        writer.shutdown(wait=True)
    if tally.failed_side is None and tally.batches < MIN_BATCHES:  # a short sweep: all of it counts
        tally.failed_side = tally.side_failure(where)
    return EngineResult(observer, tally, planned, corpus_stats)

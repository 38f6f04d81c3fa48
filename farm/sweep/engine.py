"""The embedded engine: the whole sweep in one process, async httpx with bounded concurrency.

Corpus -> batches -> both gateways concurrently -> the probe's comparison -> bulk write -> (sequential check).
Writes go through one writer thread so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from farm.corpus import Batch, CorpusStats, batches
from farm.gateway.client import PER_BATCH_REQUESTS, make_client
from farm.probes.base import Probe
from farm.reconnect import retrying
from farm.stats.binomial import survives_lost
from farm.stats.params import VerdictParams
from farm.stats.sequential import sequential_decision
from farm.store.sweeps import write_samples
from farm.sweep.health import MIN_BATCHES
from farm.sweep.spec import SweepSpec
from farm.sweep.step import BatchRows, call_side, compare_sides, in_noise_subsample
from farm.wiredrift import DriftObserver

Progress = Callable[[int], None]
FLUSH_ROWS = 1024  # samples per database write: fewer transactions, at most this many redone after a crash


@dataclass
class Tally:
    """Running counts for the sequential stop and the progress line."""

    samples: int = 0
    compared: int = 0
    disagreements: int = 0
    catastrophic: int = 0
    batches: int = 0
    decided: str | None = None
    decided_at: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)  # the mean family's scores so far (its sequential stop)
    checked_at: int = 0
    failed_side: str | None = None  # why the sweep stopped: a side failed on every sample (farm.sweep.health)
    details: dict[str, str] = field(default_factory=dict)  # the first detail seen per "side:error class"

    def side_failure(self, where: dict[str, str]) -> str | None:
        from farm.sweep.health import failing_side, split_tally

        return failing_side(self.samples, split_tally(self.errors), where, split_tally(self.details))

    def legacy_lost(self) -> int:
        """Samples legacy failed on so far: a PASS must hold were they all disagreements (as the verdict rules)."""
        return sum(n for key, n in self.errors.items() if key.startswith("legacy:"))

    def decision(self, probe: Probe, params: VerdictParams) -> str | None:
        """PASS or FAIL once the always-valid bounds decide, else None (safe to ask after every batch)."""
        lost = self.legacy_lost()
        if probe.family != "mean":
            if self.catastrophic:
                return "FAIL"
            decided = sequential_decision(self.disagreements, self.compared, params)
            if decided == "PASS" and not survives_lost(self.disagreements, self.compared, lost, params, True):
                return None  # not yet: the samples legacy failed on could still undo it
            return decided
        # The betting sequence is O(n) a call: ask every 5% of the samples seen (at least 256 apart).
        if self.samples - self.checked_at < max(256, self.checked_at // 20):
            return None
        self.checked_at = self.samples
        from farm.stats.bounded import decide_mean
        from farm.stats.mean_family import mean_params

        scores = np.asarray(self.scores, dtype=np.float64)
        outcome = decide_mean(scores, mean_params(params), sequential=True).outcome
        if outcome == "PASS" and lost:
            worst = np.concatenate([scores, np.zeros(lost)])  # as the verdict scores them when checking a PASS
            if decide_mean(worst, mean_params(params), sequential=True).outcome != "PASS":
                return None
        return None if outcome == "INCONCLUSIVE" else outcome

    def add(self, probe: Probe, rows: list[dict[str, Any]], params: VerdictParams) -> None:
        self.batches += 1
        self.samples += len(rows)
        for row in rows:
            for side in ("legacy", "candidate"):
                err = row[f"{side}_error"]
                if err is not None:
                    key = f"{side}:{err}"
                    self.errors[key] = self.errors.get(key, 0) + 1
        if probe.family == "mean":
            for row in rows:
                if row["legacy_error"] is None:  # as the verdict scores them: a candidate-only error is 0
                    score = 0.0 if row["candidate_error"] is not None else row["score"]
                    if isinstance(score, float):
                        self.scores.append(score)
        compared, disagreements, catastrophic = probe.sequential_step(rows, params)
        self.compared += compared
        self.disagreements += disagreements
        self.catastrophic += catastrophic


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
                       worker: str = "embedded") -> EngineResult:
    """Run the sweep to the end of the corpus, or until decided when `spec.until_decided`."""
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
        if batch is not None:
            planned += len(batch.items)
        return batch

    async def lane(client: httpx.AsyncClient) -> None:
        while (batch := next_batch()) is not None:
            rows = await run_batch(spec, probe, client, batch, sweep_id, worker, observer)
            pending.samples.extend(rows.samples)
            pending.extra.extend(rows.extra)
            pending.noise.extend(rows.noise)
            if len(pending.samples) >= FLUSH_ROWS:
                await flush()
            tally.add(probe, rows.samples, spec.params)
            for key, text in rows.details.items():
                tally.details.setdefault(key, text)
            if progress is not None:
                progress(len(rows.samples))
            if tally.batches == MIN_BATCHES and tally.failed_side is None:
                tally.failed_side = tally.side_failure(where)
                if tally.failed_side is not None:
                    stop.set()
            if spec.until_decided and tally.decided is None:
                decision = tally.decision(probe, spec.params)
                if decision is not None:
                    tally.decided, tally.decided_at = decision, tally.samples
                    stop.set()

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

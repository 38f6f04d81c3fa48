"""The embedded engine: the whole sweep in one process, async httpx with bounded concurrency.

Corpus -> batches -> both gateways concurrently -> `compare_batch` -> bulk write -> (sequential check).
Writes go through one writer thread so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from farm.corpus import Batch, batches, iter_texts
from farm.gateway.client import SideResult, call_embed, make_client
from farm.probes.embed import compare_batch, self_cosines
from farm.stats import sequential_decision
from farm.store.sweeps import write_samples
from farm.sweep.spec import SweepSpec
from farm.wiredrift import DriftObserver

Progress = Callable[[int], None]
FLUSH_ROWS = 1024  # samples per database write: fewer transactions, at most this many redone after a crash


def in_noise_subsample(batch_no: int, fraction: float) -> bool:
    """Deterministic choice of A/A batches (Knuth's multiplicative hash spreads them evenly)."""
    return fraction > 0 and ((batch_no * 2654435761) % 2**32) / 2**32 < fraction


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

    def add(self, rows: list[dict[str, object]], tau: float, floor: float) -> None:
        self.batches += 1
        for row in rows:
            self.samples += 1
            le, ce, cos = row["legacy_error"], row["candidate_error"], row["cosine"]
            for side, err in (("legacy", le), ("candidate", ce)):
                if err is not None:
                    key = f"{side}:{err}"
                    self.errors[key] = self.errors.get(key, 0) + 1
            if le is None and ce is not None:  # the candidate fails where legacy answers: a disagreement
                self.compared += 1
                self.disagreements += 1
            elif isinstance(cos, float):
                self.compared += 1
                self.disagreements += cos < tau
                self.catastrophic += cos < floor


@dataclass
class EngineResult:
    observer: DriftObserver
    tally: Tally
    planned: int


async def _pair(spec: SweepSpec, client: httpx.AsyncClient, batch: Batch,
                worker: str) -> tuple[SideResult, SideResult]:
    legacy, candidate = await asyncio.gather(
        call_embed(client, spec.legacy, batch.texts, spec.model, spec.retry, worker),
        call_embed(client, spec.candidate, batch.texts, spec.model, spec.retry, worker),
    )
    return legacy, candidate


async def run_embedded(spec: SweepSpec, sweep_id: str, progress: Progress | None = None,
                       worker: str = "embedded") -> EngineResult:
    """Run the sweep to the end of the corpus, or until decided when `spec.until_decided`."""
    observer = DriftObserver(spec.legacy.profile, spec.candidate.profile)
    tally = Tally()
    source = batches(iter_texts(spec.corpus), spec.batch_size)
    planned = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="farm-writer")

    pending: list[dict[str, object]] = []
    pending_noise: list[dict[str, object]] = []

    async def flush() -> None:
        rows, noise = pending[:], pending_noise[:]
        pending.clear()
        pending_noise.clear()
        if rows or noise:
            await loop.run_in_executor(writer, write_samples, spec.database_url, rows, noise)

    def next_batch() -> Batch | None:
        nonlocal planned
        if stop.is_set():
            return None
        batch = next(source, None)
        if batch is not None:
            planned += len(batch.texts)
        return batch

    async def lane(client: httpx.AsyncClient) -> None:
        while (batch := next_batch()) is not None:
            legacy, candidate = await _pair(spec, client, batch, worker)
            rows = compare_batch(sweep_id, batch.no, batch.start, batch.texts, legacy, candidate)
            noise: list[dict[str, object]] = []
            if in_noise_subsample(batch.no, spec.noise_sample):
                legacy2, candidate2 = await _pair(spec, client, batch, worker)
                for side, first, second in (("legacy", legacy, legacy2), ("candidate", candidate, candidate2)):
                    for idx, cos in zip(batch.idxs, self_cosines(first, second), strict=True):
                        noise.append({"sweep_id": sweep_id, "idx": idx, "side": side, "cosine": cos,
                                      "error": None if cos is not None else "unpaired"})
            if legacy.ok and candidate.ok:
                # Norms come from the stored samples at finalize; documents only while the observer wants them.
                observer.observe(legacy.request, legacy.response, candidate.request, candidate.response, norms=False)
            pending.extend(rows)
            pending_noise.extend(noise)
            if len(pending) >= FLUSH_ROWS:
                await flush()
            tally.add(rows, spec.params.tau, spec.params.floor)
            if progress is not None:
                progress(len(rows))
            if spec.until_decided and tally.decided is None:
                decision = "FAIL" if tally.catastrophic else sequential_decision(
                    tally.disagreements, tally.compared, spec.params)
                if decision is not None:
                    tally.decided, tally.decided_at = decision, tally.samples
                    stop.set()

    try:
        async with make_client(spec.concurrency, spec.retry.timeout) as client:
            await asyncio.gather(*(lane(client) for _ in range(spec.concurrency)))
        await flush()
    finally:
        writer.shutdown(wait=True)
    return EngineResult(observer, tally, planned)

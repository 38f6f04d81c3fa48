"""The mirror: a bounded queue of copies (request body + legacy's answer) and the workers that turn each into
samples of the shadow sweep, off the client's path.

A copy is parsed with the legacy profile's request parser into the probe's inputs. Legacy's side is rebuilt from
the captured answer when the probe's wire is one JSON POST per batch answered by one JSON document (embed,
search's batched form); otherwise (streamed answers, a request per input, a probe's own exchange: chat streams,
sql, storage) legacy is asked again through the send path for the copy. The candidate is asked through the
normal path (`call_side`), the two are compared (`compare_sides`) and written like a sweep's samples; the
verdict is asked now and then with the always-valid sequential bounds (`decide_stored(sequential=True)`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

import httpx
import orjson

from farm.gateway.errors import HTTP_STATUS, MALFORMED
from farm.probes.base import MalformedBody, Probe
from farm.reconnect import retrying
from farm.stats.verdict import Verdict
from farm.store.sweeps import write_samples
from farm.sweep.engine import Tally
from farm.sweep.finalize import decide_stored
from farm.sweep.spec import SweepSpec
from farm.sweep.step import BatchRows, SideCall, call_side, compare_sides
from farm.wire import SideResult
from farm.wiredrift import DriftObserver

FLUSH_ROWS = 256  # samples per database write
FLUSH_SECONDS = 2.0  # at most this old, so `farm sweep status` sees recent traffic


@dataclass(frozen=True)
class Copy:
    """One forwarded exchange as the proxy saw it: the client's request and legacy's answer (None when it was
    not kept: streamed, or over the size cap)."""

    method: str
    path: str
    body: bytes
    status: int
    answer: bytes | None
    content_encoding: str | None
    latency_ms: float


@dataclass
class Counts:
    """What happened to the traffic: every request forwarded, and each copy's fate."""

    forwarded: int = 0
    legacy_unreachable: int = 0
    unsampled: int = 0
    dropped_full: int = 0  # the queue was full: the candidate or the database fell behind
    unparsed: int = 0
    mirrored: int = 0  # copies that became samples
    skipped: dict[str, int] = field(default_factory=dict)  # per reason (writes, other endpoints...)
    by_path: dict[str, int] = field(default_factory=dict)  # forwarded requests per "METHOD /path"
    by_minute: dict[str, int] = field(default_factory=dict)  # forwarded requests per UTC minute
    first_at: float | None = None
    last_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"forwarded": self.forwarded, "legacy_unreachable": self.legacy_unreachable,
                "unsampled": self.unsampled, "dropped_queue_full": self.dropped_full, "unparsed": self.unparsed,
                "mirrored": self.mirrored, "skipped": dict(self.skipped), "by_path": dict(self.by_path),
                "by_minute": dict(self.by_minute)}


def rebuildable(probe: Probe, profile: Any, doc: dict[str, Any]) -> bool:
    """Whether legacy's side can be read from the captured answer alone: one JSON POST per batch, not streamed."""
    return (probe.batched and type(probe).exchange is Probe.exchange and type(probe).requests is Probe.requests
            and not probe.request_per_input and not probe.streams(profile, doc))


def captured_side(probe: Probe, profile: Any, copy: Copy, doc: dict[str, Any], n: int) -> SideResult:
    """Legacy's SideResult from the bytes the client got, as the send path would have parsed them."""
    if copy.status >= 400 or copy.answer is None:
        return SideResult(None, [HTTP_STATUS] * n, copy.status, copy.latency_ms, 1, doc)
    try:
        answer = orjson.loads(copy.answer)
        value, errors = probe.parse_response(profile, answer, n)
    except (orjson.JSONDecodeError, MalformedBody):
        return SideResult(None, [MALFORMED] * n, copy.status, copy.latency_ms, 1, doc)
    return SideResult(value, errors, copy.status, copy.latency_ms, 1, doc, answer)


class Mirror:
    """Copies in, samples out. `offer` never blocks (a full queue drops the copy and counts it)."""

    def __init__(self, spec: SweepSpec, sweep_id: str, *, queue_size: int, sample_rate: float,
                 allow_writes: bool, max_samples: int | None, record: IO[bytes] | None,
                 on_decided: Callable[[Verdict], None] | None = None, seed: int | None = None) -> None:
        self.spec, self.sweep_id, self.probe = spec, sweep_id, spec.plugin
        self.queue: asyncio.Queue[Copy] = asyncio.Queue(maxsize=queue_size)
        self.sample_rate, self.allow_writes, self.max_samples = sample_rate, allow_writes, max_samples
        self.record, self.on_decided = record, on_decided
        self.counts, self.tally = Counts(), Tally()
        self.observer = DriftObserver(spec.legacy.profile, spec.candidate.profile)
        self.current: Verdict | None = None
        self.full = asyncio.Event()  # --max-samples reached
        self._random = random.Random(seed)
        self._next_idx = 0
        self._batch_no = 0
        self._pending = BatchRows([], [], [])
        self._flushed_at = time.monotonic()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow-writer")
        self._deciding = asyncio.Lock()

    # --- the proxy's side: cheap, never blocking ------------------------------------------------------
    def seen(self, method: str, path: str) -> None:
        c = self.counts
        c.forwarded += 1
        key = f"{method} {path}"
        c.by_path[key] = c.by_path.get(key, 0) + 1
        now = time.time()
        minute = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(now))
        c.by_minute[minute] = c.by_minute.get(minute, 0) + 1
        c.first_at = c.first_at or now
        c.last_at = now

    def offer(self, copy: Copy) -> None:
        if self.full.is_set() or self._random.random() >= self.sample_rate:
            self.counts.unsampled += 1
            return
        try:
            self.queue.put_nowait(copy)
        except asyncio.QueueFull:
            self.counts.dropped_full += 1

    # --- the workers ---------------------------------------------------------------------------------
    def skip(self, reason: str) -> None:
        self.counts.skipped[reason] = self.counts.skipped.get(reason, 0) + 1

    async def work(self, client: httpx.AsyncClient) -> None:
        while True:
            copy = await self.queue.get()
            try:
                await self.handle(client, copy)
            finally:
                self.queue.task_done()

    async def handle(self, client: httpx.AsyncClient, copy: Copy) -> None:
        spec, probe = self.spec, self.probe
        profile = spec.legacy.profile
        try:
            doc = orjson.loads(copy.body) if copy.body else None
        except orjson.JSONDecodeError:
            doc = None
        why = probe.mirrors(profile, copy.method, copy.path, doc)
        if why is not None and not (self.allow_writes and why.startswith("write")):
            self.skip(why)
            return
        try:
            items = probe.items_from_request(profile, doc) if isinstance(doc, dict) else []
        except Exception:
            items = []
        if not items:
            self.counts.unparsed += 1
            return
        if self.max_samples is not None and self._next_idx + len(items) > self.max_samples:
            self.full.set()
            self.counts.unsampled += 1
            return
        assert isinstance(doc, dict)
        start, batch_no = self._next_idx, self._batch_no
        self._next_idx += len(items)
        self._batch_no += 1
        opts = spec.probe_options
        if rebuildable(probe, profile, doc) and copy.content_encoding in (None, "identity"):
            legacy = SideCall(captured_side(probe, profile, copy, doc, len(items)),
                              digests=[probe.item_digest(item) for item in items])
        else:
            legacy = await call_side(client, probe, spec.legacy, items, spec.model, spec.retry, "shadow",
                                     noise=False, options=opts)
        candidate = await call_side(client, probe, spec.candidate, items, spec.model, spec.retry, "shadow",
                                    noise=False, options=opts)
        rows = compare_sides(probe, self.sweep_id, batch_no, start, legacy, candidate, spec.params, self.observer,
                             opts)
        if self.record is not None:
            self.record.write(orjson.dumps(doc) + b"\n")
            self.record.flush()
        self.counts.mirrored += 1
        self._pending.samples.extend(rows.samples)
        self._pending.extra.extend(rows.extra)
        self.tally.add(rows.samples)
        if len(self._pending.samples) >= FLUSH_ROWS or time.monotonic() - self._flushed_at > FLUSH_SECONDS:
            await self.flush()
        if self.tally.due(spec.batch_size):
            await self.decide()
        if self.max_samples is not None and self._next_idx >= self.max_samples:
            self.full.set()

    async def flush(self) -> None:
        pending = self._pending
        samples, extra = pending.samples[:], pending.extra[:]
        pending.samples.clear()
        pending.extra.clear()
        self._flushed_at = time.monotonic()
        if samples:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._writer, retrying, write_samples, self.spec.database_url, samples, [],
                                       self.probe, extra)

    async def decide(self) -> Verdict:
        """The current verdict on every stored sample, always-valid; calls `on_decided` at its first PASS/FAIL."""
        async with self._deciding:
            await self.flush()
            loop = asyncio.get_running_loop()
            verdict = await loop.run_in_executor(self._writer, partial(
                retrying, decide_stored, self.spec.database_url, self.sweep_id, self.probe, self.spec.params,
                planned=None, sequential=True, options=self.spec.probe_options))
            self.current = verdict
            if verdict.outcome in ("PASS", "FAIL") and self.tally.decided is None:
                self.tally.decided, self.tally.decided_at = verdict.outcome, self.tally.samples
                if self.on_decided is not None:
                    self.on_decided(verdict)
            return verdict

    def close(self) -> None:
        self._writer.shutdown(wait=True)

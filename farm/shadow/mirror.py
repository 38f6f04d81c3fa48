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
import contextlib
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

import httpx
import orjson

from farm.gateway.client import make_client
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
BUSY_WAIT_SECONDS = 0.05
OBSERVED_COPIES = 64  # copies whose documents feed the drift catalog
DRAIN_SECONDS = 10.0  # at the end, how long copies already queued may still take


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
    dropped_busy: int = 0  # the proxy's loop was lagging: the mirror stood back
    unparsed: int = 0
    mirrored: int = 0  # copies that became samples
    unfinished: int = 0  # copies cut off at the end of the run
    skipped: dict[str, int] = field(default_factory=dict)  # per reason (writes, other endpoints...)
    by_path: dict[str, int] = field(default_factory=dict)  # forwarded requests per "METHOD /path"
    by_minute: dict[str, int] = field(default_factory=dict)  # forwarded requests per UTC minute
    first_at: float | None = None
    last_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"forwarded": self.forwarded, "legacy_unreachable": self.legacy_unreachable,
                "unsampled": self.unsampled, "dropped_queue_full": self.dropped_full,
                "dropped_proxy_busy": self.dropped_busy, "unparsed": self.unparsed,
                "mirrored": self.mirrored, "unfinished_at_stop": self.unfinished, "skipped": dict(self.skipped),
                "by_path": dict(self.by_path),
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
    """Copies in, samples out. The mirror runs in its own thread with its own event loop, so the candidate calls,
    comparisons, writes and verdicts never hold up the proxy's loop; `offer` (on the proxy's loop) never blocks:
    beyond `queue_size` copies waiting, a copy is dropped and counted."""

    def __init__(self, spec: SweepSpec, sweep_id: str, *, queue_size: int, sample_rate: float,
                 allow_writes: bool, max_samples: int | None, record: IO[bytes] | None, workers: int = 4,
                 on_decided: Callable[[Verdict], None] | None = None, seed: int | None = None) -> None:
        self.spec, self.sweep_id, self.probe = spec, sweep_id, spec.plugin
        self.queue_size, self.workers = queue_size, workers
        self.sample_rate, self.allow_writes, self.max_samples = sample_rate, allow_writes, max_samples
        self.record, self.on_decided = record, on_decided
        self.counts, self.tally = Counts(), Tally()
        self.observer = DriftObserver(spec.legacy.profile, spec.candidate.profile)
        self.current: Verdict | None = None
        self.full = threading.Event()  # --max-samples reached
        self._random = random.Random(seed)
        self._next_idx = 0
        self._batch_no = 0
        self._pending = BatchRows([], [], [])
        self._flushed_at = time.monotonic()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow-writer")
        self._deciding = asyncio.Lock()
        self._waiting = 0  # copies offered and not yet taken by a worker (the bound)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Copy] | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        # Set by the run while the proxy's event loop lags: new copies are dropped and the workers wait, so the
        # mirror's CPU (it shares the interpreter) goes back to the clients.
        self.busy = False

    # --- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="shadow-mirror", daemon=True)
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        """Finish the copies already queued (bounded wait), drop and count the rest, write what is pending."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join()
        self._writer.shutdown(wait=True)
        if self._failure is not None:
            raise self._failure

    def idle(self) -> bool:
        return self._waiting == 0

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the main thread by stop()
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._deciding = asyncio.Lock()
        async with make_client(self.workers * 4, self.spec.retry.timeout) as client:
            tasks = [asyncio.create_task(self.work(client)) for _ in range(self.workers)]
            self._ready.set()
            await self._stopping.wait()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), DRAIN_SECONDS)
            self.counts.dropped_full += self._queue.qsize()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.flush()

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
        if self.busy:
            self.counts.dropped_busy += 1
            return
        with self._lock:
            if self._waiting >= self.queue_size:
                self.counts.dropped_full += 1
                return
            self._waiting += 1
        assert self._loop is not None and self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, copy)

    # --- the workers ---------------------------------------------------------------------------------
    def skip(self, reason: str) -> None:
        self.counts.skipped[reason] = self.counts.skipped.get(reason, 0) + 1

    async def work(self, client: httpx.AsyncClient) -> None:
        assert self._queue is not None
        while True:
            while self.busy and not (self._stopping and self._stopping.is_set()):
                await asyncio.sleep(BUSY_WAIT_SECONDS)
            copy = await self._queue.get()
            with self._lock:
                self._waiting -= 1
            counted: list[bool] = []
            try:
                await self.handle(client, copy, counted)
            except asyncio.CancelledError:
                if not counted:
                    self.counts.unfinished += 1  # still at a gateway when the run's drain time ran out
                raise
            except Exception as exc:  # one copy lost, said in the counts; the mirror goes on
                self.skip(f"mirror error: {type(exc).__name__}")
            finally:
                self._queue.task_done()

    async def handle(self, client: httpx.AsyncClient, copy: Copy, counted: list[bool] | None = None) -> None:
        """One copy to samples; appends to `counted` once it is counted (mirrored, skipped or unparsed)."""
        counted = counted if counted is not None else []
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
        # The drift catalog reads the first copies' documents only: folding every copy in measurably slowed the
        # proxy's clients (benchmarks/shadow_latency.py), and wire drift is structural: it shows at once.
        observer = self.observer if batch_no < OBSERVED_COPIES else None
        rows = compare_sides(probe, self.sweep_id, batch_no, start, legacy, candidate, spec.params, observer, opts)
        if self.record is not None:
            self.record.write(orjson.dumps(doc) + b"\n")
            self.record.flush()
        self.counts.mirrored += 1
        counted.append(True)
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

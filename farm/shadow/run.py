"""A shadow run end to end: record the sweep (mode "shadow"), serve the proxy, mirror copies until decided (with
--until-decided), --max-samples, or a signal, then finalize like a sweep (verdict, drift catalog, report,
parity log). Embedded only: the candidate is called from this process, off the client's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

import uvicorn

from farm.gateway.client import make_client
from farm.report.sweep import RenderedReport, render
from farm.shadow.mirror import Mirror
from farm.shadow.proxy import ShadowProxy
from farm.store.sweeps import create_sweep, set_status
from farm.sweep.finalize import Outcome, finalize
from farm.sweep.run import gateway_rows
from farm.sweep.spec import SweepSpec, new_sweep_id

CHECK_SECONDS = 0.1  # how often the run looks at its stop conditions
PROXY_CONNECTIONS = 256  # to legacy, at most
SWITCH_SECONDS = 0.0005


@dataclass(frozen=True)
class ShadowOptions:
    listen: tuple[str, int]
    sample_rate: float = 1.0
    until_decided: bool = False
    max_samples: int | None = None
    record: Path | None = None
    allow_writes: bool = False
    queue_size: int = 1024
    workers: int = 4  # copies mirrored at once
    seed: int | None = None
    shed_lag: float = 0.05  # seconds the proxy's loop may lag before the mirror stands back


@dataclass(frozen=True)
class ShadowRun:
    outcome: Outcome
    report: RenderedReport | None
    counts: dict[str, Any]
    stopped_by: str  # "decided", "max_samples", "SIGINT", "SIGTERM"


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the run decides what a signal means (finalize, then exit with
    the verdict's code), and nothing is re-raised after shutdown."""

    def __init__(self, config: uvicorn.Config, stop: threading.Event, why: list[str]) -> None:
        super().__init__(config)
        self.stop, self.why = stop, why

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(sig: int, frame: FrameType | None) -> None:
            self.why.append(signal.Signals(sig).name)
            self.stop.set()

        old = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def population(counts: dict[str, Any]) -> str:
    first, last = counts.get("first_at"), counts.get("last_at")
    if not first:
        return "no traffic was sampled"
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    return (f"the traffic sampled between {time.strftime(fmt, time.gmtime(first))} and "
            f"{time.strftime(fmt, time.gmtime(last))}")


async def serve(spec: SweepSpec, opts: ShadowOptions, sweep_id: str, sock: socket.socket,
                record: IO[bytes] | None, ready: threading.Event | None = None) -> tuple[Mirror, str]:
    stop = threading.Event()  # set from a signal handler, the verdict, or the cap
    why: list[str] = []

    def decided(verdict: Any) -> None:
        if opts.until_decided:
            why.append("decided")
            stop.set()

    mirror = Mirror(spec, sweep_id, queue_size=opts.queue_size, sample_rate=opts.sample_rate,
                    allow_writes=opts.allow_writes, max_samples=opts.max_samples, record=record,
                    workers=opts.workers, on_decided=decided, seed=opts.seed)
    # The mirror thread's CPU work (parsing, comparing, the verdict) holds the GIL in stretches; a short switch
    # interval hands it back to the proxy's thread sooner (client latency over mirror throughput).
    sys.setswitchinterval(SWITCH_SECONDS)
    mirror.start()
    try:
        async with make_client(PROXY_CONNECTIONS, spec.retry.timeout) as client:
            app = ShadowProxy(spec.legacy.url, client, mirror)
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                    timeout_keep_alive=30)
            server = _Server(config, stop, why)
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                while not server.started and not serving.done():
                    await asyncio.sleep(0.01)
                if ready is not None:
                    ready.set()
                while not stop.is_set() and not serving.done():
                    before = time.monotonic()
                    await asyncio.sleep(CHECK_SECONDS)
                    mirror.busy = time.monotonic() - before - CHECK_SECONDS > opts.shed_lag
                    if mirror.full.is_set() and mirror.idle():
                        why.append("max_samples")
                        stop.set()
            finally:
                server.should_exit = True
                with contextlib.suppress(Exception):
                    await serving
    finally:
        mirror.stop()  # the proxy is closed: finish (bounded) the copies taken, write what is pending
    return mirror, (why[0] if why else "stopped")


def run_shadow(spec: SweepSpec, opts: ShadowOptions, reports_dir: Path | None, sock: socket.socket,
               ready: threading.Event | None = None, on_start: Any = None) -> ShadowRun:
    sweep_id = new_sweep_id()
    row = spec.sweep_row(sweep_id, "shadow")
    host, port = opts.listen
    row["corpus"] = f"shadow traffic through {host}:{port}"
    row["planned"] = None
    row["params"]["shadow"] = {"listen": f"{host}:{port}", "sample_rate": opts.sample_rate,
                               "allow_writes": opts.allow_writes, "until_decided": opts.until_decided,
                               "max_samples": opts.max_samples}
    create_sweep(spec.database_url, row, gateway_rows(spec))
    if on_start is not None:
        on_start(sweep_id)
    record = opts.record.open("ab") if opts.record is not None else None
    try:
        mirror, stopped_by = asyncio.run(serve(spec, opts, sweep_id, sock, record, ready))
    except BaseException:
        set_status(spec.database_url, sweep_id, "failed")
        raise
    finally:
        if record is not None:
            record.close()
    counts = {**mirror.counts.to_dict(), "first_at": mirror.counts.first_at, "last_at": mirror.counts.last_at}
    counts["population"] = population(counts)
    extra: dict[str, Any] = {"shadow": counts, "stopped_by": stopped_by}
    if mirror.tally.decided_at:
        extra["stopped_early_at"] = mirror.tally.decided_at
    if mirror.tally.samples == 0:
        set_status(spec.database_url, sweep_id, "failed")
        from farm.errors import UsageError

        raise UsageError(f"shadow sweep {sweep_id}: no request was mirrored (forwarded "
                         f"{counts['forwarded']}, skipped {counts['skipped']}, unparsed {counts['unparsed']})")
    # Looked at all along: only the always-valid bounds may judge it.
    outcome = finalize(spec.database_url, sweep_id, spec.probe, spec.params, mirror.observer, planned=None,
                       sequential=True, extra=extra)
    report = render(spec.database_url, sweep_id, reports_dir) if reports_dir is not None else None
    return ShadowRun(outcome, report, counts, stopped_by)

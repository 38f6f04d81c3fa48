"""A fault proxy in a thread of the test process (real sockets on loopback), for the many-fault matrix: a
process per fault would cost a second of start-up each. `farm gateways faults` itself is tested as a process."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import httpx

from farm.gateway.faults import FaultPlan, FaultProxy
from farm.gateway.process import free_port


@contextlib.contextmanager
def fault_proxy(upstream: str, plan: FaultPlan) -> Iterator[str]:
    port = free_port()
    loop = asyncio.new_event_loop()
    task: asyncio.Task[None] | None = None

    def run() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        task = loop.create_task(FaultProxy(upstream, plan).serve("127.0.0.1", port))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        pending = asyncio.all_tasks(loop)
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url + "/faults/stats", timeout=0.5)
            break
        time.sleep(0.05)
    try:
        yield url
    finally:
        if task is not None:
            loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=5)

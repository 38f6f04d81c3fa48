"""Ctrl-C and SIGTERM end a command the same way: what was running stops, cleanups run, the CLI prints one line
and exits 130.

Outside an event loop, SIGTERM raises `Interrupted` in the main thread (the CLI's handler), as Ctrl-C raises
KeyboardInterrupt. Inside one, raising from a signal handler is unsafe: the exception can land in one of the
loop's own callbacks (asyncio logs "Fatal write error on socket transport", drops the connection and carries on,
so the sweep hangs) or in `asyncio.run()`'s shutdown ("unhandled exception during asyncio.run() shutdown").
`run_interruptible` does instead what asyncio.run does for Ctrl-C: the signal cancels the main task, the code
unwinds through its `finally` blocks, and the exception is raised once the loop is closed. `STOPPING` tells
threads (the embedded engine's database writer, retrying a lost connection) to give up at once instead of
retrying for the whole reconnect budget.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from farm.errors import Interrupted

T = TypeVar("T")
STOPPING = threading.Event()


def terminate(signum: int, frame: Any) -> None:
    """The CLI's SIGTERM handler outside an event loop."""
    STOPPING.set()
    raise Interrupted()


def run_interruptible(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)`; SIGINT or SIGTERM cancels it, then raises KeyboardInterrupt or `Interrupted`."""
    STOPPING.clear()
    received: list[int] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal(signum: int) -> None:
            if not received:
                received.append(signum)
                STOPPING.set()
                task.cancel()

        installed: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (ValueError, RuntimeError):  # not the main thread: the caller handles signals
                continue
            installed[sig] = previous
        try:
            return await coro
        finally:
            for signum, handler in installed.items():
                loop.remove_signal_handler(signum)
                signal.signal(signum, handler)  # remove_signal_handler leaves SIG_DFL: put the CLI's back

    try:
        result = asyncio.run(main())
    except asyncio.CancelledError:
        if not received:
            raise
    if received:  # also when the coroutine swallowed the cancellation: the user asked to stop
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise Interrupted() from None
    return result

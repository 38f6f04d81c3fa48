"""Ride out a broker or database restart: retry an operation with backoff for a bounded total wait.

The producer (and the embedded engine's writes) call `retrying(fn, ...)` around every database query and
broker publish. A lost or refused connection (`farm.errors.outage`) is retried with jittered exponential
backoff, one warning line when it starts and one when it is over, for at most FARM_RECONNECT_WAIT seconds
(default 120); past that, `ServiceUnavailable`: one line from the CLI and exit code 2. Any other error
propagates at once, and an interrupted command (`farm.interrupt.STOPPING`, from any thread) stops retrying at
once with `Interrupted`. Every producer step is idempotent, so repeating one that half-happened is harmless.
Written here rather than with tenacity or kombu's `ensure`: one small loop covers both services and the
CLI's one-line contract.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from farm.errors import Interrupted, ServiceUnavailable, outage
from farm.interrupt import STOPPING

log = logging.getLogger("farm.reconnect")
# psycopg warns "error ignored terminating <Pipeline>: the connection is lost" when a server goes away: the retry
# line below says the same once, in the CLI's words.
logging.getLogger("psycopg").setLevel(logging.ERROR)
P = ParamSpec("P")
T = TypeVar("T")
DEFAULT_WAIT = 120.0


def reconnect_budget() -> float:
    """Seconds an operation keeps retrying a lost connection (FARM_RECONNECT_WAIT)."""
    try:
        return max(0.0, float(os.environ.get("FARM_RECONNECT_WAIT", DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


def retrying(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)`, retried while the database or broker is unreachable, within the budget."""
    began: float | None = None
    delay = 0.25
    while True:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            what = outage(exc)
            if what is None:
                raise
            now = time.monotonic()
            if began is None:
                began = now
                log.warning("farm: %s; retrying for up to %.0fs", what, reconnect_budget())
            left = reconnect_budget() - (now - began)
            if left <= 0:
                raise ServiceUnavailable(f"{what} (still after {now - began:.0f}s of retries)") from None
            if STOPPING.wait(min(left, random.uniform(delay / 2, delay))):
                raise Interrupted() from None
            delay = min(delay * 2, 5.0)
        else:
            if began is not None:
                log.warning("farm: reconnected after %.1fs", time.monotonic() - began)
            return result

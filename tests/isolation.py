"""Resources a test run holds alone on a shared machine: a Redis database of the machine's Redis, claimed for the
whole pytest process (each xdist worker is a process: one database per worker), and ports where nothing answers.

Why a claim and not `20 + worker index`: Redis has 16 databases here (`config get databases`), and several
pytest runs from different checkouts share the machine's Redis at once. A database N (1..15) belongs to whoever
holds the lock `farm:test:redis-db:N` in database 0 (redis-py's `Lock`: SET NX with a TTL and an owner token,
released by compare-and-delete). The TTL is short and a daemon thread renews it, so a run killed with SIGKILL
frees its database within `CLAIM_TTL` seconds. Database 0 is the stack's default broker and is never handed out;
9-13 are tried last because checkouts from before this scheme use them as fixed `REDIS_DB` numbers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import redis
from redis.lock import Lock

HOST, PORT = "127.0.0.1", 6379
CLAIM_TTL = 60.0  # seconds: how long a crashed run keeps its database
LEGACY_FIXED = (9, 10, 11, 12, 13)  # fixed numbers of older checkouts (REDIS_DB modules, the stack test's db 10)


def _client(db: int) -> redis.Redis:
    return redis.Redis(host=HOST, port=PORT, db=db, socket_timeout=5, socket_connect_timeout=5)


class RedisDbClaim:
    """One claimed database; `release()` (or process exit plus `CLAIM_TTL`) gives it back."""

    def __init__(self) -> None:
        self._control = _client(0)
        count = int(self._control.config_get("databases")["databases"])
        fresh = [n for n in range(1, count) if n not in LEGACY_FIXED]
        order = fresh + [n for n in LEGACY_FIXED if n < count]
        # Prefer an empty database: a non-empty unclaimed one may be in use by a checkout without claims.
        for want_empty in (True, False):
            for db in order:
                lock = Lock(self._control, f"farm:test:redis-db:{db}", timeout=CLAIM_TTL, thread_local=False)
                if not lock.acquire(blocking=False):
                    continue
                if want_empty and _client(db).dbsize() > 0:
                    lock.release()
                    continue
                self.db, self._lock = db, lock
                self._stop = threading.Event()
                threading.Thread(target=self._renew, name=f"redis-db-{db}-claim", daemon=True).start()
                return
        raise RuntimeError(f"no free Redis database among 1..{count - 1} at {HOST}:{PORT}: all are claimed")

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{PORT}/{self.db}"

    def flush(self) -> None:
        client = _client(self.db)
        try:
            client.flushdb()
        finally:
            client.close()

    def _renew(self) -> None:
        while not self._stop.wait(CLAIM_TTL / 4):
            try:
                self._lock.reacquire()
            except redis.ConnectionError:
                continue  # Redis restarting: the next turn renews, well within the TTL

    def release(self) -> None:
        self._stop.set()
        self.flush()
        self._lock.release()
        self._control.close()


@contextlib.contextmanager
def dead_port() -> Iterator[int]:
    """A loopback port where nothing answers (connections are refused) for as long as the block runs: bound but not
    listening, so no other test can start a server there meanwhile (a port merely free now may be a parallel
    worker's Redis a second later)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()

"""The producer's ledger of dispatched, not yet paired batches, and the re-send of the ones that went missing.

Broker redelivery covers a worker that dies holding a message, but only after the visibility timeout (an hour
by default on Redis), and not a message lost between the broker's pop and the worker's bookkeeping. So the
producer keeps the jobs of each unpaired batch (at most `max_inflight` of them) and, when one has not been
paired for `resend_after` seconds, sends again what is missing: the side(s) not stored, or the pairing when
both are. Every step is idempotent, so a re-send that races a slow original changes nothing.

A worker killed with SIGKILL holds its batches until the visibility timeout, and a broker restarted without
persistence forgets its queues: waiting the fixed `resend_after` (300 s) for them cost a 35 s sweep 312 s. So
the ledger also learns how long batches take to land (dispatch to pairing, queueing included) and re-sends a
batch once it has waited `RESEND_FACTOR` times the median of the recent ones, never sooner than `resend_min`
and never later than `resend_after`: a dead worker now costs about `resend_min` plus a restart (measured in
docs/distributed.md). The median, not the slowest: the batches an outage held up land late and would
otherwise postpone the re-send of the ones still held; a gateway that slows down for good raises the median
with it, so it is not flooded with re-sends.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from farm.distributed.jobs import SideJob
from farm.store.batches import paired_batches, stored_sides

RESEND_AFTER = 300.0  # seconds; above a job's usual worst case (16 batches on 8 connections: 2 x 4 read timeouts)
RESEND_MIN = 15.0  # seconds a batch waits at least before a re-send, however fast batches land
RESEND_FACTOR = 4.0  # re-send once a batch waited this many times the median recent landing
RESEND_FIRST = 60.0  # before any batch landed (a gateway warming up, a model loading): this long
LANDINGS = 512  # recent landing times remembered
Send = Callable[[SideJob], None]
SendPair = Callable[[str, list[int]], None]


@dataclass
class Pending:
    jobs: list[SideJob]  # the jobs (one per side) that carried this batch, among others
    sent_at: float


@dataclass
class Inflight:
    url: str
    sweep_id: str
    resend_after: float
    pending: dict[int, Pending] = field(default_factory=dict)
    resent: int = 0  # side jobs and pairings sent again
    resend_min: float | None = None  # None: always wait `resend_after` (no learning)
    landings: deque[float] = field(default_factory=lambda: deque(maxlen=LANDINGS))

    def overdue_after(self) -> float:
        """Seconds an unpaired batch waits before what it misses is sent again."""
        if self.resend_min is None:
            return self.resend_after
        if not self.landings:
            return max(self.resend_min, min(self.resend_after, RESEND_FIRST))
        # The median, not the slowest: the batches an outage held up land late, and must not postpone the
        # re-send of the ones it is still holding.
        typical = sorted(self.landings)[len(self.landings) // 2]
        return min(self.resend_after, max(self.resend_min, RESEND_FACTOR * typical))

    def add(self, jobs: list[SideJob], now: float | None = None) -> None:
        """Record the jobs just sent (one per side, carrying the same batches)."""
        sent_at = time.monotonic() if now is None else now
        for batch_no in jobs[0].batch_nos:
            self.pending[batch_no] = Pending(jobs, sent_at)

    def __len__(self) -> int:
        return len(self.pending)

    def refresh(self, send: Send, send_pair: SendPair, now: float | None = None) -> None:
        """Forget the batches paired since the last call; re-send what the overdue ones still miss, one batch
        to a side job and the pairings together."""
        if not self.pending:
            return
        now = time.monotonic() if now is None else now
        for batch_no in paired_batches(self.url, self.sweep_id, list(self.pending)):
            self.landings.append(now - self.pending.pop(batch_no).sent_at)
        wait = self.overdue_after()
        overdue = [no for no, p in self.pending.items() if now - p.sent_at >= wait]
        have = stored_sides(self.url, self.sweep_id, overdue)
        to_pair = []
        for batch_no in overdue:
            entry = self.pending[batch_no]
            missing = [job.only(batch_no) for job in entry.jobs if job.side not in have.get(batch_no, set())]
            for job in missing:
                send(job)
            self.resent += len(missing)
            if not missing:
                to_pair.append(batch_no)
            entry.sent_at = now
        if to_pair:
            send_pair(self.sweep_id, to_pair)
            self.resent += 1

"""The producer's ledger of dispatched, not yet paired batches, and the re-send of the ones that went missing.

Broker redelivery covers a worker that dies holding a message, but only after the visibility timeout (an hour
by default on Redis), and not a message lost between the broker's pop and the worker's bookkeeping. So the
producer keeps the jobs of each unpaired batch (at most `max_inflight` of them) and, when one has not been
paired for `resend_after` seconds, sends again what is missing: the side(s) not stored, or the pairing when
both are. Every step is idempotent, so a re-send that races a slow original changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from farm.distributed.jobs import SideJob
from farm.store.batches import paired_batches, stored_sides

RESEND_AFTER = 300.0  # seconds; above a job's worst case (16 batches on 8 connections: 2 x 4 attempts x 30 s, backoff)
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
            del self.pending[batch_no]
        overdue = [no for no, p in self.pending.items() if now - p.sent_at >= self.resend_after]
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

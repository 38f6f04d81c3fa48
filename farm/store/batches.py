"""The bookkeeping of a distributed sweep: side results, exactly-once pairing claims, progress counters.

Every step is idempotent, so at-least-once delivery gives exactly-once results:
- a side result is keyed (sweep, batch, side): a redelivered call stores nothing new;
- pairing inserts (sweep, batch) into `paired_batches` first: only the insert that wins writes and counts it;
- finalize moves the sweep from `running` to `finalizing` in one UPDATE: only one caller renders.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from farm.probes.base import Probe
from farm.store.db import ensure_schema, transaction
from farm.store.models import NoiseSample, PairedBatch, Sample, Sweep
from farm.store.models import SideResult as SideRow
from farm.store.probe_tables import ready_table
from farm.store.sides import fetch_sides, store_sides
from farm.store.sweeps import claim, insert_new

SIDES = ("legacy", "candidate")


def status_of(url: str, sweep_id: str) -> str | None:
    with transaction(url) as s:
        return s.scalar(select(Sweep.status).where(Sweep.id == sweep_id))


def store_and_count(url: str, sweep_id: str, rows: Sequence[dict[str, Any]], batch_nos: Sequence[int]) -> list[int]:
    """Store side rows, then return which of `batch_nos` now have both sides stored (the ones to pair).

    Two transactions on purpose: counting after our insert has committed means that of two sides landing at
    once, at least the later one sees both and enqueues the pairing. A Core connection, not a Session: this
    runs for every job.
    """
    with ensure_schema(url).connect() as conn:
        with conn.begin():
            store_sides(conn, rows)
        with conn.begin():
            both = conn.execute(select(SideRow.batch_no).where(
                SideRow.sweep_id == sweep_id, SideRow.batch_no.in_(list(batch_nos)))
                .group_by(SideRow.batch_no).having(func.count() == len(SIDES))).scalars().all()
    return sorted(both)


@dataclass(frozen=True)
class PairResult:
    paired: list[int]  # the batches this call paired (claimed); the others were paired before or lack a side
    done: int
    total: int | None

    @property
    def complete(self) -> bool:
        return self.total is not None and self.done >= self.total


# (batch_no, {side: payload}) -> (sample rows, probe rows, noise rows, drift state)
Compare = Callable[[int, dict[str, bytes]], tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                   list[dict[str, Any]], dict[str, Any] | None]]


def pair(url: str, sweep_id: str, batch_nos: Sequence[int], probe: Probe, compare: Compare) -> PairResult:
    """Compare the two stored sides of each batch and write their samples, once, in one transaction.

    The `paired_batches` insert is the claim: of two deliveries racing, the second waits on the first's keys
    and then inserts none of them, so only the winner writes a batch's samples (COPY on Postgres) and counts it.
    """
    with ensure_schema(url).connect() as conn, conn.begin():
        found: dict[int, dict[str, bytes]] = {}
        for batch_no, side, payload in fetch_sides(conn, sweep_id, batch_nos):
            found.setdefault(batch_no, {})[side] = payload
        # A batch without both sides was paired already (redelivery) or its twin has not landed yet.
        compared = {no: compare(no, sides) for no, sides in found.items() if set(sides) == set(SIDES)}
        won = [no for _sweep, no in claim(conn, PairedBatch, [
            {"sweep_id": sweep_id, "batch_no": no, "drift_state": c[3]} for no, c in compared.items()])]
        if won:
            insert_new(conn, Sample, [row for no in won for row in compared[no][0]])
            table = ready_table(conn, probe)
            if table is not None:
                insert_new(conn, table, [row for no in won for row in compared[no][1]])
            insert_new(conn, NoiseSample, [row for no in won for row in compared[no][2]])
            conn.execute(delete(SideRow).where(SideRow.sweep_id == sweep_id, SideRow.batch_no.in_(won)))
            # Last: the sweep row is the one every pairing updates, so its lock is held for the commit only.
            done, total = conn.execute(update(Sweep).where(Sweep.id == sweep_id)
                                       .values(batches_done=Sweep.batches_done + len(won))
                                       .returning(Sweep.batches_done, Sweep.batches_total)).one()
        else:
            done, total = conn.execute(select(Sweep.batches_done, Sweep.batches_total)
                                       .where(Sweep.id == sweep_id)).one()
    return PairResult(sorted(won), int(done), total)


def claim_finalize(url: str, sweep_id: str) -> bool:
    """Move a complete sweep from running to finalizing; True for the one caller that did it."""
    with transaction(url) as s:
        claimed = s.execute(update(Sweep).where(
            Sweep.id == sweep_id, Sweep.status == "running", Sweep.batches_total.is_not(None),
            Sweep.batches_done >= Sweep.batches_total).values(status="finalizing").returning(Sweep.id)).all()
        return len(claimed) == 1


def drift_states(url: str, sweep_id: str) -> list[dict[str, Any]]:
    """The per-batch wire-drift states of a sweep's paired batches, in batch order."""
    with transaction(url) as s:
        states = s.scalars(select(PairedBatch.drift_state).where(PairedBatch.sweep_id == sweep_id)
                           .order_by(PairedBatch.batch_no))
        return [state for state in states if state]  # a JSON column stores None as JSON null


def progress(url: str, sweep_id: str) -> tuple[str, int, int | None]:
    """(status, batches paired, batches in all or None while still dispatching)."""
    with transaction(url) as s:
        status, done, total = s.execute(select(Sweep.status, Sweep.batches_done, Sweep.batches_total)
                                        .where(Sweep.id == sweep_id)).one()
    return str(status), int(done), total


def set_total(url: str, sweep_id: str, batches: int, samples: int, notes: dict[str, Any] | None = None) -> None:
    """The sweep's size once dispatched (what the finalize claim waits for), with `notes` merged into its
    parameters in the same UPDATE (e.g. corpus lines skipped), so finalize always sees them."""
    with transaction(url) as s:
        values: dict[str, Any] = {"batches_total": batches, "planned": samples}
        if notes:
            sweep = s.get(Sweep, sweep_id, with_for_update=True)
            if sweep is not None:
                values["params"] = {**sweep.params, **notes}
        s.execute(update(Sweep).where(Sweep.id == sweep_id).values(**values))


def paired_batches(url: str, sweep_id: str, among: Collection[int] | None = None) -> set[int]:
    with transaction(url) as s:
        query = select(PairedBatch.batch_no).where(PairedBatch.sweep_id == sweep_id)
        if among is not None:
            query = query.where(PairedBatch.batch_no.in_(list(among)))
        return set(s.scalars(query))


def stored_sides(url: str, sweep_id: str, batch_nos: Collection[int]) -> dict[int, set[str]]:
    """Which sides of these batches are stored and not yet paired."""
    have: dict[int, set[str]] = {}
    if not batch_nos:
        return have
    with transaction(url) as s:
        for batch_no, side in s.execute(select(SideRow.batch_no, SideRow.side).where(
                SideRow.sweep_id == sweep_id, SideRow.batch_no.in_(list(batch_nos)))).all():
            have.setdefault(int(batch_no), set()).add(str(side))
    return have

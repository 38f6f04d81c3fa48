"""The producer's ledger: paired batches are forgotten, overdue ones get exactly what they miss sent again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from farm.distributed.inflight import Inflight
from farm.distributed.jobs import JobFactory, Part, SideJob
from farm.store.db import transaction
from farm.store.models import PairedBatch, SideResult
from farm.store.sweeps import create_sweep
from farm.sweep.run import gateway_rows
from farm.sweep.spec import new_sweep_id
from tests.test_sweep_cli import _spec


def test_refresh_forgets_paired_batches_and_resends_only_what_is_missing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/farm.db"
    spec = replace(_spec(), database_url=db)
    sweep_id = new_sweep_id()
    create_sweep(db, spec.sweep_row(sweep_id, "distributed"), gateway_rows(spec))
    factory = JobFactory(spec, sweep_id)
    ledger = Inflight(db, sweep_id, resend_after=60.0)
    # Batches 0-2 went out in one job per side, batch 3 alone in another.
    ledger.add(factory.jobs([Part(no, no * 2, [f"t{no}a", f"t{no}b"], False) for no in range(3)]), now=0.0)
    ledger.add(factory.jobs([Part(3, 6, ["t3a", "t3b"], False)]), now=0.0)
    with transaction(db) as s:
        s.add(PairedBatch(sweep_id=sweep_id, batch_no=0, drift_state=None))  # batch 0: done
        s.add(SideResult(sweep_id=sweep_id, batch_no=1, side="legacy", payload=b"x"))  # 1: candidate lost
        s.add(SideResult(sweep_id=sweep_id, batch_no=2, side="legacy", payload=b"x"))  # 2: pairing lost
        s.add(SideResult(sweep_id=sweep_id, batch_no=2, side="candidate", payload=b"x"))
    sent: list[SideJob] = []
    pairs: list[tuple[str, list[int]]] = []

    ledger.refresh(sent.append, lambda sid, nos: pairs.append((sid, nos)), now=30.0)  # nothing overdue yet
    assert len(ledger) == 3 and sent == [] and pairs == [] and ledger.resent == 0

    ledger.refresh(sent.append, lambda sid, nos: pairs.append((sid, nos)), now=61.0)
    # Each missing side goes again alone, cut out of the job that carried it; the pairings go together.
    assert sorted((j.batch_nos, j.side) for j in sent) == [([1], "candidate"), ([3], "candidate"), ([3], "legacy")]
    assert pairs == [(sweep_id, [2])] and ledger.resent == 4
    assert next(j for j in sent if j.batch_nos == [1]).parts == (Part(1, 2, ["t1a", "t1b"], False),)

    # A re-send restarts the clock: nothing more before another `resend_after`.
    sent.clear()
    ledger.refresh(sent.append, lambda sid, nos: pairs.append((sid, nos)), now=100.0)
    assert sent == [] and ledger.resent == 4
    with transaction(db) as s:
        s.add_all([PairedBatch(sweep_id=sweep_id, batch_no=no, drift_state=None) for no in (1, 2, 3)])
    ledger.refresh(sent.append, lambda sid, nos: pairs.append((sid, nos)), now=500.0)
    assert len(ledger) == 0 and sent == []


def test_the_resend_wait_follows_the_median_landing_within_its_bounds() -> None:
    from farm.distributed.inflight import RESEND_FIRST, Inflight

    ledger = Inflight("sqlite://", "s", resend_after=300.0, resend_min=15.0)
    assert ledger.overdue_after() == RESEND_FIRST  # nothing landed yet: a slow start is not a dead worker
    ledger.landings.extend([2.0] * 100)
    assert ledger.overdue_after() == 15.0  # 4 x 2 s is below the floor
    ledger.landings.extend([60.0] * 40)  # an outage held 40 batches up: the median does not move
    assert ledger.overdue_after() == 15.0
    ledger.landings.extend([20.0] * 200)  # the gateway got slower for good: so does the re-send
    assert ledger.overdue_after() == 80.0
    ledger.landings.extend([500.0] * 512)
    assert ledger.overdue_after() == 300.0  # never past --resend-after
    assert Inflight("sqlite://", "s", resend_after=300.0).overdue_after() == 300.0  # no learning: fixed

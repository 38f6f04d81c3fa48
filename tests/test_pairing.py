"""Pairing a batch: exactly once under racing deliveries, on real Postgres (COPY path) and on SQLite."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import func, select

from farm.distributed.jobs import pack
from farm.distributed.work import pair
from farm.probes.base import SideResult, digest
from farm.store.db import transaction, upgrade
from farm.store.models import PairedBatch, Sample, Sweep
from farm.store.models import SideResult as SideRow
from farm.store.sweeps import create_sweep
from farm.sweep.run import gateway_rows
from farm.sweep.spec import new_sweep_id
from farm.sweep.step import SideCall
from tests.test_sweep_cli import _spec


def _store_batch(url: str, sweep_id: str, batch_no: int, n: int, rng: np.random.Generator) -> None:
    texts = [f"text {batch_no}-{i}" for i in range(n)]
    truth = rng.normal(size=(n, 8))
    unit = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    sides = {"legacy": unit, "candidate": truth * 3.0}  # raw magnitudes on the candidate, as in the seed
    with transaction(url) as s:
        for side, vectors in sides.items():
            result = SideResult(vectors, [None] * n, 200, 5.0, 1, {"texts": texts}, None)
            call = SideCall(result, None, [digest(t) for t in texts])
            s.add(SideRow(sweep_id=sweep_id, batch_no=batch_no, side=side, worker="w",
                          payload=pack("embed", call, batch_no * n, keep_doc=False)))


def _sweep(url: str) -> str:
    spec = replace(_spec(), database_url=url)
    sweep_id = new_sweep_id()
    create_sweep(url, spec.sweep_row(sweep_id, "distributed"), gateway_rows(spec))
    return sweep_id


def _check(url: str, sweep_id: str, batches: int, n: int) -> None:
    with transaction(url) as s:
        count, distinct, low, high = s.execute(select(func.count(), func.count(func.distinct(Sample.idx)),
                                                      func.min(Sample.idx), func.max(Sample.idx))
                                               .where(Sample.sweep_id == sweep_id)).one()
        cosines = s.scalars(select(Sample.score).where(Sample.sweep_id == sweep_id)).all()
        assert s.scalar(select(Sweep.batches_done).where(Sweep.id == sweep_id)) == batches
        assert s.scalar(select(func.count()).select_from(PairedBatch)) == batches
        assert s.scalar(select(func.count()).select_from(SideRow)) == 0  # paired sides are deleted
    assert (count, distinct, low, high) == (batches * n, batches * n, 0, batches * n - 1)
    assert all(c == pytest.approx(1.0) for c in cosines)


@pytest.mark.services
def test_racing_deliveries_pair_a_batch_once_on_postgres(pg_url: str) -> None:
    upgrade(pg_url)
    sweep_id = _sweep(pg_url)
    rng = np.random.default_rng(7)
    for batch_no in range(4):
        _store_batch(pg_url, sweep_id, batch_no, 16, rng)
    claims: list[int] = []
    lock = threading.Lock()

    def deliver(batch_nos: list[int]) -> None:
        result = pair(pg_url, sweep_id, batch_nos)
        with lock:
            claims.extend(result.paired)

    # Overlapping deliveries in both orders (a worker's pairing, a producer's re-send): no deadlock, and each
    # batch is claimed by exactly one of them.
    sets = [[0, 1, 2], [2, 1, 0], [1, 2, 3], [3], [0, 3]]
    threads = [threading.Thread(target=deliver, args=(nos,)) for nos in sets for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(claims) == [0, 1, 2, 3]
    _check(pg_url, sweep_id, 4, 16)
    assert pair(pg_url, sweep_id, [0, 1]).paired == []  # a late redelivery changes nothing


def test_a_redelivered_pairing_changes_nothing_on_sqlite(sqlite_url: str) -> None:
    sweep_id = _sweep(sqlite_url)
    _store_batch(sqlite_url, sweep_id, 0, 5, np.random.default_rng(1))
    first, again = pair(sqlite_url, sweep_id, [0, 1]), pair(sqlite_url, sweep_id, [0])
    assert (first.paired, first.done, again.paired, again.done) == ([0], 1, [], 1)  # batch 1 has no sides yet
    _check(sqlite_url, sweep_id, 1, 5)

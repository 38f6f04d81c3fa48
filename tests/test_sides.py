"""Side results: a redelivered job stores nothing new, and payloads come back byte for byte (Postgres reads
them in binary, SQLite through Core)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from farm.store.db import ensure_schema, upgrade
from farm.store.sides import fetch_sides, store_sides
from farm.store.sweeps import create_sweep
from farm.sweep.run import gateway_rows
from farm.sweep.spec import new_sweep_id
from tests.test_sweep_cli import _spec


def _roundtrip(url: str) -> None:
    spec = replace(_spec(), database_url=url)
    sweep_id = new_sweep_id()
    create_sweep(url, spec.sweep_row(sweep_id, "distributed"), gateway_rows(spec))
    payloads = {(no, side): os.urandom(200_000) + b"\x00\\x" for no in range(3) for side in ("legacy", "candidate")}
    rows = [{"sweep_id": sweep_id, "batch_no": no, "side": side, "worker": "w", "payload": payload}
            for (no, side), payload in payloads.items() if (no, side) != (2, "candidate")]
    with ensure_schema(url).connect() as conn:
        with conn.begin():
            store_sides(conn, rows)
        with conn.begin():  # a redelivery: other bytes under the same keys change nothing
            store_sides(conn, [{**row, "payload": b"again"} for row in rows[:2]])
        with conn.begin():
            got = fetch_sides(conn, sweep_id, [1, 2, 7])
    assert sorted(got) == sorted((no, side, payloads[no, side]) for no, side in [(1, "legacy"), (1, "candidate"),
                                                                                 (2, "legacy")])


@pytest.mark.services
def test_sides_round_trip_on_postgres(pg_url: str) -> None:
    upgrade(pg_url)
    _roundtrip(pg_url)


def test_sides_round_trip_on_sqlite(sqlite_url: str) -> None:
    _roundtrip(sqlite_url)

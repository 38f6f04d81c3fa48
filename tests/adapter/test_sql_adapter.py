"""The flip for the seed's sql pair on one engine (SQLite both sides, so that only the wire differs): the
adapter turns the candidate's row objects into row arrays and its schema into `columns` / `types`, and the
candidate's error body into the legacy's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from farm.gateway.process import GatewayProcess, spawn
from tests.adapter.conftest import export, serve_adapter, sweep


@pytest.fixture(scope="module")
def sql_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    with (spawn("lakehouse-legacy", "--engine", "sqlite", probe="sql") as legacy,
          spawn("lakehouse-candidate", "--engine", "sqlite", probe="sql") as candidate):
        yield legacy, candidate


def test_row_objects_to_arrays_and_a_strict_sweep_passes(sql_pair: tuple[GatewayProcess, GatewayProcess],
                                                         tmp_path: Path) -> None:
    legacy, candidate = sql_pair
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    first = sweep(env, "sql", legacy.url, candidate.url, "--samples", "40")
    map_file = export(env, first["sweep_id"], tmp_path / "sql.json")
    assert any(op["op"] == "rows" for op in json.loads(map_file.read_text())["map"]["ops"])
    with serve_adapter(map_file, candidate.url) as adapter:
        for statement in ("SELECT 1 AS a, 2.5 AS b, 'x' AS c", "SELECT 1 AS a WHERE 0"):
            got = httpx.post(adapter.url + "/query", json={"sql": statement}, timeout=10).json()
            want = httpx.post(legacy.url + "/query", json={"sql": statement}, timeout=10).json()
            assert got == want
        bad = httpx.post(adapter.url + "/query", json={"sql": "SELECT nope"}, timeout=10)
        want_bad = httpx.post(legacy.url + "/query", json={"sql": "SELECT nope"}, timeout=10)
        assert bad.status_code == want_bad.status_code == 400 and bad.json() == want_bad.json()
        out = sweep(env, "sql", legacy.url, adapter.url, "--candidate-profile", "lakehouse-legacy", "--strict-wire",
                    "--samples", "100", "--p-max", "0.05")
    assert out["verdict"] == "PASS", out["reason"]
    assert out["strict_wire"]["differ"] == 0 and out["strict_wire"]["samples"] > 0

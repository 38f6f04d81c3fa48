"""The flip for the seed's hybrid retrieval pair: `documents[].{id, relevance, content}` back into
`hits[].{id, score, text}` (relevance, a distance, turned into a similarity), `k` sent as `limit`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.gateway.process import GatewayProcess, spawn
from tests.adapter.conftest import export, serve_adapter, sweep


@pytest.fixture(scope="module")
def retrieve_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    with (spawn("lakehouse-legacy", probe="retrieve") as legacy,
          spawn("lakehouse-candidate", probe="retrieve") as candidate):
        yield legacy, candidate


def test_a_strict_sweep_through_the_adapter_passes(retrieve_pair: tuple[GatewayProcess, GatewayProcess],
                                                   tmp_path: Path) -> None:
    legacy, candidate = retrieve_pair
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    first = sweep(env, "retrieve", legacy.url, candidate.url, "--samples", "40")
    map_file = export(env, first["sweep_id"], tmp_path / "retrieve.json")
    with serve_adapter(map_file, candidate.url) as adapter:
        out = sweep(env, "retrieve", legacy.url, adapter.url, "--candidate-profile", "lakehouse-legacy",
                    "--strict-wire", "--samples", "300", "--tau", "0.95", "--p-max", "0.02")
    assert out["verdict"] == "PASS", out["reason"]
    assert out["strict_wire"] == {"samples": 300, "differ": 0, "paths": {}}

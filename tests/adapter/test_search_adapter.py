"""The flip for the seed's search pair: hits renamed, a distance turned back into a similarity, the candidate's
count dropped, `k` sent as `top_k`; the legacy's `took_ms` (a timing) is what the map cannot rebuild."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from farm.gateway.process import GatewayProcess, spawn
from tests.adapter.conftest import export, run, serve_adapter, sweep

# A legacy profile whose timing field is left out of every comparison (it differs between two calls of legacy).
CONFIG = """
[profiles.legacy-untimed]
probe = "search"
base = "lakehouse-legacy"
ignore_fields = ["took_ms"]
"""


@pytest.fixture(scope="module")
def search_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    with spawn("lakehouse-legacy", probe="search") as legacy, spawn("lakehouse-candidate", probe="search") as cand:
        yield legacy, cand


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("search-adapter")
    (tmp / "farm.toml").write_text(CONFIG)
    return {"FARM_DATABASE_URL": f"sqlite:///{tmp}/farm.db", "FARM_CONFIG": str(tmp / "farm.toml")}


def test_the_map_of_the_preset_pair_refuses_to_serve_naming_took_ms(
        search_pair: tuple[GatewayProcess, GatewayProcess], env: dict[str, str], tmp_path: Path) -> None:
    legacy, candidate = search_pair
    first = sweep(env, "search", legacy.url, candidate.url, "--samples", "40")
    code, _, err = run(env, "adapter", "serve", "--sweep", first["sweep_id"], "--upstream", candidate.url,
                       "--listen", "127.0.0.1:0")
    assert code == 2
    assert "unmapped field `took_ms`: varies in legacy responses" in err and "Traceback" not in err


def test_distance_to_similarity_through_the_adapter_and_a_strict_sweep_passes(
        search_pair: tuple[GatewayProcess, GatewayProcess], env: dict[str, str], tmp_path: Path) -> None:
    legacy, candidate = search_pair
    first = sweep(env, "search", legacy.url, candidate.url, "--legacy-profile", "legacy-untimed", "--samples", "40")
    map_file = export(env, first["sweep_id"], tmp_path / "search.json")
    ops = {op["op"]: op for op in json.loads(map_file.read_text())["map"]["ops"]}
    assert ops["affine"]["scale"] == -1.0 and ops["affine"]["offset"] == 1.0
    with serve_adapter(map_file, candidate.url) as adapter:
        body = {"query": "parity of the flip", "k": 3}
        got = httpx.post(adapter.url + "/vectors/search", json=body, timeout=10).json()
        want = httpx.post(legacy.url + "/vectors/search", json=body, timeout=10).json()
        assert [h["id"] for h in got["results"]] == [h["id"] for h in want["results"]]
        assert [h["score"] for h in got["results"]] == pytest.approx([h["score"] for h in want["results"]], rel=1e-9)
        assert "count" not in got and "matches" not in got
        out = sweep(env, "search", legacy.url, adapter.url, "--legacy-profile", "legacy-untimed",
                    "--candidate-profile", "legacy-untimed", "--strict-wire", "--samples", "300", "--tau", "0.95",
                    "--p-max", "0.02")
    assert out["verdict"] == "PASS", out["reason"]
    assert out["strict_wire"] == {"samples": 300, "differ": 0, "paths": {}}

"""A strict-wire sweep through the adapter, distributed: the option reaches the aggregation worker's comparison,
the strict counts merge across batches, and the verdict is the embedded one's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from farm.gateway.process import GatewayProcess
from farm.store.db import upgrade
from tests.adapter.conftest import export, run, serve_adapter, sweep
from tests.integration.cluster import ClusterFactory

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_a_distributed_strict_sweep_through_the_adapter_passes(
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess], tmp_path: Path, pg_url: str, broker_url: str,
        celery_cluster: ClusterFactory) -> None:
    legacy, candidate = lakehouse_pair
    upgrade(pg_url)
    env = {"FARM_DATABASE_URL": pg_url, "FARM_CONFIG": ""}
    first = sweep(env, "embed", legacy.url, candidate.url, "--samples", "64")
    map_file = export(env, first["sweep_id"], tmp_path / "embed.json")
    with serve_adapter(map_file, candidate.url) as adapter:
        config = tmp_path / "farm.toml"
        config.write_text(f"""
[gateways.legacy]
url = "{legacy.url}"
profile = "lakehouse-legacy"

[gateways.candidate]
url = "{adapter.url}"
profile = "lakehouse-legacy"
""")
        denv = {"FARM_CONFIG": str(config), "FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url}
        celery_cluster(denv).sweep_workers()
        code, out, err = run(denv, "sweep", "embed", "--legacy", "legacy", "--candidate", "candidate",
                             "--samples", "320", "--p-max", "0.02", "--strict-wire", "--distributed",
                             "--json", "--quiet", "--no-report")
    assert code == 0, err
    result = json.loads(out)
    assert result["mode"] == "distributed" and result["verdict"] == "PASS", result["reason"]
    assert result["strict_wire"] == {"samples": 320, "differ": 0, "paths": {}}
    assert result["parameters"]["probe_options"]["adapter_sha256"]

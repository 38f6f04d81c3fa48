"""A probe defined in the test suite (tests/probes/echo.py) runs end to end through the shared pipeline,
embedded and distributed, over real HTTP, with no change to shared code."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn
from farm.store.db import upgrade
from tests.cli import sweep_json
from tests.integration.cluster import ClusterFactory
from tests.integration.test_distributed import samples_of

ROOT = str(Path(__file__).resolve().parents[2])
PLUGIN_ENV = {"FARM_PROBE_MODULES": "tests.probes.echo", "PYTHONPATH": ROOT}


@pytest.fixture
def plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FARM_PROBE_MODULES", "tests.probes.echo")
    import farm.probes

    monkeypatch.setattr(farm.probes, "_loaded", False)
    yield


@pytest.fixture
def echo_pair(plugin_env: None) -> Iterator[tuple[GatewayProcess, GatewayProcess, GatewayProcess]]:
    env = {**os.environ, **PLUGIN_ENV}
    with spawn("echo-legacy", probe="echo", env=env) as legacy, \
            spawn("echo-candidate", probe="echo", env=env) as candidate, \
            spawn("echo-candidate", "--drift-rate", "0.05", probe="echo", env=env) as drifting:
        yield legacy, candidate, drifting


def _sweep(env: dict[str, str], *args: str) -> tuple[int, dict]:
    return sweep_json("echo", env, *args)


def test_a_plugin_probe_runs_embedded(echo_pair: tuple[GatewayProcess, ...], tmp_path: Path, sqlite_url: str) -> None:
    legacy, candidate, drifting = echo_pair
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    code, out = _sweep(env, "--legacy", legacy.url, "--candidate", candidate.url, "--samples", "3000",
                       "--reports-dir", str(tmp_path), "--prefix", "p:")
    assert code == 0 and out["verdict"] == "PASS" and out["n"] == 3000, out["reason"]
    assert out["parameters"]["probe_options"] == {"prefix": "p:"}  # the probe's own option, recorded
    assert out["reason"].startswith("PASS: disagreement <= 0.1% at 95% (0 of 3,000 below equality 1.0000)")
    kinds = {(r["kind"], r["field"]) for r in out["drift_catalog"]}
    assert ("url", "URL prefix") in kinds  # /echo vs /v2/echo
    assert any(r["kind"] == "rename" for r in out["drift_catalog"])  # echoes -> data.items
    report = Path(out["report"]).read_text()
    assert report.startswith("# Echo parity: legacy vs candidate") and "### Latency per request (ms)" in report
    code, out = _sweep(env, "--legacy", legacy.url, "--candidate", drifting.url, "--samples", "2000", "--no-report")
    assert code == 1 and out["verdict"] == "FAIL" and 50 <= out["disagreements"] <= 150, out["reason"]


@pytest.mark.services
@pytest.mark.slow
def test_a_plugin_probe_runs_distributed(echo_pair: tuple[GatewayProcess, ...], tmp_path: Path, pg_url: str,
                                         broker_url: str, celery_cluster: ClusterFactory) -> None:
    legacy, candidate, _ = echo_pair
    upgrade(pg_url)
    env = {"FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url, "FARM_CONFIG": "", **PLUGIN_ENV}
    celery_cluster(env).sweep_workers()
    # Captured legacy traffic as the corpus: 100 request bodies of 10 inputs, and one line that is no body.
    corpus = tmp_path / "requests.jsonl"
    bodies = [json.dumps({"inputs": [f"q{i}-{j}" for j in range(10)]}) for i in range(100)]
    corpus.write_text("\n".join([*bodies[:50], "{broken", *bodies[50:]]) + "\n")
    code, out = _sweep(env, "--legacy", legacy.url, "--candidate", candidate.url, "--corpus", str(corpus),
                       "--corpus-format", "requests", "--distributed", "--no-report", "--stall-timeout", "60",
                       "--p-max", "0.01")
    assert code == 0 and out["verdict"] == "PASS" and out["mode"] == "distributed", out.get("reason")
    assert samples_of(pg_url, out["sweep_id"]) == (1000, 1000, 0, 999)
    assert out["corpus_bad_lines"]["count"] == 1 and "requests.jsonl:51" in out["corpus_bad_lines"]["first"]


def test_a_plugin_probe_of_the_bounded_mean_family(echo_pair: tuple[GatewayProcess, ...], tmp_path: Path,
                                                   sqlite_url: str) -> None:
    legacy, candidate, drifting = echo_pair
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}

    def overlap(*args: str) -> tuple[int, dict]:
        result = CliRunner().invoke(main_group, ["sweep", "overlap", "--json", "--quiet", "--no-report", *args],
                                    env=env, catch_exceptions=False)
        return result.exit_code, json.loads(result.stdout)

    code, out = overlap("--legacy", legacy.url, "--candidate", candidate.url, "--samples", "2000")
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    report = CliRunner().invoke(main_group, ["report", out["sweep_id"], "--reports-dir", str(tmp_path)], env=env)
    text = next((tmp_path / "cutover").glob("overlap_parity_*.md")).read_text()
    assert report.exit_code == 0 and "- mean word overlap: 1.000000, bounds [" in text, report.output
    assert out["reason"].startswith("PASS: mean word overlap 1.0000 >= 0.9 at 95%")
    assert out["statistics"]["errors"]["candidate"]["count"] == 0 and out["statistics"]["latency"]["legacy"]["n"]
    # A drifting candidate changes one word in 5% of answers: each of those scores below 1, the mean stays high.
    code, out = overlap("--legacy", legacy.url, "--candidate", drifting.url, "--until-decided", "--max-samples",
                        "20000")
    assert code == 0 and out["verdict"] == "PASS" and out["stopped_at"] < 20000, out["reason"]
    code, out = overlap("--legacy", legacy.url, "--candidate", drifting.url, "--samples", "3000", "--tau", "0.999")
    assert code == 1 and out["verdict"] == "FAIL" and "< 0.999" in out["reason"], out["reason"]

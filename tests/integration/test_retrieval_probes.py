"""The search and retrieve probes over real HTTP against their demo gateways (a cached 20,000-document corpus):
exact vs exact passes with the distance/similarity drift named; HNSW at ef 4 fails on its measured recall;
duplicate documents swapped at equal scores keep tie-aware recall at 1; a changed fusion weight fails the
retrieve probe; a distributed run of each probe; the adapter map applied to a real candidate answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn
from farm.store.db import upgrade
from farm.wiredrift.adapter import apply_adapter
from tests.integration.cluster import Cluster
from tests.integration.test_distributed import samples_of


def _sweep(probe: str, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main_group, ["sweep", probe, "--json", "--quiet", *args], env=env,
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def search_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    with spawn("lakehouse-legacy", probe="search") as legacy, spawn("lakehouse-candidate", probe="search") as cand:
        yield legacy, cand


def test_exact_search_pair_passes_and_names_distance_vs_similarity(
        search_pair: tuple[GatewayProcess, GatewayProcess], tmp_path: Path, sqlite_url: str) -> None:
    legacy, candidate = search_pair
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    code, out = _sweep("search", env, "--legacy", legacy.url, "--candidate", candidate.url, "--samples", "800",
                       "--reports-dir", str(tmp_path))
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    assert out["reason"].startswith("PASS: mean recall@10 1.0000 >= 0.99 at 95%") and "800 queries" in out["reason"]
    retrieval = out["statistics"]["retrieval"]
    assert retrieval["mean_recall_plain"] == 1.0 and retrieval["score_relation"] == "one_minus"
    rows = {r["kind"]: r for r in out["drift_catalog"]}
    assert rows["score"]["legacy"].startswith("similarity, descending")
    assert rows["score"]["candidate"].startswith("distance, ascending") and "1 - legacy" in rows["score"]["candidate"]
    assert rows["request"]["legacy_k"] == "k" and rows["request"]["candidate_k"] == "top_k"
    assert (rows["hit_id"]["legacy_path"], rows["hit_id"]["candidate_path"]) == ("results[].id", "matches[].doc_id")
    report = Path(out["report"]).read_text()
    assert "## Retrieval" in report and "## Worst queries" in report and "### Latency per request (ms)" in report
    assert (Path(out["report"]).parent / "SUMMARY.md").read_text().count("`search`") == 1
    # The adapter map, applied to a real candidate answer, gives the legacy answer (ids and scores).
    query = "anan elzomite ananlone"
    ldoc = httpx.post(legacy.url + "/vectors/search", json={"index": "docs", "query": query, "k": 10}).json()
    cdoc = httpx.post(candidate.url + "/v1/vectors/search", json={"index": "docs", "query": query,
                                                                  "top_k": 10}).json()
    adapted = apply_adapter(out["adapter_map"], cdoc)
    assert [h["id"] for h in adapted["results"]] == [h["id"] for h in ldoc["results"]]
    assert [h["score"] for h in adapted["results"]] == pytest.approx([h["score"] for h in ldoc["results"]], abs=1e-12)
    assert "count" not in adapted and "matches" not in adapted


def test_hnsw_at_ef_4_fails_on_its_measured_recall(search_pair: tuple[GatewayProcess, GatewayProcess],
                                                   sqlite_url: str) -> None:
    legacy, _ = search_pair
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    with spawn("lakehouse-candidate", "--index", "hnsw", "--ef", "4", probe="search") as hnsw:
        code, out = _sweep("search", env, "--legacy", legacy.url, "--candidate", hnsw.url, "--samples", "200",
                           "--no-report")
        seq_code, seq = _sweep("search", env, "--legacy", legacy.url, "--candidate", hnsw.url, "--until-decided",
                               "--max-samples", "5000", "--no-report")
    measured = out["statistics"]["retrieval"]["mean_recall_tie_aware"]
    assert code == 1 and out["verdict"] == "FAIL", out["reason"]
    assert measured < 0.9 and out["reason"].startswith(f"FAIL: mean recall@10 {measured:.4f} [")
    assert "< 0.99 over 200 queries" in out["reason"]
    assert out["statistics"]["latency"]["candidate"]["n"] == 200  # one latency per request (per query)
    # The sequential stop decides as soon as the always-valid bound is below r_min.
    assert seq_code == 1 and seq["verdict"] == "FAIL" and seq["stopped_at"] < 1000, seq["reason"]


def test_duplicates_swapped_at_equal_scores_keep_tie_aware_recall(sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    with spawn("lakehouse-legacy", "--duplicates", "0.2", probe="search") as legacy, \
            spawn("lakehouse-candidate", "--duplicates", "0.2", "--tie-break", "reverse", probe="search") as cand:
        code, out = _sweep("search", env, "--legacy", legacy.url, "--candidate", cand.url, "--samples", "400",
                           "--no-report", "--tau", "0.97", "--p-max", "0.05")
    retrieval = out["statistics"]["retrieval"]
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    assert retrieval["mean_recall_tie_aware"] == 1.0
    assert retrieval["queries_with_ties"] > 0 and retrieval["mean_recall_plain"] < 1.0  # ties did cross rank k
    assert retrieval["mean_rbo"] < 1.0  # the swapped order is still visible to the rank measures


def test_retrieve_with_a_changed_fusion_weight_fails(sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    with spawn("lakehouse-legacy-explain", probe="retrieve") as legacy, \
            spawn("lakehouse-candidate-explain", "--alpha", "0.3", probe="retrieve") as cand:
        code, out = _sweep("retrieve", env, "--legacy", legacy.url, "--candidate", cand.url, "--samples", "200",
                           "--legacy-profile", "lakehouse-legacy-explain",
                           "--candidate-profile", "lakehouse-candidate-explain", "--no-report")
    retrieval = out["statistics"]["retrieval"]
    assert code == 1 and out["verdict"] == "FAIL" and "mean recall@10" in out["reason"], out["reason"]
    # Both retrievers agree: the drift is in the fusion, and the part overlaps say so.
    assert retrieval["mean_lexical_overlap"] == 1.0 and retrieval["mean_vector_overlap"] == 1.0
    assert {r["kind"] for r in out["drift_catalog"]} >= {"hits", "hit_score", "hit_text", "score"}




@pytest.mark.services
@pytest.mark.slow
def test_both_retrieval_probes_run_distributed(search_pair: tuple[GatewayProcess, GatewayProcess], tmp_path: Path,
                                               pg_url: str, broker_url: str) -> None:
    upgrade(pg_url)
    env = {"FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url, "FARM_CONFIG": ""}
    cluster = Cluster(tmp_path, env)
    outs = {}
    try:
        cluster.worker("legacy", "probe.legacy")
        cluster.worker("candidate", "probe.candidate")
        cluster.worker("aggregate", "farm.aggregate")
        legacy, candidate = search_pair
        outs["search"] = _sweep("search", env, "--legacy", legacy.url, "--candidate", candidate.url, "--samples",
                                "200", "--distributed", "--no-report", "--stall-timeout", "60", "--tau", "0.95",
                                "--p-max", "0.05")
        with spawn("lakehouse-legacy", probe="retrieve") as rl, spawn("lakehouse-candidate", probe="retrieve") as rc:
            outs["retrieve"] = _sweep("retrieve", env, "--legacy", rl.url, "--candidate", rc.url, "--samples", "200",
                                      "--distributed", "--no-report", "--stall-timeout", "60", "--tau", "0.95",
                                      "--p-max", "0.05")
    finally:
        cluster.stop()
    for probe, (code, out) in outs.items():
        assert code == 0 and out["verdict"] == "PASS" and out["mode"] == "distributed", (probe, out.get("reason"))
        assert out["statistics"]["retrieval"]["mean_recall_tie_aware"] == 1.0
        assert samples_of(pg_url, out["sweep_id"]) == (200, 200, 0, 199)

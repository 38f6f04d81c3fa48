"""Score relations and score kinds over real HTTP, against gateways written for these tests (faiss exact indexes
over unit vectors with 20% duplicate documents, `tests/integration/own_gateways.py`), not the farm's demo ones:
an exact candidate answering squared L2 (faiss `IndexFlatL2`, 2 - 2s) with duplicates in the other order passes
with its ties credited, whether its profile says `distance` or `l2sq`; the adapter map's score op comes from the
fitted relation; a drifted scoring gets no op; a retrieve candidate sending a descending `relevance` stops with
exit 4, a reason naming `score_kind`, and a JSON document on stdout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.wiredrift.adapter import apply_adapter
from tests.integration.own_gateways import search_app, serve


def _sweep(probe: str, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(main_group, ["sweep", probe, "--json", "--quiet", "--no-report", *args], env=env,
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.fixture(scope="module")
def faiss_pair() -> Iterator[tuple[str, str]]:
    with serve(search_app("ip", "legacy")) as legacy, serve(search_app("l2sq", "candidate")) as candidate:
        yield legacy, candidate


@pytest.mark.parametrize("declared", ["distance", "l2sq"])
def test_an_exact_squared_l2_candidate_with_duplicates_passes(faiss_pair: tuple[str, str], declared: str,
                                                              sqlite_url: str, tmp_path: Path) -> None:
    legacy, candidate = faiss_pair
    config = tmp_path / "farm.toml"
    config.write_text(f'[profiles.faiss-l2]\nprobe = "search"\nbase = "lakehouse-candidate"\n'
                      f'score_kind = "{declared}"\n')
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": str(config)}
    code, out, _ = _sweep("search", env, "--legacy", legacy, "--candidate", candidate, "--candidate-profile",
                          "faiss-l2", "--samples", "800")
    retrieval = out["statistics"]["retrieval"]
    # Before issue 20 this was FAIL 0.9861 (relation "none" on all 800 queries, no tie credited).
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    assert retrieval["mean_recall_tie_aware"] == 1.0 and retrieval["mean_recall_plain"] < 0.995
    assert retrieval["queries_with_ties"] > 50  # duplicates crossed rank k, in the other order, and were credited
    score = {r["kind"]: r for r in out["drift_catalog"]}["score"]
    if declared == "distance":  # the declared kind is wrong: the fit says what the scores are
        assert retrieval["score_relation"] == "affine" and retrieval["score_scale"] == pytest.approx(-2, abs=1e-4)
        assert "candidate = 2 - 2 x legacy" in score["candidate"]
        assert score["inferred_candidate_kind"] == "l2sq" and "squared L2" in score["candidate"]
    else:
        assert retrieval["score_relation"] == "converted" and score["inferred_candidate_kind"] == "l2sq"
    ops = [op for op in out["adapter_map"]["ops"] if op["op"] == "affine"]
    assert len(ops) == 1 and ops[0]["scale"] == pytest.approx(-0.5, abs=1e-4)
    assert ops[0]["offset"] == pytest.approx(1.0, abs=1e-4)  # s = 1 - d/2, not the declared 1 - d
    # Applied to a real candidate answer, the map gives legacy's ids and scores.
    query = "a query nobody wrote before"
    ldoc = httpx.post(legacy + "/vectors/search", json={"index": "docs", "query": query, "k": 10}).json()
    cdoc = httpx.post(candidate + "/v1/vectors/search", json={"index": "docs", "query": query, "top_k": 10}).json()
    adapted = apply_adapter(out["adapter_map"], cdoc)
    assert [h["score"] for h in adapted["results"]] == pytest.approx([h["score"] for h in ldoc["results"]],
                                                                      abs=1e-5)


def test_a_drifted_scoring_gets_no_score_op_from_the_declared_kinds(faiss_pair: tuple[str, str],
                                                                     sqlite_url: str) -> None:
    legacy, _ = faiss_pair
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    with serve(search_app("hashed", "candidate")) as hashed:
        code, out, _ = _sweep("search", env, "--legacy", legacy, "--candidate", hashed, "--samples", "100")
    assert code == 1 and out["statistics"]["retrieval"]["score_relation"] == "none", out["reason"]
    assert not [op for op in out["adapter_map"]["ops"] if op["op"] == "affine"]  # no 1 - d the data contradicts
    assert "not rebuilt" in out["adapter_map"]["probe"]["score"]


def test_a_descending_relevance_stops_with_a_score_kind_hint_and_json(sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    with serve(search_app("ip", "retrieve-legacy")) as legacy, serve(search_app("ip", "retrieve-candidate")) as cand:
        code, out, err = _sweep("retrieve", env, "--legacy", legacy, "--candidate", cand, "--samples", "200")
    assert code == 4 and err.count("\n") == 1 and err.startswith("farm: error: sweep "), err
    assert out["exit_code"] == 4 and out["verdict"] is None and out["reason"] in err
    assert "candidate unreadable: 72 of 72 unsorted hits" in out["reason"]  # 3 batches of 24, then stopped
    assert "'relevance' came descending" in out["reason"] and 'set score_kind = "similarity"' in out["reason"]

"""Retrieval metrics (search and retrieve probes): RBO against published values, tie-aware recall against
plain recall, Kendall tau-b against scipy, the score relation, hit parsing, and the adapter map round trip."""

from __future__ import annotations

import pytest
from scipy.stats import kendalltau

from farm.probes import get_probe
from farm.probes.base import MalformedBody
from farm.probes.search.metrics import (
    IDENTITY,
    NONE,
    ONE_MINUS,
    SCALE,
    Relation,
    fit_relation,
    kendall_tau_b,
    query_metrics,
    rbo_ext,
)
from farm.probes.search.profile import PRESETS, UNSORTED, SearchProfile
from farm.wiredrift import DriftObserver
from farm.wiredrift.adapter import apply_adapter


def test_rbo_matches_published_values() -> None:
    # Webber et al.'s RBO_ext as published with ragrawal's / rankmeasures' implementation: 0.828 for these.
    assert rbo_ext(list("12345"), list("23415"), 0.9) == pytest.approx(0.828, abs=1e-9)
    assert rbo_ext(list("abcde"), list("bcdae"), 0.9) == pytest.approx(0.828, abs=1e-9)
    assert rbo_ext(list("abc"), list("abc")) == pytest.approx(1.0)
    assert rbo_ext(list("abc"), list("xyz")) == 0.0
    # Uneven lengths (eq. 32): a prefix extrapolates to full agreement; a reversal is far below it.
    assert rbo_ext(list("abcdefg"), list("abcd")) == pytest.approx(1.0)
    assert rbo_ext(list("abcde"), list("edcba")) < 0.75
    assert rbo_ext(list("abcde"), list("abced")) > rbo_ext(list("abcde"), list("bacde"))  # top-weighted


def test_kendall_tau_b_matches_scipy_with_ties() -> None:
    for x, y in (([1, 2, 2, 3, 4], [1, 3, 2, 2, 5]), ([0.9, 0.8, 0.7], [0.7, 0.8, 0.9]), ([1, 2, 3, 4], [1, 2, 4, 3])):
        assert kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic)
    assert kendall_tau_b([1.0], [1.0]) is None


def test_score_relation_is_fitted() -> None:
    legacy = [0.91, 0.85, 0.80]
    assert fit_relation(legacy, legacy).kind == IDENTITY
    assert fit_relation(legacy, [1 - s for s in legacy]).kind == ONE_MINUS
    scaled = fit_relation(legacy, [20 * s for s in legacy])
    assert scaled.kind == SCALE and scaled.scale == pytest.approx(20)
    assert fit_relation(legacy, [0.1, 0.5, 0.2]).kind == NONE


def test_equal_score_swap_at_the_kth_rank_is_not_a_miss_tie_aware() -> None:
    """Documents d9 and d9copy tie at the k-th score: the candidate returns the copy. Plain recall counts a
    miss; tie-aware recall (ann-benchmarks) does not. The candidate answers distances, legacy similarities."""
    ids = [f"d{i}" for i in range(9)]
    sims = [0.99 - 0.01 * i for i in range(9)]
    l_ids, l_scores = [*ids, "d9"], [*sims, 0.80]
    c_ids, c_dist = [*ids, "d9copy"], [1 - s for s in sims] + [1 - 0.80]
    m = query_metrics(l_ids, l_scores, c_ids, c_dist, 10, legacy_descending=True, declared=Relation(ONE_MINUS))
    assert m.recall == 1.0 and m.recall_plain == pytest.approx(0.9) and m.tie_credit == 1
    assert m.relation.kind == ONE_MINUS and m.first_diff == 10 and m.rbo < 1.0
    # A real miss (a farther document) is not rescued by the tie rule.
    c_dist[-1] = 1 - 0.70
    m = query_metrics(l_ids, l_scores, c_ids, c_dist, 10, legacy_descending=True, declared=Relation(ONE_MINUS))
    assert m.recall == pytest.approx(0.9) and m.tie_credit == 0


def test_hits_parse_and_classify() -> None:
    legacy = PRESETS["lakehouse-legacy"]
    assert isinstance(legacy, SearchProfile)
    hits, error = legacy.parse_hits({"results": [{"id": "a", "score": 0.5}, {"id": 7, "score": 0.9}]})
    assert hits.ids == ["a", "7"] and error == UNSORTED  # a similarity list must descend
    with pytest.raises(MalformedBody):
        legacy.parse_hits({"matches": []})


def test_adapter_map_turns_a_candidate_answer_into_the_legacy_shape() -> None:
    probe = get_probe("search")
    lp, cp = probe.presets["lakehouse-legacy"], probe.presets["lakehouse-candidate"]
    assert isinstance(lp, SearchProfile) and isinstance(cp, SearchProfile)
    observer = DriftObserver(lp, cp)
    docs = []
    for q in range(5):
        ids, sims = [f"d{q}{i}" for i in range(10)], [0.9 - 0.05 * i - 0.001 * q for i in range(10)]
        lreq, creq = lp.build_request(f"q{q}", None, 10), cp.build_request(f"q{q}", None, 10)
        ldoc, cdoc = lp.build_response(ids, sims, None, 1.0 + q), cp.build_response(ids, sims, None, 2.0)
        observer.observe(lreq, ldoc, creq, cdoc)
        docs.append((ldoc, cdoc))
    adapter = observer.adapter_map()
    assert any(op["op"] == "affine" for op in adapter["ops"]) and adapter["request_fields"]["k"] == "top_k"
    for ldoc, cdoc in docs:
        adapted = apply_adapter(adapter, cdoc)
        assert set(adapted) == {"results"}  # `count` dropped; `took_ms` is listed as unknown
        assert [h["id"] for h in adapted["results"]] == [h["id"] for h in ldoc["results"]]
        assert [h["score"] for h in adapted["results"]] == pytest.approx([h["score"] for h in ldoc["results"]])
    assert [u["path"] for u in adapter["unknown"]] == ["took_ms"]


def test_a_custom_search_profile_from_farm_toml() -> None:
    from farm.errors import ConfigError
    from farm.profiles import profile_from_table

    mine = profile_from_table("mine", {"probe": "search", "base": "lakehouse-candidate", "hits_path": "data.hits",
                                       "score_kind": "similarity", "k_field": "limit"}, "farm.toml")
    assert isinstance(mine, SearchProfile) and mine.descending and mine.path == "/v1/vectors/search"
    hits, error = mine.parse_hits({"data": {"hits": [{"doc_id": "a", "distance": 0.9}, {"doc_id": "b",
                                                                                        "distance": 0.4}]}})
    assert hits.ids == ["a", "b"] and error is None
    with pytest.raises(ConfigError, match="score_kind"):
        profile_from_table("bad", {"probe": "search", "base": "lakehouse-legacy", "score_kind": "rank"}, "farm.toml")


def test_no_tie_credit_when_the_scoring_itself_drifted() -> None:
    """Candidate scores with no simple relation to legacy's say nothing on the legacy scale: no tie credit."""
    l_ids, l_scores = ["a", "b", "c"], [0.9, 0.8, 0.7]
    c_ids, c_scores = ["a", "b", "x"], [0.3, 0.9, 0.95]  # scrambled scale: not identity, 1 - s or a scale
    m = query_metrics(l_ids, l_scores, c_ids, c_scores, 3, legacy_descending=True, declared=Relation(IDENTITY))
    assert m.relation.kind == NONE and m.tie_credit == 0 and m.recall == pytest.approx(2 / 3)


def test_the_optional_rbo_gate_fails_a_sweep_whose_recall_passes() -> None:
    """Same top-k sets in another order: recall@10 is 1 everywhere, RBO is not; `--rbo-min` makes it a FAIL."""
    import numpy as np

    from farm.probes.search.verdict import decide_retrieval
    from farm.stats.params import VerdictParams

    n = 2000
    ones, zeros = np.ones(n), np.zeros(n)
    arrays = {"score": ones, "recall_plain": ones, "jaccard": ones, "rbo": np.full(n, 0.8), "kendall_tau": -ones,
              "first_diff": ones, "tie_credit": zeros, "legacy_tied": zeros, "rel_scale": -ones,
              "latency_legacy_ms": ones, "latency_candidate_ms": ones}
    texts: dict[str, list[str | None]] = {"legacy_error": [None] * n, "candidate_error": [None] * n,
                                          "relation": ["one_minus"] * n}
    params = VerdictParams(tau=0.99, p_max=0.01, alpha=0.05, floor=0.5)
    kw = {"planned": n, "noise": None, "sequential": False}
    passed = decide_retrieval(arrays, texts, params, options={"k": 10}, **kw)  # type: ignore[arg-type]
    assert passed.outcome == "PASS" and passed.reason.startswith("PASS: mean recall@10 1.0000")
    gated = decide_retrieval(arrays, texts, params, options={"k": 10, "rbo_min": 0.95}, **kw)  # type: ignore[arg-type]
    assert gated.outcome == "FAIL" and gated.reason.startswith("FAIL: mean RBO@10 0.8000")
    assert gated.detail["retrieval"]["rbo_gate"]["outcome"] == "FAIL"


# --- issue 20, item 7: general score relations ---------------------------------------------------------------
def test_affine_monotone_and_declared_relations_are_fitted_and_credit_ties() -> None:
    from farm.probes.search.metrics import AFFINE, CONVERTED, MONOTONE, declared_relation

    sims = [0.95, 0.9, 0.84, 0.8, 0.77]
    l2sq = [2 - 2 * s for s in sims]  # faiss IndexFlatL2 on unit vectors
    rel = fit_relation(sims, l2sq)
    assert rel.kind == AFFINE and rel.scale == pytest.approx(-2) and rel.offset == pytest.approx(2)
    assert rel.to_legacy(2 - 2 * 0.6) == pytest.approx(0.6)
    cubed = [s**3 for s in sims]  # monotone, not affine
    mono = fit_relation(sims, cubed)
    assert mono.kind == MONOTONE and mono.scale == 1.0
    assert mono.to_legacy(0.84**3) == pytest.approx(0.84)  # a tie on the candidate's scale is one on legacy's
    assert mono.to_legacy(0.99) is None  # beyond the common hits a monotone relation says nothing
    assert fit_relation(sims, [-c for c in cubed]).scale == -1.0
    l2 = [(2 - 2 * s) ** 0.5 for s in sims]
    declared = declared_relation("similarity", "l2")
    assert fit_relation(sims, l2, declared=declared).kind == CONVERTED
    assert fit_relation(sims, l2).kind == MONOTONE  # undeclared: still a relation, ties still credited
    assert fit_relation(sims[:2], [0.3, 0.9]).kind == NONE  # two points fit any line: not a relation
    assert fit_relation(sims, [0.3, 0.9, 0.1, 0.5, 0.2]).kind == NONE
    # A tie on one side that is not a tie on the other breaks a monotone relation.
    assert fit_relation([0.9, 0.8, 0.8, 0.7], [0.1, 0.2, 0.25, 0.3]).kind == NONE


@pytest.mark.parametrize("kind", ["l2sq", "l2", "monotone"])
def test_duplicates_swapped_at_the_kth_rank_are_credited_under_any_relation(kind: str) -> None:
    """The exact index answers squared L2 (2 - 2s), an L2 distance or any monotone score; duplicate documents
    tie at the k-th rank and come back in the other order: not a miss."""
    from farm.probes.search.metrics import declared_relation

    ids = [f"d{i}" for i in range(9)]
    sims = [0.99 - 0.013 * i for i in range(9)]
    l_ids, l_scores = [*ids, "d9"], [*sims, 0.80]
    conv = {"l2sq": lambda s: 2 - 2 * s, "l2": lambda s: (2 - 2 * s) ** 0.5, "monotone": lambda s: (1 - s) ** 3}[kind]
    c_ids, c_scores = [*ids, "d9copy"], [conv(s) for s in [*sims, 0.80]]
    declared = declared_relation("similarity", kind if kind != "monotone" else "distance")
    m = query_metrics(l_ids, l_scores, c_ids, c_scores, 10, legacy_descending=True, declared=declared)
    if kind == "monotone":  # beyond the last common hit nothing is known: no credit, but none for a miss either
        assert m.relation.kind == "monotone" and m.recall == pytest.approx(0.9)
        # the copy of a common hit's document, in the list instead of the k-th: ties d8 on both scales
        c_ids2, c_scores2 = [*ids, "d8copy"], [conv(s) for s in [*sims, sims[-1]]]
        l_ids2, l_scores2 = [*ids, "d8b"], [*sims, sims[-1]]
        m = query_metrics(l_ids2, l_scores2, c_ids2, c_scores2, 10, legacy_descending=True, declared=declared)
    assert m.recall == 1.0 and m.recall_plain == pytest.approx(0.9) and m.tie_credit == 1, m

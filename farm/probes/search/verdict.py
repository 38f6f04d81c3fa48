"""The retrieval verdict: the bounded-mean family on tie-aware recall@k (r_min, per-query floor, p_max), an
optional RBO gate (`--rbo-min`), and the retrieval evidence the report shows (ties, overlap, score relation)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.stats.binomial import AgreementSamples
from farm.stats.bounded import MeanParams, decide_mean
from farm.stats.mean_family import decide_mean_family
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict, plain

RELATION_WORDS = {"identity": "the same scale (identity)", "one_minus": "candidate = 1 - legacy",
                  "scale": "candidate = a x legacy", "affine": "candidate = a + b x legacy",
                  "converted": "the profiles' declared score kinds", "monotone": "a monotone relation (not affine)",
                  "none": "no simple relation", "unknown": "no common hits"}


def _mean(a: NDArray[np.float64]) -> float | None:
    f = a[np.isfinite(a)]
    return float(f.mean()) if f.size else None


def retrieval_summary(arrays: dict[str, NDArray[Any]], texts: dict[str, list[Any]]) -> dict[str, Any]:
    """Tie statistics, overlap means and the fitted score relation over the compared queries."""
    scored = np.isfinite(arrays["score"])
    credit = arrays["tie_credit"]
    relations = Counter(r for r, ok in zip(texts.get("relation", []), scored.tolist(), strict=False) if ok and r)
    main = relations.most_common(1)[0][0] if relations else "unknown"
    scales = arrays["rel_scale"][scored & np.isfinite(arrays["rel_scale"])]
    first = arrays["first_diff"][scored]
    out: dict[str, Any] = {
        "queries": int(scored.sum()),
        "mean_recall_tie_aware": _mean(arrays["score"]),
        "mean_recall_plain": _mean(arrays["recall_plain"]),
        "queries_with_ties": int(((credit > 0) & scored).sum()),
        "queries_with_legacy_ties": int(((arrays["legacy_tied"] > 0) & scored).sum()),
        "hits_credited_by_ties": int(credit[scored & (credit > 0)].sum()),
        "mean_jaccard": _mean(arrays["jaccard"]),
        "mean_rbo": _mean(arrays["rbo"]),
        "mean_kendall_tau": _mean(arrays["kendall_tau"]),
        "identical_lists": int((first == -1).sum()),
        "median_first_disagreement": float(np.median(first[first > 0])) if (first > 0).any() else None,
        "score_relation": main,
        "score_relation_words": RELATION_WORDS.get(main, main),
        "score_relation_counts": dict(relations),
        "score_scale": float(np.median(scales)) if main in ("scale", "affine") and scales.size else None,
    }
    for part in ("lexical_overlap", "vector_overlap"):
        if part in arrays:
            out[f"mean_{part}"] = _mean(arrays[part])
    return out


def decide_retrieval(arrays: dict[str, NDArray[Any]], texts: dict[str, list[Any]], params: VerdictParams, *,
                     planned: int | None, noise: NoiseSamples | None, sequential: bool,
                     options: Mapping[str, Any]) -> Verdict:
    k = int(options.get("k") or 10)
    samples = AgreementSamples(arrays["score"], texts["legacy_error"], texts["candidate_error"],
                               arrays["latency_legacy_ms"], arrays["latency_candidate_ms"])
    verdict = decide_mean_family(samples, params, quantity=f"recall@{k}", planned=planned, noise=noise,
                                 sequential=sequential)
    outcome, reason = verdict.outcome, verdict.reason.replace(" samples", " queries").replace(" sample", " query")
    summary = retrieval_summary(arrays, texts)
    rbo_min = options.get("rbo_min")
    if rbo_min is not None:
        rbo = arrays["rbo"].copy()
        rbo[~np.isfinite(arrays["score"])] = np.nan
        gate = decide_mean(rbo, MeanParams(r_min=float(rbo_min), alpha=params.alpha, floor=0.0, p_max=0.5),
                           quantity=f"RBO@{k}", sequential=sequential)
        summary["rbo_gate"] = {"r_min": float(rbo_min), "outcome": gate.outcome, "reason": gate.reason,
                               "lower": gate.lower, "upper": gate.upper}
        if gate.outcome == "FAIL" and outcome != "FAIL":
            outcome, reason = "FAIL", gate.reason.replace(" samples", " queries")
        elif gate.outcome == "INCONCLUSIVE" and outcome == "PASS":
            outcome, reason = "INCONCLUSIVE", gate.reason.replace(" samples", " queries")
    findings = list(verdict.detail.get("findings") or [])
    counts = summary["score_relation_counts"]
    drifted = int(counts.get("none", 0))
    if drifted and summary["score_relation"] == "none":
        findings.append(f"score drift: on {drifted:,} of {sum(counts.values()):,} queries the candidate's scores "
                        "follow no relation (affine, the declared kinds, or monotone) to legacy's on the common hits")
    detail = {**verdict.detail, "retrieval": plain(summary), "findings": findings}
    return dataclasses.replace(verdict, outcome=outcome, reason=reason, detail=detail,
                               params={**verdict.params, "k": k})

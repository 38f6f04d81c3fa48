"""The bounded-mean family as a sweep verdict: a probe's per-sample scores in [0, 1] through `decide_mean`,
with the shared evidence every report shows (integrity, errors per side and class, noise, latency).

A sweep's `VerdictParams` carry the family's parameters: tau is r_min (the smallest acceptable mean score),
floor the per-sample catastrophic floor, p_max the largest tolerated rate below it, alpha the total error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.stats.binomial import AgreementSamples, error_detail, lost_to_legacy
from farm.stats.bounded import MeanParams, decide_mean
from farm.stats.latency import METHOD_NAME as LATENCY_METHOD
from farm.stats.latency import latency_summary
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict, plain


def mean_params(params: VerdictParams) -> MeanParams:
    return MeanParams(r_min=params.tau, alpha=params.alpha, floor=max(0.0, params.floor), p_max=params.p_max,
                      population=params.population)


def _self_report(values: NDArray[np.float64], r_min: float) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    m = int(finite.size)
    return {"n": m, "below_tau": int(np.count_nonzero(finite < r_min)),
            "self_agreement_rate": float(finite.mean()) if m else None, "min": float(finite.min()) if m else None}


def mean_noise(noise: NoiseSamples | None, r_min: float) -> dict[str, Any]:
    """Each gateway's scores against itself: the level the other side is judged against (never moved here)."""
    if noise is None:
        return {"measured": False}
    return {"measured": True, "legacy": _self_report(np.asarray(noise.legacy_self, dtype=np.float64), r_min),
            "candidate": _self_report(np.asarray(noise.candidate_self, dtype=np.float64), r_min),
            "tau": r_min, "tau_effective": r_min, "material": False,
            "rule": "reported only: the mean family's r_min is never moved by the noise floor"}


def decide_mean_family(samples: AgreementSamples, params: VerdictParams, *, quantity: str = "score",
                       planned: int | None = None, noise: NoiseSamples | None = None, sequential: bool = False,
                       problems: Sequence[str] = (), integrity: dict[str, Any] | None = None) -> Verdict:
    """The verdict of a bounded-mean sweep. A candidate error where legacy answered scores 0 (the worst a
    sample can do); samples where legacy failed are not scored."""
    score = np.asarray(samples.score, dtype=np.float64).copy()
    l_err = np.array([e is not None for e in samples.legacy_error], dtype=bool)
    c_err = np.array([e is not None for e in samples.candidate_error], dtype=bool)
    score[c_err & ~l_err] = 0.0
    score[l_err] = np.nan
    mp = mean_params(params)
    mv = decide_mean(score, mp, quantity=quantity, sequential=sequential, planned=planned)
    outcome, reason = mv.outcome, mv.reason
    if outcome == "PASS":
        worst = score.copy()
        worst[l_err] = 0.0  # the samples legacy failed on, as the worst they could have scored

        def passes_with(k: int) -> bool:
            return decide_mean(worst, mp, quantity=quantity, sequential=sequential).outcome == "PASS"

        lost = lost_to_legacy(samples, l_err, passes_with)
        if lost:
            outcome, reason = "INCONCLUSIVE", f"INCONCLUSIVE: {lost} ({mv.reason.removeprefix('PASS: ')})"
    if problems:
        outcome, reason = "FAIL", f"FAIL: integrity gate: {', '.join(problems)}"
    total = len(samples)
    errors, findings = error_detail(samples, total, params.alpha)
    detail = {**mv.detail,
              "integrity": {"planned": planned, "recorded": total, "missing": mv.detail.get("missing", 0),
                            **(integrity or {})},
              "errors": errors, "findings": findings, quantity: mv.detail.get("scores"),
              "mean": mv.mean, "below_floor": mv.below_floor, "floor_bounds": [mv.floor_lower, mv.floor_upper],
              "noise": mean_noise(noise, mp.r_min),
              "latency": latency_summary(samples.latency_legacy_ms, samples.latency_candidate_ms, alpha=params.alpha)}
    return Verdict(outcome=outcome, reason=reason, n=mv.n, disagreements=mv.below_floor,
                   errors=int((l_err | c_err).sum()), lower=mv.lower, upper=mv.upper, needed=mv.needed,
                   params={**mv.params, "tau": params.tau, "p_max": params.p_max, "floor": params.floor},
                   methods={**mv.methods, "errors": "wilson", "latency": LATENCY_METHOD,
                            "family": "bounded mean"},
                   detail=plain(detail))

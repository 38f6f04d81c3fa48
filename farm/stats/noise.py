"""Noise floor (A/A): how much each gateway disagrees with itself, and the effective agreement threshold.

Rule (docs/statistics.md, "Noise floor"): when the legacy gateway's own repeat answers fall below tau
materially often, tau cannot be met even by a perfect copy of legacy, so the threshold becomes

    tau_effective = max(floor, min(tau, 1 - KAPPA * d_q))

where d_q is the QUANTILE (0.9) of legacy's self-distances (1 - self-score): the candidate may differ from
legacy by up to KAPPA times legacy's typical jitter. A quantile, not the maximum: one blip among the A/A pairs
(a single pair at 0.995 among 150 at 0.99999) cannot move it, where a maximum would lower tau for every sample
and let a drifted candidate through. KAPPA = 3: for an exponential tail of self-distances P(d > 3 d_0.9) is
0.1%. It needs MIN_PAIRS pairs; with fewer, tau stays. The blips themselves are shown, with an exact interval
on legacy's own disagreement rate at tau_effective: when even its lower bound exceeds p_max, no candidate (not
even a copy of legacy) can PASS, and the verdict says so. The catastrophic floor is never relaxed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from farm.stats._format import fmt_cos
from farm.stats.intervals import clopper_pearson, cp_upper

if TYPE_CHECKING:
    from farm.stats.params import VerdictParams

KAPPA = 3.0
QUANTILE = 0.9
MIN_PAIRS = 10
SELF_QUANTILES = (0.0, 0.001, 0.01, 0.05, 0.5)


@dataclass(frozen=True)
class NoiseSamples:
    """Cosine of each gateway against ITSELF (same input asked twice) on a subsample."""

    legacy_self: NDArray[np.float64]
    candidate_self: NDArray[np.float64]


@dataclass(frozen=True)
class NoiseFloor:
    tau_effective: float
    adjusted: bool
    detail: dict[str, Any]
    findings: list[str]


def _self_report(values: NDArray[np.float64], tau: float, alpha: float) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    m = int(finite.size)
    x = int(np.count_nonzero(finite < tau))
    lo, hi = clopper_pearson(x, m, alpha)
    report: dict[str, Any] = {
        "n": m,
        "non_finite": int(arr.size - m),
        "below_tau": x,
        "self_disagreement_rate": (x / m) if m else None,
        "self_disagreement_ci": [lo, hi],
        "self_agreement_rate": (1.0 - x / m) if m else None,
        "quantiles": {},
        "min": float(finite.min()) if m else None,
    }
    if m:
        qs = np.quantile(finite, SELF_QUANTILES)
        report["quantiles"] = {f"q{q:g}": float(v) for q, v in zip(SELF_QUANTILES, qs, strict=True)}
    return report


def noise_floor(noise: NoiseSamples | None, params: VerdictParams) -> NoiseFloor:
    """Self-agreement of each gateway and the effective threshold (tau unless legacy noise is material)."""
    if noise is None:
        return NoiseFloor(params.tau, False, {"measured": False}, [])
    legacy = _self_report(noise.legacy_self, params.tau, params.alpha)
    candidate = _self_report(noise.candidate_self, params.tau, params.alpha)
    findings: list[str] = []
    m, x = legacy["n"], legacy["below_tau"]
    # Material: legacy fell below tau against itself at least once, and its self-disagreement rate cannot
    # be shown to be under p_max/2 (with a huge self-sample a rare blip is not worth relaxing tau for).
    material = bool(m > 0 and x > 0 and cp_upper(x, m, params.alpha) > params.p_max / 2.0)
    tau_eff = params.tau
    legacy_arr = np.asarray(noise.legacy_self, dtype=np.float64)
    legacy_finite = legacy_arr[np.isfinite(legacy_arr)]
    jitter = float(np.quantile(1.0 - legacy_finite, QUANTILE)) if legacy_finite.size >= MIN_PAIRS else None
    if material and jitter is not None:
        tau_eff = max(params.floor, min(params.tau, 1.0 - KAPPA * jitter))
        if tau_eff == params.floor:
            findings.append(f"legacy noise floor reaches the catastrophic floor (legacy self-score "
                            f"q{1 - QUANTILE:g} {fmt_cos(1.0 - jitter)})")
    elif material:
        findings.append(f"legacy disagrees with itself, but {m} A/A pairs are too few to measure its jitter "
                        f"(at least {MIN_PAIRS}): tau kept")
    blips = int(np.count_nonzero(legacy_finite < tau_eff))
    blip_lo, blip_hi = clopper_pearson(blips, int(legacy_finite.size), params.alpha)
    if blips and blip_lo > params.p_max:
        findings.append(f"legacy disagrees with itself in {blips} of {legacy_finite.size} A/A pairs at "
                        f"{fmt_cos(tau_eff)} (rate >= {blip_lo:.3%}): above p_max, so not even a copy of legacy "
                        "can PASS; raise p_max or lower tau knowingly")
    cand_arr = np.asarray(noise.candidate_self, dtype=np.float64)
    cand_below = int(np.count_nonzero(cand_arr[np.isfinite(cand_arr)] < tau_eff))
    if cand_below:
        findings.append(
            f"candidate is less deterministic than legacy: {cand_below} of {candidate['n']} candidate self-comparisons"
            f" below cosine {fmt_cos(tau_eff)}"
        )
    if legacy["non_finite"] or candidate["non_finite"]:
        findings.append("non-finite self-cosine values in the noise subsample")
    detail: dict[str, Any] = {
        "measured": True,
        "legacy": legacy,
        "candidate": candidate,
        "material": material,
        "kappa": KAPPA,
        "quantile": QUANTILE,
        "legacy_jitter": jitter,
        "tau": params.tau,
        "tau_effective": tau_eff,
        "legacy_below_tau_effective": blips,
        "legacy_below_tau_effective_ci": [blip_lo, blip_hi],
        "candidate_below_tau_effective": cand_below,
        "rule": f"tau_effective = max(floor, min(tau, 1 - {KAPPA:g} x the q{QUANTILE:g} of legacy self-distance)) "
                "when legacy self-disagreement at tau is material",
    }
    return NoiseFloor(tau_eff, tau_eff < params.tau, detail, findings)

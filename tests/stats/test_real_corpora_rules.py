"""Unit checks of the real-corpora rules: the noise floor from a quantile, finite populations and census, needed at
80% power, and the int64 overflow of the bounded mean's projection."""

from __future__ import annotations

import numpy as np
from scipy.stats import binom, hypergeom

from farm.stats import VerdictParams
from farm.stats.binomial import AgreementSamples, decide_binomial
from farm.stats.bounded import MeanParams, _projected_log_capital, decide_mean
from farm.stats.finite import hg_lower, hg_sequence, hg_upper
from farm.stats.noise import NoiseSamples, noise_floor

P = VerdictParams()


def samples(scores: np.ndarray) -> AgreementSamples:
    n = scores.size
    return AgreementSamples(scores, [None] * n, [None] * n, np.ones(n), np.ones(n))


def test_one_legacy_blip_does_not_lower_tau_for_a_drifted_candidate() -> None:
    legacy_self = np.full(150, 0.99999)
    legacy_self[17] = 0.995  # one A/A blip among 150
    noise = NoiseSamples(legacy_self, legacy_self.copy())
    assert noise_floor(noise, P).tau_effective == P.tau  # the maximum rule gave 0.99
    drifted = decide_binomial(samples(np.full(3000, 0.992)), P, noise=noise)
    assert drifted.outcome == "FAIL"
    # A jittery legacy still moves tau to its typical jitter, and its faithful copy passes.
    rng = np.random.default_rng(0)

    def jittery(k: int) -> np.ndarray:  # 1 - cosine of two noisy answers: a scaled chi-square, tightly spread
        return 1.0 - 4e-4 * rng.chisquare(384, k) / 384

    floor = noise_floor(NoiseSamples(jittery(200), jittery(200)), P)
    assert 0.998 < floor.tau_effective < 0.9999
    copy = decide_binomial(samples(jittery(3000)), P, noise=NoiseSamples(jittery(200), jittery(200)))
    assert copy.outcome == "PASS", copy.reason


def test_a_legacy_that_disagrees_with_itself_too_often_is_said_to_make_pass_unreachable() -> None:
    legacy_self = np.full(300, 0.99999)
    legacy_self[:30] = 0.995  # 10% blips: far above p_max 0.1%
    verdict = decide_binomial(samples(np.full(3000, 0.99999)), P, noise=NoiseSamples(legacy_self, legacy_self))
    assert any("not even a copy of legacy can PASS" in f for f in verdict.detail["findings"])


def test_hypergeometric_bounds_cover_at_their_level_and_shrink_to_the_census() -> None:
    size, bad, n, alpha = 500, 9, 120, 0.05
    xs = np.arange(n + 1)
    pmf = hypergeom.pmf(xs, size, bad, n)
    upper = np.array([hg_upper(int(x), n, size, alpha) for x in xs])
    lower = np.array([hg_lower(int(x), n, size, alpha) for x in xs])
    assert pmf[upper * size < bad].sum() <= alpha and pmf[lower * size > bad].sum() <= alpha
    assert hg_upper(3, size, size, alpha) == hg_lower(3, size, size, alpha) == 3 / size
    lo, hi = hg_sequence(3, 400, size, alpha, 0.01)
    assert lo <= 3 / 400 <= hi and hi - lo < 0.05


def test_a_census_is_exact_and_a_partial_corpus_needs_no_more_than_it_holds() -> None:
    census = VerdictParams(tau=0.99, p_max=0.01, floor=0.5, population=300)
    assert decide_binomial(samples(np.ones(300)), census).reason.startswith("PASS: disagreement 0% <= 1%, census")
    scores = np.ones(300)
    scores[:4] = 0.98  # 4 of 300 = 1.33% > 1%: exact
    assert decide_binomial(samples(scores), census).outcome == "FAIL"
    partial = decide_binomial(samples(np.ones(120)), VerdictParams(tau=0.99, p_max=0.001, floor=0.5, population=300))
    assert partial.outcome == "INCONCLUSIVE" and partial.needed == 180
    mean = decide_mean(np.ones(200), MeanParams(population=200))
    assert mean.outcome == "PASS" and mean.lower == mean.upper == 1.0 and "census" in mean.reason


def test_needed_is_at_80_percent_power() -> None:
    """Continued by `needed` at the observed rate, the fixed-n verdict decides in at least 80% of sweeps."""
    x, n = 3, 3000  # 0.1% observed against p_max 0.2%
    params = VerdictParams(p_max=0.002, floor=0.0)
    scores = np.ones(n)
    scores[:x] = 0.999  # below tau, above the floor
    verdict = decide_binomial(samples(scores), params)
    assert verdict.outcome == "INCONCLUSIVE" and verdict.needed is not None, verdict.reason
    from farm.stats.intervals import cp_upper

    def power(more: int) -> float:
        k = max(y for y in range(-1, 400) if y < 0 or cp_upper(x + y, n + more, params.alpha) <= params.p_max)
        return float(binom.cdf(k, more, x / n))

    assert power(verdict.needed) >= 0.8  # the power it promises
    assert power(verdict.needed // 2) < 0.8  # and not far more than it needs (power is a sawtooth in n)
    assert verdict.detail["needed_fixed_n"] < verdict.needed  # the median projection promised less


def test_the_mean_projection_does_not_overflow_past_3e9_samples() -> None:
    value = _projected_log_capital(np.array([0.99, 1.0]), np.array([0.5, 0.5]), 2.5e-5, 0.99, 5 * 10**9,
                                   np.log(40), True)
    assert np.isfinite(value)

"""Disagreement rates of a finite population: the corpus is all there is (`--population corpus`).

N inputs, D of which disagree; a sweep draws n of them without replacement (farm.order) and sees x. The rate
of interest is D / N, exactly known once every input was drawn (a census). Before that:

* Fixed n: exact hypergeometric bounds. Upper: the largest D with P(X <= x | N, D, n) > alpha; lower: the
  smallest D with P(X >= x | N, D, n) > alpha. Tighter than Clopper-Pearson by the finite-population
  correction, and equal to x / N at n = N.
* Sequential: the prior-posterior ratio confidence sequence of Waudby-Smith & Ramdas, "Confidence sequences
  for sampling without replacement" (NeurIPS 2020, sec. 3): for a prior pi on D, the ratio
  pi(D) / pi_n(D) = sum_D' pi(D') L_n(D') / L_n(D), with L_n(D) = D^(x) (N - D)^(n - x) (falling
  factorials: the probability of the sequence seen), is a nonnegative martingale with mean 1 under the true
  D, so {D : ratio < 1 / alpha} holds for every n at once (Ville). The prior mirrors the stream's
  (farm.stats.sequential): half a point mass at D = 0, half a beta-binomial(N, 1/2, 1/(2 p_max)). L_n is
  log-concave in D, so the set is an interval.

Populations above MAX_EXACT inputs are judged with the stream bounds (valid, only wider: sampling without
replacement never has more variance than with), and the verdict says so.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from farm.stats.intervals import cp_lower, cp_upper, scipy_special
from farm.stats.sequential import POINT_MASS_AT_ZERO, PRIOR_SHAPE_A

MAX_EXACT = 2_000_000
HYPERGEOMETRIC_METHOD = "fixed-n: one-sided exact hypergeometric bounds on the corpus's rate (finite population)"
SEQUENCE_METHOD = ("prior-posterior ratio confidence sequence for sampling without replacement "
                   "(Waudby-Smith & Ramdas, NeurIPS 2020)")
CENSUS_METHOD = "census: every input of the corpus compared, the rate is exact"


def exact(population: int | None) -> bool:
    """Whether a population gets the finite-population bounds (else the stream's)."""
    return population is not None and population <= MAX_EXACT


def _check(x: int, n: int, population: int) -> None:
    if not 0 <= x <= n <= population:
        raise ValueError(f"need 0 <= x <= n <= N, got x={x}, n={n}, N={population}")


def hg_upper(x: int, n: int, population: int, alpha: float) -> float:
    """One-sided (1 - alpha) upper bound on D / N after x disagreements in n draws without replacement."""
    _check(x, n, population)
    from scipy.stats import hypergeom

    big_n = population
    lo, hi = x, big_n - (n - x)  # D outside [x, N - (n - x)] cannot have produced the draw
    if hypergeom.cdf(x, big_n, hi, n) > alpha:
        return hi / big_n
    while hi - lo > 1:  # P(X <= x | D) falls as D grows: the last D above alpha
        mid = (lo + hi) // 2
        if hypergeom.cdf(x, big_n, mid, n) > alpha:
            lo = mid
        else:
            hi = mid
    return lo / big_n


def hg_lower(x: int, n: int, population: int, alpha: float) -> float:
    """One-sided (1 - alpha) lower bound on D / N."""
    _check(x, n, population)
    from scipy.stats import hypergeom

    big_n = population
    lo, hi = x, big_n - (n - x)
    if x == 0 or hypergeom.sf(x - 1, big_n, lo, n) > alpha:
        return lo / big_n
    while hi - lo > 1:  # P(X >= x | D) grows with D: the first D above alpha
        mid = (lo + hi) // 2
        if hypergeom.sf(x - 1, big_n, mid, n) > alpha:
            hi = mid
        else:
            lo = mid
    return hi / big_n


@lru_cache(maxsize=8)
def _log_prior(population: int, p_ref: float) -> np.ndarray:
    """log pi(D), D = 0..N: half a point mass at 0, half a beta-binomial(N, 1/2, 1/(2 p_ref))."""
    from scipy.stats import betabinom

    d = np.arange(population + 1)
    cont = betabinom.logpmf(d, population, PRIOR_SHAPE_A, PRIOR_SHAPE_A / p_ref) + math.log1p(-POINT_MASS_AT_ZERO)
    cont[0] = np.logaddexp(cont[0], math.log(POINT_MASS_AT_ZERO))
    return np.asarray(cont, dtype=np.float64)


def _log_likelihood(x: int, n: int, population: int) -> np.ndarray:
    """log L_n(D) = log D^(x) + log (N - D)^(n - x), D = 0..N (-inf where the draw is impossible)."""
    gammaln = scipy_special().gammaln
    d = np.arange(population + 1, dtype=np.float64)
    rest = population - d
    out = np.full(population + 1, -np.inf)
    ok = (d >= x) & (rest >= n - x)
    out[ok] = (gammaln(d[ok] + 1) - gammaln(d[ok] - x + 1) + gammaln(rest[ok] + 1)
               - gammaln(rest[ok] - (n - x) + 1))
    return out


def hg_sequence(x: int, n: int, population: int, alpha: float, p_ref: float) -> tuple[float, float]:
    """(lower, upper) on D / N of the always-valid (1 - alpha) confidence sequence after x of n draws."""
    _check(x, n, population)
    if n == 0:
        return (0.0, 1.0)
    loglik = _log_likelihood(x, n, population)
    log_marginal = float(np.logaddexp.reduce(_log_prior(population, p_ref) + loglik))
    kept = np.flatnonzero(log_marginal - loglik < math.log(1.0 / alpha))
    if kept.size == 0:  # cannot happen for the true D; keeps the bounds defined (the MLE is never rejected)
        d_hat = round(x / n * population)
        return (d_hat / population, d_hat / population)
    return (float(kept[0]) / population, float(kept[-1]) / population)


def rate_bounds(x: int, n: int, alpha: float, p_max: float, *, population: int | None,
                sequential: bool) -> tuple[float, float]:
    """The verdict's (lower, upper) on the disagreement rate: the population's when it is finite and small
    enough to be exact, else the stream's (one-sided Clopper-Pearson, or the mixture sequence)."""
    if exact(population):
        assert population is not None
        if n >= population:
            return (x / population, x / population)
        if sequential:
            return hg_sequence(x, n, population, alpha, p_max)
        return (hg_lower(x, n, population, alpha), hg_upper(x, n, population, alpha))
    if sequential:
        from farm.stats.sequential import confidence_sequence

        return confidence_sequence(x, n, alpha, p_ref=p_max)
    return (cp_lower(x, n, alpha), cp_upper(x, n, alpha))


def census(n: int, population: int | None) -> bool:
    return exact(population) and population is not None and n >= population


def rate_decision(x: int, n: int, alpha: float, p_max: float, *, population: int | None,
                  sequential: bool) -> str | None:
    """PASS when the rate's bounds lie at or below p_max, FAIL when above it, else None. The stream's
    sequential rule is the mixture martingale's one-point test at p_max (farm.stats.sequential), the rest
    compare the bounds."""
    if n <= 0:
        return None
    if sequential and not exact(population):
        from farm.stats.params import VerdictParams
        from farm.stats.sequential import sequential_decision

        return sequential_decision(x, n, VerdictParams(p_max=p_max, alpha=alpha))
    lower, upper = rate_bounds(x, n, alpha, p_max, population=population, sequential=sequential)
    if upper <= p_max:
        return "PASS"
    if lower > p_max:
        return "FAIL"
    return None

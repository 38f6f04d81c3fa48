"""Always-valid confidence sequence for a Bernoulli (disagreement) rate, for sweeps that stop early.

Method: Robbins' method of mixtures (Robbins 1970, "Statistical methods related to the law of the
iterated logarithm", Ann. Math. Statist. 41(5)); for Bernoulli data with a beta mixing distribution this
is the beta-binomial confidence sequence (see Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2), sec. 3; and Waudby-Smith &
Ramdas 2024, "Estimating means of bounded random variables by betting", JRSS-B, for the betting view).

For a prior pi on [0, 1] and x disagreements in n samples,

    M_n(p) = integral of q^x (1-q)^(n-x) dpi(q)  /  p^x (1-p)^(n-x)

is a nonnegative martingale with mean 1 under the true rate p, so by Ville's inequality
P(exists n: M_n(p) >= 1/alpha) <= alpha. The set {p : M_n(p) < 1/alpha} is therefore a (1 - alpha)
confidence sequence: valid simultaneously for every n, hence at any data-dependent stopping time.

Prior. Validity holds for ANY prior fixed before the data; the prior only moves power around. With no
reference rate we use Robbins' uniform Beta(1, 1). Given the decision threshold p_max (`p_ref`), we use
half a point mass at 0 plus half a Beta(1/2, 1/(2 p_ref)) (mean about p_ref): a clean stream then
decides PASS after about 1.13x the fixed-n rule-of-three sample size (3,381 vs 2,995 for 0.1% at 95%),
and drifting streams still decide FAIL quickly. Choosing the prior from p_max, which is set before the
sweep starts, keeps the guarantee intact.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from farm.stats.intervals import first_total, scipy_special

if TYPE_CHECKING:
    from farm.stats.params import VerdictParams

METHOD_NAME = "beta-binomial mixture confidence sequence (Robbins 1970; Howard et al. 2021)"
POINT_MASS_AT_ZERO = 0.5
PRIOR_SHAPE_A = 0.5


def _prior(p_ref: float | None) -> tuple[float, float, float]:
    """(weight of the point mass at 0, a, b) of the mixing distribution."""
    if p_ref is None:
        return (0.0, 1.0, 1.0)
    if not 0.0 < p_ref < 1.0:
        raise ValueError(f"p_ref must be in (0, 1), got {p_ref}")
    return (POINT_MASS_AT_ZERO, PRIOR_SHAPE_A, PRIOR_SHAPE_A / p_ref)


def _log_mixture(x: float, n: float, prior: tuple[float, float, float]) -> float:
    """log of the prior-averaged likelihood (the numerator of M_n)."""
    w0, a, b = prior
    betaln = scipy_special().betaln
    cont = betaln(a + x, b + n - x) - betaln(a, b)
    if w0 <= 0.0:
        return float(cont)
    cont += math.log1p(-w0)
    if x > 0:
        return float(cont)
    pt = math.log(w0)  # q = 0 has likelihood 1 when there is no disagreement
    hi = max(cont, pt)
    return float(hi + math.log(math.exp(cont - hi) + math.exp(pt - hi)))


def log_martingale(x: float, n: float, p: float, *, p_ref: float | None = None) -> float:
    """log M_n(p): the evidence, after x disagreements in n, against the true rate being p."""
    if not 0.0 <= x <= n:
        raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    loglik = (x * math.log(p) if x > 0 else 0.0) + (n - x) * math.log1p(-p)
    return _log_mixture(x, n, _prior(p_ref)) - loglik


def confidence_sequence(x: int, n: int, alpha: float, *, p_ref: float | None = None) -> tuple[float, float]:
    """(lower, upper) of the (1 - alpha) always-valid confidence sequence after x disagreements in n.

    Two-sided with total error alpha, uniformly over all n. `p_ref` tunes the prior for decisions
    against that rate (see the module docstring); it never affects validity."""
    from scipy.optimize import brentq  # lazily: scipy.optimize adds 0.2 s to every `farm` start

    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n < 0 or not 0 <= x <= n:
        raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    level = math.log(1.0 / alpha)
    prior = _prior(p_ref)
    mix = _log_mixture(x, n, prior)

    # log M_n(p) is convex in p with its minimum (<= 0, since a mixture never beats the MLE) at x/n, so
    # the sequence is an interval and each end is the single root on its side of x/n.
    def g(p: float) -> float:
        loglik = (x * math.log(p) if x > 0 else 0.0) + ((n - x) * math.log1p(-p) if x < n else 0.0)
        return mix - loglik - level

    phat = x / n
    tiny = 1e-300
    lower = 0.0
    if x > 0 and g(tiny) > 0:
        lower = float(brentq(g, tiny, phat, xtol=1e-300, rtol=1e-12))
    if x == n:
        upper = 1.0
    else:
        top = 1.0 - 1e-16
        upper = float(brentq(g, phat if x > 0 else tiny, top, xtol=1e-300, rtol=1e-12)) if g(top) > 0 else 1.0
    return (lower, upper)


def sequential_decision(x: int, n: int, params: VerdictParams) -> str | None:
    """"PASS" once the confidence sequence lies at or below p_max, "FAIL" once it lies above p_max,
    else None (keep sampling). Safe to call after every sample: the error rate stays <= alpha."""
    if n <= 0:
        return None
    # Comparing M_n(p_max) with 1/alpha is equivalent to locating p_max outside the interval, and is
    # cheaper and free of root-finding tolerance.
    evidence = log_martingale(x, n, params.p_max, p_ref=params.p_max)
    if evidence < math.log(1.0 / params.alpha):
        return None
    rate = x / n
    if rate < params.p_max:
        return "PASS"
    if rate > params.p_max:
        return "FAIL"
    return None


def sequential_samples_needed(x: int, n: int, p_max: float, alpha: float) -> int | None:
    """Further samples, if the observed rate continues (0 failures if x=0), before the confidence
    sequence decides PASS; 0 if it already does; None if it never can (observed rate >= p_max)."""
    if n < 0 or not 0 <= x <= n:
        raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
    level = math.log(1.0 / alpha)
    rate = x / n if n > 0 else 0.0
    if rate >= p_max:
        return None

    return first_total(lambda total: total > 0 and log_martingale(rate * total, total, p_max, p_ref=p_max) >= level,
                       n, floor=16)


def clean_stream_n(p_max: float, alpha: float) -> int:
    """Samples a stream with no disagreement needs before the sequential rule decides PASS."""
    needed = sequential_samples_needed(0, 0, p_max, alpha)
    if needed is None:  # cannot happen for rate 0 < p_max; keeps the type honest
        raise ValueError("no sample size decides a clean stream")
    return needed

"""Binomial confidence intervals and sample-size arithmetic for disagreement rates.

Conventions (see docs/statistics.md):

* `clopper_pearson` and `wilson` take `alpha` as the TOTAL two-sided error: the interval covers the
  true rate with probability >= 1 - alpha (Clopper-Pearson) or about 1 - alpha (Wilson), with alpha/2
  in each tail. This matches `scipy.stats.binomtest(...).proportion_ci(1 - alpha, method="exact")`.
* `cp_upper` / `cp_lower` are the ONE-sided exact bounds at level 1 - alpha. The verdict is a one-sided
  question ("is the rate at most p_max?"), so it uses these; `zero_failure_n` and `samples_needed` use
  the same one-sided convention, which is why 0 failures in 2,995 samples prove <= 0.1% at 95%.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def scipy_special() -> Any:
    """scipy.special, imported on first use: it is 0.3 s of every `farm` start, and only verdicts need it
    (scipy.special rather than scipy.stats: the same functions for a fraction of the import)."""
    import scipy.special

    return scipy.special


def _check(x: int | float, n: int, alpha: float) -> None:
    if n < 0 or x < 0 or x > n:
        raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def cp_upper(x: float, n: int, alpha: float) -> float:
    """One-sided exact (Clopper-Pearson) upper bound at level 1 - alpha; x may be fractional (planning)."""
    _check(x, n, alpha)
    if n == 0 or x >= n:
        return 1.0
    if x == 0:
        # Closed form avoids beta.ppf precision loss for huge n.
        return float(-math.expm1(math.log(alpha) / n))
    return float(scipy_special().betaincinv(x + 1, n - x, 1.0 - alpha))


def cp_lower(x: float, n: int, alpha: float) -> float:
    """One-sided exact (Clopper-Pearson) lower bound at level 1 - alpha."""
    _check(x, n, alpha)
    if n == 0 or x <= 0:
        return 0.0
    if x >= n:
        return float(math.exp(math.log(alpha) / n))
    return float(scipy_special().betaincinv(x, n - x + 1, alpha))


def clopper_pearson(x: int, n: int, alpha: float) -> tuple[float, float]:
    """Two-sided exact interval for a binomial rate (alpha/2 per tail); n=0 gives (0.0, 1.0)."""
    _check(x, n, alpha)
    if n == 0:
        return (0.0, 1.0)
    return (cp_lower(x, n, alpha / 2.0), cp_upper(x, n, alpha / 2.0))


def wilson(x: int, n: int, alpha: float) -> tuple[float, float]:
    """Two-sided Wilson score interval (alpha/2 per tail); n=0 gives (0.0, 1.0)."""
    _check(x, n, alpha)
    if n == 0:
        return (0.0, 1.0)
    z = float(scipy_special().ndtri(1.0 - alpha / 2.0))
    z2 = z * z
    p = x / n
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    # At x=0 / x=n the bound is exactly 0 / 1 in theory; clamp float residue.
    lo = 0.0 if x == 0 else max(0.0, centre - half)
    hi = 1.0 if x == n else min(1.0, centre + half)
    return (lo, hi)


def zero_failure_n(p_max: float, alpha: float) -> int:
    """Smallest n with 0 failures whose one-sided upper bound is <= p_max: ceil(ln(alpha) / ln(1 - p_max))."""
    if not 0.0 < p_max < 1.0:
        raise ValueError(f"p_max must be in (0, 1), got {p_max}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n_real = math.log(alpha) / math.log1p(-p_max)
    n = math.ceil(n_real)
    # Guard against ceil() of a value a rounding error above an integer (e.g. 2995.0000000001).
    if n - 1 > 0 and cp_upper(0, n - 1, alpha) <= p_max:
        n -= 1
    return n


def samples_needed(x: int, n: int, p_max: float, alpha: float) -> int | None:
    """Further samples needed, if the observed rate x/n continues (0 failures if x=0), for the one-sided
    upper bound at level 1 - alpha to reach <= p_max. 0 if it already does; None if no sample size can
    (observed rate >= p_max)."""
    _check(x, n, alpha)
    if not 0.0 < p_max < 1.0:
        raise ValueError(f"p_max must be in (0, 1), got {p_max}")
    if n > 0 and cp_upper(x, n, alpha) <= p_max:
        return 0
    if x == 0:
        return max(0, zero_failure_n(p_max, alpha) - n)
    rate = x / n
    if rate >= p_max:
        return None

    return first_total(lambda total: cp_upper(rate * total, total, alpha) <= p_max, n)


def first_total(ok: Callable[[int], bool], n: int, *, floor: int = 1) -> int | None:
    """Further samples beyond `n` until `ok(total)` first holds (0 if it holds at n), for a criterion that
    stays true once true; None when no practical total reaches it. Exponential, then binary search."""
    if n > 0 and ok(n):
        return 0
    lo, hi = n, max(2 * n, n + 1, floor)
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > 10**15:  # the rate is a hair under p_max: no practical sample size exists
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi - n

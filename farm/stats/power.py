"""Samples still needed, at 80% power: how many more samples make the verdict decide with probability >= 0.8
if the rate seen so far is the true one (not the median projection, which decides only about half the time).

The continuation is the same always-valid process (`farm sweep resume ID --more N` on a sequential sweep), so
following the advice never inflates the error, unlike re-testing at a fixed n (docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Callable

from farm.stats.intervals import first_total

POWER = 0.8


def needed_at_power(x: int, n: int, p_hat: float, decides: Callable[[int, int], bool], *, to_pass: bool,
                    cap: int | None = None) -> int | None:
    """Further samples k until P(decides(x + Y, n + k)) >= POWER with Y ~ Binomial(k, p_hat): `decides` says
    whether x' disagreements in n' decide (PASS when to_pass, then fewer is better; else FAIL). None when no
    practical k does; at most `cap` (what a finite corpus still holds) when given, None past it."""
    from scipy.stats import binom

    def powered(total: int) -> bool:
        k = total - n
        if k < 0:
            return False
        if to_pass:
            if not decides(x, total):  # not even with no further disagreement
                return False
            lo, hi = 0, k  # decides(x + lo): true; find the largest such y
            if decides(x + hi, total):
                return True
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if decides(x + mid, total) else (lo, mid)
            return bool(binom.cdf(lo, k, p_hat) >= POWER)
        if not decides(x + k, total):  # not even if every further sample disagreed
            return False
        lo, hi = -1, k  # decides(x + hi): true; find the smallest such y
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if decides(x + mid, total) else (mid, hi)
        return bool(binom.sf(hi - 1, k, p_hat) >= POWER)

    extra = first_total(powered, n, floor=16)
    if extra is not None and cap is not None and extra > cap:
        return None
    return extra

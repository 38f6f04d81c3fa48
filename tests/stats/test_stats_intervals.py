"""Known answers for the binomial intervals and sample-size arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from farm.stats import clopper_pearson, cp_lower, cp_upper, samples_needed, wilson, zero_failure_n


def test_clopper_pearson_zero_of_five_is_the_hand_value() -> None:
    lo, hi = clopper_pearson(0, 5, 0.05)
    assert lo == 0.0
    assert hi == pytest.approx(1 - 0.025 ** (1 / 5), rel=1e-12)
    assert hi == pytest.approx(0.5218, abs=5e-5)


def test_rule_of_three_bound_is_one_sided() -> None:
    # 0 of 2,995 proves <= 0.1% with one-sided 95% confidence, i.e. the two-sided 90% interval.
    assert cp_upper(0, 2995, 0.05) == pytest.approx(0.001000, abs=1e-6)
    assert cp_upper(0, 2995, 0.05) <= 0.001
    assert cp_upper(0, 2994, 0.05) > 0.001
    assert clopper_pearson(0, 2995, 0.10)[1] == pytest.approx(cp_upper(0, 2995, 0.05), rel=1e-12)
    # The two-sided 95% interval is wider: 1 - 0.025**(1/2995).
    assert clopper_pearson(0, 2995, 0.05)[1] == pytest.approx(1 - 0.025 ** (1 / 2995), rel=1e-9)


@pytest.mark.parametrize(("x", "n"), [(0, 1), (1, 1), (3, 10), (31, 3000), (0, 2995), (7, 7), (500, 1000), (2, 20000)])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_clopper_pearson_matches_scipy_exact(x: int, n: int, alpha: float) -> None:
    ci = binomtest(x, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    lo, hi = clopper_pearson(x, n, alpha)
    # scipy finds the bounds by root-finding (up to 1e-5 relative off at tiny rates; see the x = 1 hand value).
    assert lo == pytest.approx(ci.low, rel=1e-6, abs=1e-14)
    assert hi == pytest.approx(ci.high, rel=1e-6, abs=1e-14)


def test_clopper_pearson_empty_sample_is_uninformative() -> None:
    assert clopper_pearson(0, 0, 0.05) == (0.0, 1.0)
    assert wilson(0, 0, 0.05) == (0.0, 1.0)


def test_one_sided_bounds_hand_values() -> None:
    # x = n: lower = alpha**(1/n); x = 0: upper = 1 - alpha**(1/n).
    assert cp_lower(10, 10, 0.05) == pytest.approx(0.05 ** (1 / 10), rel=1e-12)
    assert cp_upper(0, 10, 0.05) == pytest.approx(1 - 0.05 ** (1 / 10), rel=1e-12)
    # x = 1, n = 2: upper solves (1 - p)^2 + 2p(1 - p) = alpha, i.e. 1 - p^2 = alpha.
    assert cp_upper(1, 2, 0.05) == pytest.approx(math.sqrt(0.95), rel=1e-9)
    # x = 1: lower solves 1 - (1 - p)^n = alpha.
    assert cp_lower(1, 100_000, 0.1) == pytest.approx(-math.expm1(math.log(0.9) / 100_000), rel=1e-12)


def _wilson_by_hand(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("x", "n"), [(3, 10), (1, 50), (31, 3000), (50, 100)])
def test_wilson_matches_hand_formula(x: int, n: int) -> None:
    lo, hi = wilson(x, n, 0.05)
    hlo, hhi = _wilson_by_hand(x, n, 1.959963984540054)
    assert lo == pytest.approx(hlo, rel=1e-12)
    assert hi == pytest.approx(hhi, rel=1e-12)


def test_wilson_textbook_value() -> None:
    # Agresti & Coull (1998) style example: 3 of 10 -> (0.1078, 0.6032) at 95%.
    lo, hi = wilson(3, 10, 0.05)
    assert lo == pytest.approx(0.1078, abs=1e-4)
    assert hi == pytest.approx(0.6032, abs=1e-4)
    assert wilson(0, 10, 0.05)[0] == 0.0
    assert wilson(10, 10, 0.05)[1] == 1.0


def test_zero_failure_n() -> None:
    assert zero_failure_n(0.001, 0.05) == 2995
    assert zero_failure_n(0.01, 0.05) == 299
    assert zero_failure_n(0.001, 0.01) == 4603
    with pytest.raises(ValueError):
        zero_failure_n(0.0, 0.05)


def test_samples_needed_zero_failures() -> None:
    assert samples_needed(0, 5, 0.001, 0.05) == 2990
    assert samples_needed(0, 0, 0.001, 0.05) == 2995
    assert samples_needed(0, 2995, 0.001, 0.05) == 0
    assert samples_needed(0, 10_000, 0.001, 0.05) == 0


def test_samples_needed_at_observed_rate() -> None:
    extra = samples_needed(3, 6000, 0.001, 0.05)  # observed 0.05%
    assert extra is not None and extra > 0
    total = 6000 + extra
    rate = 3 / 6000
    assert cp_upper(rate * total, total, 0.05) <= 0.001
    assert cp_upper(rate * (total - 1), total - 1, 0.05) > 0.001
    # At or above p_max no sample size can pass.
    assert samples_needed(3, 3000, 0.001, 0.05) is None
    assert samples_needed(31, 3000, 0.001, 0.05) is None


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), alpha=st.floats(0.001, 0.5))
def test_intervals_are_ordered_and_contain_the_estimate(n: int, frac: float, alpha: float) -> None:
    x = round(frac * n)
    lo, hi = clopper_pearson(x, n, alpha)
    wlo, whi = wilson(x, n, alpha)
    assert 0.0 <= lo <= x / n <= hi <= 1.0
    assert 0.0 <= wlo <= x / n <= whi <= 1.0
    # Exact one-sided bounds at alpha sit inside the two-sided interval at the same alpha.
    assert lo <= cp_lower(x, n, alpha) + 1e-12 and cp_upper(x, n, alpha) <= hi + 1e-12

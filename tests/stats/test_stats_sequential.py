"""Always-valid confidence sequence: coverage-style properties, decisions, clean-stream stopping time."""

from __future__ import annotations

import math

import pytest

from farm.stats import VerdictParams, clean_stream_n, confidence_sequence, cp_upper, sequential_decision
from farm.stats.sequential import log_martingale, sequential_samples_needed

P = VerdictParams()


def test_clean_stream_stops_near_rule_of_three() -> None:
    n = clean_stream_n(0.001, 0.05)
    assert n == 3381  # 1.13 x the fixed-n 2,995
    assert 2995 < n < 2 * 2995
    assert sequential_decision(0, n, P) == "PASS"
    assert sequential_decision(0, n - 1, P) is None


def test_uniform_prior_hand_value() -> None:
    # Beta(1, 1) prior, x = 0: M_n(p) = 1 / ((n + 1) (1 - p)^n), so upper = 1 - (alpha / (n + 1))^(1/n).
    n = 1000
    lo, hi = confidence_sequence(0, n, 0.05)
    assert lo == 0.0
    assert hi == pytest.approx(1 - (0.05 / (n + 1)) ** (1 / n), rel=1e-9)


def test_sequence_is_wider_than_the_fixed_n_interval() -> None:
    for x, n in [(0, 3000), (3, 3000), (31, 3000), (100, 20_000)]:
        lo, hi = confidence_sequence(x, n, 0.05, p_ref=0.001)
        assert lo <= x / n <= hi
        assert hi >= cp_upper(x, n, 0.05)


def test_bounds_sit_where_the_martingale_crosses_one_over_alpha() -> None:
    lo, hi = confidence_sequence(12, 4000, 0.05, p_ref=0.001)
    level = math.log(20)
    assert log_martingale(12, 4000, hi, p_ref=0.001) == pytest.approx(level, abs=1e-6)
    assert log_martingale(12, 4000, lo, p_ref=0.001) == pytest.approx(level, abs=1e-6)


def test_drift_fails_fast_and_borderline_keeps_sampling() -> None:
    assert sequential_decision(10, 300, P) == "FAIL"  # 3.3% observed
    assert sequential_decision(3, 3000, P) is None  # exactly p_max observed: never decides
    assert sequential_decision(0, 0, P) is None


def test_samples_needed_reaches_a_pass() -> None:
    extra = sequential_samples_needed(2, 8000, 0.001, 0.05)
    assert extra is not None and extra > 0
    assert sequential_samples_needed(5, 5000, 0.001, 0.05) is None  # observed rate = p_max


def test_confidence_sequence_when_every_sample_disagrees() -> None:
    # x == n used to take log1p(-1) at the MLE p = 1 (a math domain error) instead of returning a bound.
    lower, upper = confidence_sequence(10, 10, 0.05, p_ref=0.001)
    assert upper == 1.0 and 0.0 < lower < 1.0
    assert confidence_sequence(10, 10, 0.05)[0] < confidence_sequence(100, 100, 0.05)[0]

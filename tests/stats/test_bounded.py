"""Bounded mean verdict: known answers, coverage, monotonicity, the floor test, validation, NaN, empty input."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from farm.stats._format import fmt_score
from farm.stats.bounded import MeanParams, decide_mean, log_capital, mean_bounds, plug_in_bets, side_level

P = MeanParams()


def recall_like(rng: np.random.Generator, n: int, p_one: float) -> np.ndarray:
    """recall@10-like scores: 1.0 with probability p_one, else 0.9 (mean 0.9 + 0.1 p_one)."""
    return np.where(rng.random(n) < p_one, 1.0, 0.9)


def test_all_ones_pass_and_the_lower_bound_approaches_one() -> None:
    lowers = []
    for n in (1000, 3000, 10_000, 30_000):
        v = decide_mean(np.ones(n), P, quantity="recall@10")
        assert v.outcome == "PASS", v.reason
        assert v.mean == 1.0 and v.upper == pytest.approx(1.0) and v.below_floor == 0
        lowers.append(v.lower)
    assert lowers == sorted(lowers) and lowers[0] < lowers[-1]
    assert 1.0 - lowers[-1] < 1e-3
    v = decide_mean(np.ones(3000), P, quantity="recall@10")
    assert v.reason == (f"PASS: mean recall@10 1.0000 >= 0.99 at 95% (lower bound "
                        f"{fmt_score(v.lower, rounding='down')}, 3,000 samples; 0 below 0.5)")


def test_all_zeros_fail() -> None:
    v = decide_mean(np.zeros(200), P, quantity="recall@10")
    assert v.outcome == "FAIL"
    assert v.upper < P.r_min and v.below_floor == 200 and v.floor_lower > P.p_max
    assert v.reason.startswith("FAIL: mean recall@10 0.0000 [0.0000, 0.")
    assert v.reason.endswith("< 0.99 over 200 samples; 200 below 0.5")


def test_fail_reason_in_house_style() -> None:
    x = recall_like(np.random.default_rng(3), 3000, 0.62)  # mean about 0.962
    v = decide_mean(x, P, quantity="recall@10")
    assert v.outcome == "FAIL"
    assert v.lower <= v.mean <= v.upper < P.r_min
    lo, hi = fmt_score(v.lower, rounding="down"), fmt_score(v.upper, rounding="up")
    assert v.reason == f"FAIL: mean recall@10 {fmt_score(v.mean)} [{lo}, {hi}] < 0.99 over 3,000 samples; 0 below 0.5"


def test_near_r_min_with_small_n_is_inconclusive_with_samples_needed() -> None:
    x = recall_like(np.random.default_rng(5), 150, 0.97)  # true mean 0.997
    for sequential in (False, True):
        v = decide_mean(x, P, sequential=sequential)
        assert v.outcome == "INCONCLUSIVE", v.reason
        assert v.lower < P.r_min <= v.upper
        assert v.needed is not None and v.needed > 0
        assert v.detail["needed_for"] == "PASS"
        assert f"about {v.needed:,} more samples needed to PASS" in v.reason


def test_samples_needed_is_about_what_all_ones_take() -> None:
    # Smallest n of all-ones data that PASSes, against the projection from 50 samples.
    for sequential in (False, True):
        first = next(n for n in range(100, 5000, 10)
                     if mean_bounds(np.ones(n), P.alpha_mean, P.r_min, sequential=sequential)[2])
        v = decide_mean(np.ones(50), P, sequential=sequential)
        assert v.needed is not None
        assert abs(50 + v.needed - first) <= 0.05 * first


def test_bounds_contain_the_true_mean_in_seeded_sweeps() -> None:
    rng = np.random.default_rng(7)
    misses = 0
    for _ in range(60):
        x = rng.beta(2.0, 0.5, 400)  # true mean 0.8
        lo, hi, _, _ = mean_bounds(x, 0.05, 0.8, sequential=False)
        slo, shi, _, _ = mean_bounds(x, 0.05, 0.8, sequential=True)
        assert slo <= shi
        misses += not (lo <= 0.8 <= hi)
        misses += not (slo <= 0.8 <= shi)
    # Each interval misses with probability <= 0.1 (fixed n) / 0.05 (sequential); 120 checks.
    assert misses <= 12


def test_more_identical_evidence_never_widens_the_bound() -> None:
    base = recall_like(np.random.default_rng(9), 200, 0.95)
    prev_lo, prev_hi = -1.0, 2.0
    for copies in (1, 2, 4, 8, 16):
        lo, hi, _, _ = mean_bounds(np.tile(base, copies), P.alpha_mean, P.r_min, sequential=False)
        assert lo >= prev_lo and hi <= prev_hi
        assert lo < hi
        prev_lo, prev_hi = lo, hi
    assert prev_hi - prev_lo < 0.01


def test_floor_test_fails_one_percent_zeros_that_the_mean_would_pass() -> None:
    params = MeanParams(r_min=0.95, p_max=0.001)
    x = np.ones(3000)
    x[::100] = 0.0  # 1% catastrophic samples, the rest perfect: mean 0.99
    v = decide_mean(x, params, quantity="recall@10")
    assert v.lower >= params.r_min  # the mean alone would PASS
    assert v.outcome == "FAIL"
    assert v.below_floor == 30 and v.floor_lower > params.p_max
    assert v.reason.startswith("FAIL: 30 of 3,000 samples below the floor 0.5 in recall@10, rate >= ")
    assert v.detail["mean_decided"] == "PASS" and v.detail["floor_decided"] == "FAIL"
    seq = decide_mean(x, params, sequential=True)
    assert seq.outcome == "FAIL" and seq.detail["floor_decided"] == "FAIL"


def test_good_mean_with_unproven_floor_is_inconclusive() -> None:
    x = np.ones(3000)
    x[:20] = 0.0  # 0.67% below the floor: under p_max = 1%, but not provably
    v = decide_mean(x, MeanParams(r_min=0.98), quantity="rbo")
    assert v.outcome == "INCONCLUSIVE"
    assert v.detail["mean_decided"] == "PASS" and v.floor_upper > 0.01
    assert v.needed is not None and v.needed > 0
    assert "but the rate below 0.5 may exceed 1%" in v.reason


def test_sequential_bound_is_wider_than_fixed_n() -> None:
    rng = np.random.default_rng(11)
    for x in (recall_like(rng, 2000, 0.9), rng.beta(50.0, 0.5, 3000), np.ones(1500)):
        lo, hi, _, _ = mean_bounds(x, P.alpha_mean, P.r_min, sequential=False)
        slo, shi, _, _ = mean_bounds(x, P.alpha_mean, P.r_min, sequential=True)
        assert slo <= lo and shi >= hi


def test_reported_bounds_agree_with_the_capital_at_r_min() -> None:
    x = recall_like(np.random.default_rng(13), 1500, 0.95)
    level = side_level(P.alpha_mean, False)
    bets = plug_in_bets(x, level, fixed_n=x.size)
    lo, _hi, pass_side, _ = mean_bounds(x, P.alpha_mean, P.r_min, sequential=False)
    assert pass_side and lo >= P.r_min
    # The lower bound is a rejected point, and a point a hair above it is not.
    cap = log_capital(x, bets, np.array([lo, lo + 2e-6]), np.array([True, True]), running=False)
    assert cap[0] >= level > cap[1]


def test_sweep_of_100k_samples_is_fast() -> None:
    x = recall_like(np.random.default_rng(17), 100_000, 0.99)
    decide_mean(x[:1000], P, sequential=True)  # warm the lazy scipy imports
    for sequential in (False, True):
        t0 = time.perf_counter()
        v = decide_mean(x, P, sequential=sequential)
        assert time.perf_counter() - t0 < 1.0
        assert v.outcome == "PASS"


def test_validation_errors() -> None:
    for kwargs, text in [({"r_min": 1.0}, "r_min"), ({"r_min": 0.0}, "r_min"), ({"alpha": 0.0}, "alpha"),
                         ({"alpha": 1.0}, "alpha"), ({"floor": -0.1}, "floor"), ({"floor": 0.995}, "floor"),
                         ({"p_max": 0.0}, "p_max"), ({"p_max": 1.0}, "p_max")]:
        with pytest.raises(ValueError, match=text):
            MeanParams(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"scores must lie in \[0, 1\]"):
        decide_mean(np.array([0.5, 1.5]), P)
    with pytest.raises(ValueError, match="scores must lie"):
        decide_mean(np.array([0.5, np.inf]), P)
    # Rounding residue of a similarity is clipped, not rejected.
    assert decide_mean(np.full(10, 1.0 + 1e-12), P).mean == 1.0


def test_nan_scores_are_excluded_and_counted() -> None:
    x = np.ones(3000)
    x[:7] = np.nan
    v = decide_mean(x, P)
    assert v.n == 2993 and v.detail["unscored"] == 7 and v.detail["recorded"] == 3000
    assert v.mean == 1.0 and v.outcome == "PASS"
    assert decide_mean(x, P, planned=3000).outcome == "PASS"  # unscored samples were recorded
    short = decide_mean(x[:2990], P, planned=3000)
    assert short.outcome == "FAIL"
    assert short.reason == "FAIL: integrity gate: 10 samples missing (2,990 of 3,000 recorded)"


def test_empty_and_all_unscored_input_is_inconclusive() -> None:
    for scores in (np.array([]), np.full(5, np.nan)):
        for sequential in (False, True):
            v = decide_mean(scores, P, quantity="recall@10", sequential=sequential)
            assert v.outcome == "INCONCLUSIVE" and v.n == 0 and v.needed is None
            assert v.reason.startswith("INCONCLUSIVE: no scored samples")
            assert math.isnan(v.mean) and (v.lower, v.upper) == (0.0, 1.0)
            d = v.to_dict()
            assert d["mean"] is None
            json.dumps(d, allow_nan=False)


def test_to_dict_is_json_safe_and_records_params_and_methods() -> None:
    v = decide_mean(recall_like(np.random.default_rng(19), 500, 0.99), P, quantity="recall@10", sequential=True)
    d = json.loads(json.dumps(v.to_dict(), allow_nan=False))
    assert d["params"]["alpha_mean"] == d["params"]["alpha_floor"] == 0.025
    assert "Waudby-Smith" in d["methods"]["mean"] and "bonferroni" in d["methods"]["alpha_split"]
    assert d["detail"]["sequential"] is True and d["n"] == 500
    assert set(d) >= {"outcome", "reason", "n", "mean", "lower", "upper", "below_floor", "floor_lower",
                      "floor_upper", "needed", "params", "methods", "detail"}


def test_sequential_all_below_floor_does_not_crash() -> None:
    v = decide_mean(np.full(50, 0.1), P, sequential=True)
    assert v.outcome == "FAIL" and v.floor_upper == 1.0 and v.floor_lower > P.p_max


def test_fmt_score_rounds_bounds_outward() -> None:
    assert fmt_score(0.99, rounding="down") == "0.9900"
    assert fmt_score(0.98999, rounding="down") == "0.9899"
    assert fmt_score(0.99001, rounding="up") == "0.9901"
    assert fmt_score(0.99996) == "0.99996"  # never 1.0000 for a value below 1
    assert fmt_score(math.nan) == "n/a"

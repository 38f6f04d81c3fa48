"""Simulation harness: the verdict designs keep their error bounds; thresholds match the live rules."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.stats import VerdictParams, sequential_decision
from farm.stats.simulate import SimRow, fixed_thresholds, render_markdown, sequential_thresholds, simulate

P = VerdictParams()


@pytest.fixture(scope="module")
def rows() -> list[SimRow]:
    return simulate(sweeps=3000, seed=11)


def test_false_pass_is_at_most_alpha_at_and_above_p_max(rows: list[SimRow]) -> None:
    checked = 0
    for r in rows:
        if r.true_rate >= P.p_max:
            checked += 1
            assert r.exact_pass <= P.alpha, r
            # Simulated rate: allow three Monte Carlo standard errors above alpha.
            assert r.false_pass is not None and r.false_pass <= P.alpha + 3 * (P.alpha * 0.95 / r.sweeps) ** 0.5, r
    assert checked == 9  # 3 designs x rates p_max, 2 p_max, 10 p_max


def test_power_and_samples_used(rows: list[SimRow]) -> None:
    by = {(r.design, r.multiple): r for r in rows}
    assert by[("fixed n=3,000", 0.0)].pass_rate == 1.0
    assert by[("fixed n=10,000", 10.0)].fail_rate == 1.0
    seq_clean = by[("sequential cap 20,000", 0.0)]
    assert seq_clean.pass_rate == 1.0 and seq_clean.mean_n == 3381
    seq_bad = by[("sequential cap 20,000", 10.0)]
    assert seq_bad.fail_rate == 1.0 and seq_bad.mean_n < 1000  # a 1% drift is caught in hundreds
    # Exact and simulated agree within Monte Carlo error.
    for r in rows:
        assert abs(r.pass_rate - r.exact_pass) < 0.04
        assert abs(r.mean_n - r.exact_mean_n) / r.exact_mean_n < 0.05


def test_fixed_thresholds_match_the_verdict_rule() -> None:
    assert fixed_thresholds(3000, 0.001, 0.05)[0] == 0  # only 0 of 3,000 passes
    assert fixed_thresholds(2994, 0.001, 0.05)[0] == -1  # nothing passes below the rule of three
    k_pass, k_fail = fixed_thresholds(10_000, 0.001, 0.05)
    assert 0 < k_pass < 10 < k_fail < 20


def test_sequential_thresholds_match_sequential_decision() -> None:
    a, b = sequential_thresholds(4000, 0.001, 0.05)
    for n in [1, 50, 400, 3380, 3381, 4000]:
        for x in range(0, min(n, 40) + 1):
            expected = "PASS" if x <= a[n - 1] else "FAIL" if x >= b[n - 1] else None
            assert sequential_decision(x, n, P) == expected, (n, x)


def test_markdown_and_cli() -> None:
    small = simulate(sweeps=50, seed=1, cap=5000)
    md = render_markdown(small, p_max=0.001, alpha=0.05)
    assert md.count("\n| ") == 1 + len(small)  # header + one line per row
    args = ["stats", "simulate", "--sweeps", "50", "--seed", "1", "--cap", "5000", "--markdown"]
    result = CliRunner().invoke(main_group, args)
    assert result.exit_code == 0, result.output
    assert result.output == md
    bad = CliRunner().invoke(main_group, ["stats", "simulate", "--sweeps", "0"])
    assert bad.exit_code == 2 and "--sweeps must be >= 1" in bad.output

"""Simulation harness of the bounded mean family: error bounds hold, power is high, rules match decide_mean."""

from __future__ import annotations

import numpy as np
import pytest

from farm.stats.bounded import MeanParams, decide_mean
from farm.stats.simulate_bounded import (
    FAIL_CODE,
    PASS_CODE,
    BoundedSimRow,
    default_scenarios,
    render_markdown_bounded,
    simulate_bounded,
    simulate_outcomes,
)

P = MeanParams()
SWEEPS = 300
CODES = {"PASS": PASS_CODE, "FAIL": FAIL_CODE, "INCONCLUSIVE": 0}


@pytest.fixture(scope="module")
def rows() -> list[BoundedSimRow]:
    return simulate_bounded(sweeps=SWEEPS, seed=5, fixed_ns=(3000,), cap=6000)


def test_false_pass_is_at_most_alpha_at_the_boundary(rows: list[BoundedSimRow]) -> None:
    tolerance = 3 * (P.alpha * (1 - P.alpha) / SWEEPS) ** 0.5  # three Monte Carlo standard errors
    checked = 0
    for r in rows:
        if r.false_pass is not None:
            checked += 1
            assert r.false_pass <= P.alpha + tolerance, r
        if r.false_fail is not None:
            assert r.false_fail <= P.alpha + tolerance, r
    # 2 designs x (3 boundary scenarios + just below + catastrophic zeros)
    assert checked == 10


def test_power_when_clearly_above_and_below(rows: list[BoundedSimRow]) -> None:
    by = {(r.design, r.scenario): r for r in rows}
    for design in ("fixed n=3,000", "sequential cap 6,000"):
        above = by[(design, "recall@10 {0.9, 1}, mean 0.998")]
        assert above.power is not None and above.power >= 0.95, above
        below = by[(design, "recall@10 {0.9, 1}, mean 0.985")]
        assert below.power is not None and below.power >= 0.95, below
        zeros = next(r for r in rows if r.design == design and "zeros" in r.scenario)
        assert zeros.fail_rate >= 0.95 and zeros.floor_fail_rate >= 0.9, zeros  # the floor test catches it
    seq = by[("sequential cap 6,000", "recall@10 {0.9, 1}, mean 0.998")]
    assert seq.mean_n < 3000  # a clearly good candidate stops early


def test_simulated_outcomes_match_decide_mean() -> None:
    rng = np.random.default_rng(3)
    for sc in default_scenarios(P):
        params = P if sc.r_min is None else MeanParams(r_min=sc.r_min)
        x = sc.draw(rng, (4, 1500))
        for sequential in (False, True):
            codes, used, _ = simulate_outcomes(x, params, sequential=sequential)
            for row, code, n in zip(x, codes, used, strict=True):
                v = decide_mean(row[:n], params, sequential=sequential)
                assert CODES[v.outcome] == code, (sc.name, sequential, v.reason)
                if sequential and code != 0 and n > 1:  # the first decision, not a later one
                    assert decide_mean(row[: n - 1], params, sequential=True).outcome == "INCONCLUSIVE"


def test_seeded_and_markdown() -> None:
    a = simulate_bounded(sweeps=20, seed=1, fixed_ns=(500,), cap=1000)
    b = simulate_bounded(sweeps=20, seed=1, fixed_ns=(500,), cap=1000)
    assert a == b
    md = render_markdown_bounded(a, P)
    assert md.count("\n| ") == 1 + len(a)  # header + one line per row
    assert "sequential cap 1,000" in md
    with pytest.raises(ValueError, match="sweeps"):
        simulate_bounded(sweeps=0)

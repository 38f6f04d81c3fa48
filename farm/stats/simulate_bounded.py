"""Simulation harness for the bounded mean family: how often `decide_mean` PASSes, FAILs or stays
INCONCLUSIVE on score populations whose true mean and floor-violation rate are known.

No HTTP: a sweep is a row of i.i.d. scores drawn from a scenario's population. The decision rules are
exactly the verdict's (farm.stats.bounded): the mean test is the betting capital at r_min (one-sided
bounds with bets tuned to n for fixed n; the hedged, running-intersection confidence sequence for the
sequential design), the floor test the Clopper-Pearson / beta-binomial thresholds of farm.stats.simulate at
alpha / 2. The capital at r_min decides the mean test (the confidence set is an interval, so "lower bound
>= r_min" is "r_min rejected from below"), so a simulated sweep needs one column, not the whole bound,
and runs vectorised over sweeps and samples. A test checks the outcomes against `decide_mean`.

Entry points: `simulate_bounded(...)` -> rows, `render_markdown_bounded(rows, params)` -> the table
pasted in docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import betainc

from farm.stats._format import fmt_int, fmt_pct
from farm.stats.bounded import TRUNCATION, MeanParams, plug_in_bets, side_level
from farm.stats.simulate import fixed_thresholds, sequential_thresholds

DEFAULT_FIXED_NS = (1000, 3000)
DEFAULT_CAP = 10_000
REGENERATE = "farm stats simulate --family bounded --sweeps 1000 --seed 0 --markdown"
PASS_CODE, FAIL_CODE, INCONCLUSIVE_CODE = 1, -1, 0

Draw = Callable[[np.random.Generator, tuple[int, int]], NDArray[np.float64]]


@dataclass(frozen=True)
class Scenario:
    name: str
    true_mean: float
    floor_rate: float  # P(score < floor) of the population
    draw: Draw
    r_min: float | None = None  # a scenario may judge against its own r_min (see default_scenarios)


@dataclass(frozen=True)
class BoundedSimRow:
    design: str
    scenario: str
    true_mean: float
    r_min: float
    floor_rate: float
    p_max: float
    sweeps: int
    pass_rate: float
    fail_rate: float
    inconclusive_rate: float
    false_pass: float | None  # PASS rate when the truth is mean <= r_min or floor rate >= p_max
    false_fail: float | None  # FAIL rate when the truth is mean >= r_min and floor rate <= p_max
    power: float | None  # the right decision's rate off the boundary
    floor_fail_rate: float  # sweeps whose FAIL the floor test triggered
    mean_n: float
    max_n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _two_point(low: float, p_low: float) -> Draw:
    """Scores 1.0, or `low` with probability p_low (recall@10-like when low is a multiple of 0.1)."""
    def draw(rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.float64]:
        return np.where(rng.random(shape) < p_low, low, 1.0)
    return draw


def _beta(a: float, b: float) -> Draw:
    def draw(rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.float64]:
        return rng.beta(a, b, size=shape)
    return draw


def default_scenarios(params: MeanParams) -> list[Scenario]:
    """Boundary (true mean exactly r_min, three shapes), just below, clearly above, a Beta population, and
    a mostly-1.0 population with catastrophic zeros at twice p_max (judged against a lower r_min, so its
    mean alone would PASS and only the floor test stands in the way)."""
    r, fl = params.r_min, params.floor
    if not 0.9 < r < 0.9975 or fl > 0.9:
        raise ValueError("the default scenarios need 0.9 < r_min < 0.9975 and floor <= 0.9")

    def recall(mean: float) -> Scenario:
        p_low = (1.0 - mean) / 0.1
        return Scenario(f"recall@10 {{0.9, 1}}, mean {mean:g}", mean, 0.0, _two_point(0.9, p_low))

    def beta(mean: float, k: float) -> Scenario:
        a, b = mean * k, (1.0 - mean) * k
        return Scenario(f"Beta({a:g}, {b:g})", mean, float(betainc(a, b, fl)), _beta(a, b))

    zeros = 2.0 * params.p_max
    zero_r = min(r, 1.0 - 2.0 * zeros)
    return [
        Scenario(f"at r_min: recall@10 {{0.9, 1}}, mean {r:g}", r, 0.0, _two_point(0.9, (1.0 - r) / 0.1)),
        Scenario(f"at r_min: Beta({r * 50:g}, {(1 - r) * 50:g})", r, float(betainc(r * 50, (1 - r) * 50, fl)),
                 _beta(r * 50, (1 - r) * 50)),
        Scenario(f"at r_min: {{0, 1}} scores, mean {r:g}", r, 1.0 - r, _two_point(0.0, 1.0 - r)),
        recall(r - 0.005),
        recall(r + 0.008),
        beta((1.0 + r) / 2.0, 100.0),
        Scenario(f"1.0 with {fmt_pct(zeros)} zeros (r_min {zero_r:g})", 1.0 - zeros, zeros,
                 _two_point(0.0, zeros), r_min=zero_r),
    ]


def simulate_outcomes(x: NDArray[np.float64], params: MeanParams, *,
                      sequential: bool) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Outcome codes (1 PASS, -1 FAIL, 0 INCONCLUSIVE), samples used, and whether the floor test triggered
    the FAIL, for each row of x (one sweep per row; the sequential design stops at its first decision)."""
    x = np.asarray(x, dtype=np.float64)
    sweeps, n = x.shape
    r = params.r_min
    level = side_level(params.alpha_mean, sequential)
    bets = plug_in_bets(x, level, fixed_n=None if sequential else n)
    up = np.log1p(np.minimum(bets, TRUNCATION / r) * (x - r))  # positive capital: mean above r_min
    down = np.log1p(np.minimum(bets, TRUNCATION / (1.0 - r)) * (r - x))
    below = x < params.floor
    if not sequential:
        k_pass, k_fail = fixed_thresholds(n, params.p_max, params.alpha_floor)
        count = below.sum(axis=1)
        mean_pass, mean_fail = up.sum(axis=1) >= level, down.sum(axis=1) >= level
        floor_pass, floor_fail = count <= k_pass, count >= k_fail
        fail = mean_fail | floor_fail
        code = np.where(fail, FAIL_CODE, np.where(mean_pass & floor_pass, PASS_CODE, INCONCLUSIVE_CODE))
        return code.astype(np.int64), np.full(sweeps, n, dtype=np.int64), floor_fail & ~mean_fail
    a_thr, b_thr = sequential_thresholds(n, params.p_max, params.alpha_floor)
    # Running intersection: once the capital has crossed, that side of the mean test stays decided.
    mean_pass = np.logical_or.accumulate(np.cumsum(up, axis=1) >= level, axis=1)
    mean_fail = np.logical_or.accumulate(np.cumsum(down, axis=1) >= level, axis=1)
    count = np.cumsum(below, axis=1)
    floor_fail = count >= b_thr[None, :]
    fail = mean_fail | floor_fail
    passed = mean_pass & (count <= a_thr[None, :]) & ~fail
    decided = fail | passed
    any_dec = decided.any(axis=1)
    stop = np.where(any_dec, decided.argmax(axis=1), n - 1)
    rows = np.arange(sweeps)
    code = np.where(fail[rows, stop], FAIL_CODE, np.where(passed[rows, stop], PASS_CODE, INCONCLUSIVE_CODE))
    by_floor = floor_fail[rows, stop] & ~mean_fail[rows, stop]
    return code.astype(np.int64), stop.astype(np.int64) + 1, by_floor


def _sign(d: float) -> int:
    return 0 if abs(d) < 1e-12 else (1 if d > 0 else -1)


def _row(design: str, sc: Scenario, params: MeanParams, code: NDArray[np.int64], used: NDArray[np.int64],
         by_floor: NDArray[np.bool_]) -> BoundedSimRow:
    sweeps = code.size
    pr, fr = float(np.mean(code == PASS_CODE)), float(np.mean(code == FAIL_CODE))
    r = sc.r_min if sc.r_min is not None else params.r_min
    # Signs of (truth - threshold), with float residue (1 - 0.99 = 0.010000000000000009) counted as 0.
    dm = _sign(sc.true_mean - r)
    df = _sign(params.p_max - sc.floor_rate)
    good_or_edge = dm >= 0 and df >= 0
    bad_or_edge = dm <= 0 or df <= 0
    power: float | None = None
    if dm > 0 and df > 0:
        power = pr
    elif dm < 0 or df < 0:
        power = fr
    return BoundedSimRow(
        design=design, scenario=sc.name, true_mean=sc.true_mean, r_min=r, floor_rate=sc.floor_rate,
        p_max=params.p_max, sweeps=sweeps, pass_rate=pr, fail_rate=fr, inconclusive_rate=1.0 - pr - fr,
        false_pass=pr if bad_or_edge else None, false_fail=fr if good_or_edge else None, power=power,
        floor_fail_rate=float(np.mean(by_floor)), mean_n=float(used.mean()), max_n=int(used.max()),
    )


def simulate_bounded(
    *,
    sweeps: int = 1000,
    seed: int = 0,
    params: MeanParams | None = None,
    fixed_ns: tuple[int, ...] = DEFAULT_FIXED_NS,
    cap: int = DEFAULT_CAP,
    scenarios: list[Scenario] | None = None,
    chunk_cells: int = 1_000_000,
) -> list[BoundedSimRow]:
    """One row per (design, scenario): fixed n for each of `fixed_ns`, then the sequential design capped at
    `cap`. Seeded: the same arguments give the same table. `chunk_cells` bounds the sweeps x samples block
    held in memory at once (about 8 bytes x a few temporaries per cell)."""
    if sweeps < 1:
        raise ValueError("sweeps must be >= 1")
    if cap < 1 or any(n < 1 for n in fixed_ns):
        raise ValueError("sample sizes must be >= 1")
    params = params or MeanParams()
    scenarios = scenarios if scenarios is not None else default_scenarios(params)
    rng = np.random.default_rng(seed)
    designs = [(f"fixed n={fmt_int(n)}", n, False) for n in fixed_ns] + [(f"sequential cap {fmt_int(cap)}", cap, True)]
    rows: list[BoundedSimRow] = []
    for design, n, sequential in designs:
        for sc in scenarios:
            p = params if sc.r_min is None else MeanParams(r_min=sc.r_min, alpha=params.alpha,
                                                           floor=params.floor, p_max=params.p_max)
            per_chunk = max(1, chunk_cells // n)
            parts = []
            for start in range(0, sweeps, per_chunk):
                x = sc.draw(rng, (min(per_chunk, sweeps - start), n))
                parts.append(simulate_outcomes(x, p, sequential=sequential))
            code, used, by_floor = (np.concatenate([part[i] for part in parts]) for i in range(3))
            rows.append(_row(design, sc, params, code, used, by_floor))
    return rows


def _cell(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def render_markdown_bounded(rows: list[BoundedSimRow], params: MeanParams) -> str:
    """The table as GitHub Markdown, with a header line naming the parameters."""
    sweeps = rows[0].sweeps if rows else 0
    head = (
        f"r_min = {params.r_min:g}, floor = {params.floor:g}, p_max = {fmt_pct(params.p_max)}, "
        f"alpha = {params.alpha:g} (alpha/2 per test), {fmt_int(sweeps)} sweeps per row. false PASS = PASS rate "
        "when the true mean <= r_min or the true rate below the floor >= p_max (must be <= alpha); false FAIL = "
        "FAIL rate when both are on the good side or at the boundary; power = PASS rate when the truth is good, "
        "FAIL rate when it is bad; FAIL by floor = sweeps the floor test failed while the mean test did not. "
        "Simulated rates carry Monte Carlo error (standard error about "
        f"{math.sqrt(params.alpha * (1 - params.alpha) / max(1, sweeps)):.3f} near alpha)."
    )
    lines = [
        head,
        "",
        "| design | scenario | true mean | r_min | rate below floor | PASS | FAIL | INCONCLUSIVE | false PASS "
        "| false FAIL | power | FAIL by floor | mean n | max n |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.design} | {r.scenario} | {r.true_mean:.4g} | {r.r_min:g} | {fmt_pct(r.floor_rate)} "
            f"| {r.pass_rate:.3f} | {r.fail_rate:.3f} | {r.inconclusive_rate:.3f} | {_cell(r.false_pass)} "
            f"| {_cell(r.false_fail)} | {_cell(r.power)} | {r.floor_fail_rate:.3f} | {fmt_int(round(r.mean_n))} "
            f"| {fmt_int(r.max_n)} |"
        )
    return "\n".join(lines) + "\n"

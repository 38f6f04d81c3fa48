"""The bounded mean verdict family: per-sample scores in [0, 1] (recall@k, rank-biased overlap, Jaccard,
a similarity) judged on their mean, plus a per-sample floor tested as a binomial rate.

Pure functions of numpy arrays; see docs/statistics.md, "Bounded mean family", for the model.

Mean. Betting confidence bounds of Waudby-Smith & Ramdas, "Estimating means of bounded random variables
by betting", J. R. Stat. Soc. B 86(1), 2024 (WSR). For a candidate mean m the capital processes

    K+_t(m) = prod_{i <= t} (1 + l+_i(m) (X_i - m)),   K-_t(m) = prod_{i <= t} (1 - l-_i(m) (X_i - m))

are nonnegative martingales with mean 1 when E[X_i | past] = m, for any predictable bets
l+_i(m) = min(l_i, c / m), l-_i(m) = min(l_i, c / (1 - m)) with c = 1/2 (WSR's truncation), so by
Ville's inequality P(exists t: K_t(m) >= 1/a) <= a. No normality is needed, only 0 <= X <= 1.

* Bets: WSR's predictable plug-in (their eq. 26-27), l_i = sqrt(2 L / (s2_{i-1} * h_i)) with the
  regularised running variance s2_t = (1/4 + sum_{i<=t} (X_i - mu_i)^2) / (t + 1),
  mu_t = (1/2 + sum_{i<=t} X_i) / (t + 1), L = log(1 / error per side), and h_i = n (fixed-n interval,
  WSR sec. 5) or h_i = i log(1 + i) (confidence sequence, WSR Theorem 3).
* Every factor 1 + l+_i(m) (X_i - m) is non-increasing in m (both branches of the min are), so K+_t(m) is
  non-increasing and K-_t(m) non-decreasing: the rejected sets are a down-set and an up-set, the
  confidence set is an interval, and its ends can be found by a vectorised k-ary search (a grid of
  candidate means per round, numpy over the grid and the samples) instead of WSR's fixed 1,000-point
  grid. The reported ends are points known to be rejected, so rounding is always outward (valid).
* Fixed n: lower = one-sided (1 - a) bound from K+ with bets tuned to n, upper likewise from K-.
* Sequential: the hedged capital max(theta K+, (1 - theta) K-) with theta = 1/2 (WSR Theorem 3),
  two-sided with total error a, and the running intersection over time (a running max of the capital),
  valid at any stopping time.

Floor. Samples with score < floor are counted; their rate is tested against p_max with the exact
one-sided Clopper-Pearson bounds (fixed n) or the beta-binomial mixture confidence sequence (sequential)
of farm.stats.intervals / farm.stats.sequential.

Alpha split (Bonferroni): the mean test and the floor test get alpha / 2 each, so the four reported bounds
hold together with probability >= 1 - alpha and a false FAIL (either test wrongly failing a good
candidate) has probability <= alpha. (False PASS alone would need no split: PASS needs both tests.)

Written here rather than taken from the `confseq` package: its grid method loops in Python over 1,000
candidate means per call and pulls in matplotlib; the monotone k-ary search needs a few dozen columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.stats._format import fmt_conf, fmt_int, fmt_pct, fmt_score
from farm.stats.finite import CENSUS_METHOD, HYPERGEOMETRIC_METHOD, SEQUENCE_METHOD, exact, rate_bounds
from farm.stats.intervals import cp_lower, cp_upper, first_total, samples_needed
from farm.stats.sequential import METHOD_NAME as FLOOR_SEQUENTIAL_METHOD
from farm.stats.sequential import confidence_sequence, log_martingale, sequential_samples_needed
from farm.stats.verdict import plain

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"

Z_POWER = 0.8416  # the standard normal's 0.8 quantile: "needed" is the size that decides with 80% probability
TRUNCATION = 0.5  # WSR's c: a bet never risks more than half the capital, so one 0 score cannot ruin it
THETA = 0.5  # hedge weight of the positive capital process (WSR Theorem 3)
SCORE_TOLERANCE = 1e-9  # a similarity of 1 + 1e-12 is rounding, not a bad score
_SEARCH_POINTS = 3  # candidates per end per round: a pass costs about its column count, so few is cheapest
_SEARCH_TOL = 1e-6
_CHUNK_ROWS = 1 << 15  # samples per block, so n x grid temporaries stay a few MB

MEAN_FIXED_METHOD = ("betting confidence interval: hedged capital, predictable plug-in bets tuned to n, "
                     "one-sided bounds (Waudby-Smith & Ramdas 2024, JRSS-B, sec. 5)")
WOR_NOTE = "; without replacement from the corpus (Waudby-Smith & Ramdas, NeurIPS 2020)"
MEAN_SEQUENTIAL_METHOD = ("betting confidence sequence: hedged capital, predictable plug-in bets, running "
                          "intersection (Waudby-Smith & Ramdas 2024, JRSS-B, Theorem 3)")


@dataclass(frozen=True)
class MeanParams:
    """r_min: smallest acceptable mean score; alpha: total error of the verdict (split alpha/2 + alpha/2
    between the mean and the floor test); floor: a sample scoring below it is catastrophic; p_max: largest
    tolerated rate of catastrophic samples."""

    r_min: float = 0.99
    alpha: float = 0.05
    floor: float = 0.5
    p_max: float = 0.01
    population: int | None = None  # a finite corpus of this many inputs (farm.stats.finite); None: a stream

    def __post_init__(self) -> None:
        # r_min = 1 could never PASS (no finite sample proves a mean of exactly 1); 0 could never FAIL.
        if not 0.0 < self.r_min < 1.0:
            raise ValueError(f"r_min must be in (0, 1), got {self.r_min}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0.0 <= self.floor <= self.r_min:
            raise ValueError(f"need 0 <= floor <= r_min, got floor={self.floor}, r_min={self.r_min}")
        if not 0.0 < self.p_max < 1.0:
            raise ValueError(f"p_max must be in (0, 1), got {self.p_max}")

    @property
    def alpha_mean(self) -> float:
        return self.alpha / 2.0

    @property
    def alpha_floor(self) -> float:
        return self.alpha / 2.0


@dataclass(frozen=True)
class MeanVerdict:
    outcome: str
    reason: str
    n: int
    mean: float
    lower: float
    upper: float
    below_floor: int
    floor_lower: float
    floor_upper: float
    needed: int | None
    params: dict[str, float]
    methods: dict[str, str]
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "n": self.n,
            "mean": plain(self.mean),
            "lower": self.lower,
            "upper": self.upper,
            "below_floor": self.below_floor,
            "floor_lower": self.floor_lower,
            "floor_upper": self.floor_upper,
            "needed": self.needed,
            "params": dict(self.params),
            "methods": dict(self.methods),
            "detail": plain(self.detail),
        }


# --- the betting machinery (shared with farm.stats.simulate_bounded) ---------------------------------------


def side_level(alpha_mean: float, sequential: bool) -> float:
    """log(1 / error per side): fixed n puts alpha_mean in each one-sided bound; the sequential hedged
    capital is two-sided with total alpha_mean, i.e. alpha_mean / 2 per side (threshold 1/(theta a))."""
    return math.log(1.0 / (alpha_mean * THETA)) if sequential else math.log(1.0 / alpha_mean)


def plug_in_bets(x: NDArray[np.float64], level: float, *, fixed_n: int | None) -> NDArray[np.float64]:
    """WSR's predictable plug-in bets l_t (before the per-m truncation), along the last axis of x.

    Predictable: l_t uses only X_1..X_{t-1} (through s2_{t-1}), which is what makes K_t a martingale."""
    x = np.asarray(x, dtype=np.float64)
    t = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    mu = (0.5 + np.cumsum(x, axis=-1)) / (t + 1.0)
    s2 = (0.25 + np.cumsum((x - mu) ** 2, axis=-1)) / (t + 1.0)
    s2_prev = np.concatenate([np.full((*x.shape[:-1], 1), 0.25), s2[..., :-1]], axis=-1)
    horizon = float(fixed_n) if fixed_n is not None else t * np.log1p(t)
    return np.asarray(np.sqrt(2.0 * level / (s2_prev * horizon)), dtype=np.float64)


def log_capital(x: NDArray[np.float64], bets: NDArray[np.float64], m: NDArray[np.float64],
                positive: NDArray[np.bool_], *, running: bool, population: int | None = None) -> NDArray[np.float64]:
    """Per column j: log K+_n(m_j) where positive[j], else log K-_n(m_j); with `running`, the maximum over
    t <= n of log K_t (what the running intersection of the confidence sequence needs).

    With a finite `population` N (sampling without replacement, Waudby-Smith & Ramdas, NeurIPS 2020) the
    t-th draw is bet against the mean of what is left if the population mean is m:
    (N m - S_{t-1}) / (N - t + 1); a mean the draws so far already rule out (the rest would need a mean
    outside [0, 1]) is rejected outright. x and bets are 1-D over samples; the work is vectorised over
    (block of samples) x (columns)."""
    m = np.asarray(m, dtype=np.float64)
    sign = np.where(positive, 1.0, -1.0)
    prefix = np.concatenate([[0.0], np.cumsum(x)[:-1]]) if population is not None else None
    total = np.zeros(m.shape)
    best = np.zeros(m.shape)  # K_0 = 1, log 0; a max below 0 never crosses a positive threshold anyway
    for start in range(0, x.size, _CHUNK_ROWS):
        xs = x[start:start + _CHUNK_ROWS, None]
        if prefix is None or population is None:
            mm = np.broadcast_to(m[None, :], (xs.shape[0], m.size))
            impossible = None
        else:
            left = float(population) - np.arange(start, start + xs.shape[0], dtype=np.float64)
            mm = (population * m[None, :] - prefix[start:start + xs.shape[0], None]) / left[:, None]
            impossible = np.where(positive[None, :], mm < 0.0, mm > 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            cap = TRUNCATION / np.where(positive[None, :], mm, 1.0 - mm)  # m = 0 (or 1) needs no truncation
            gain = np.minimum(bets[start:start + _CHUNK_ROWS, None], np.where(cap > 0, cap, np.inf))
            gain *= (xs - mm) * sign[None, :]
            np.log1p(gain, out=gain)
        if impossible is not None:
            gain[impossible] = np.inf
        if running:
            np.cumsum(gain, axis=0, out=gain)
            gain += total
            best = np.maximum(best, gain.max(axis=0))
            total = gain[-1].copy()
        else:
            total = total + gain.sum(axis=0)
    return best if running else total


def _search(x: NDArray[np.float64], bets: NDArray[np.float64], threshold: float, anchor: float, *,
            running: bool, population: int | None = None) -> tuple[float, float, bool, bool]:
    """Both ends of the confidence set, rounded outward, and whether `anchor` (r_min) is rejected by the
    positive (mean above it) or the negative (mean below it) capital.

    Rejected means form a down-set [0, l*) for K+ and an up-set (u*, 1] for K-, so each end keeps a
    bracket (a rejected point or the edge, an accepted point) and shrinks it with a few candidates per
    round; both ends share one pass over the samples per round."""
    both = np.array([True, False])
    at_anchor = log_capital(x, bets, np.array([anchor, anchor]), both, running=running,
                            population=population) >= threshold
    pass_side, fail_side = bool(at_anchor[0]), bool(at_anchor[1])
    # 1 is never rejected by K+ (K+(1) <= 1) and 0 never by K-, so the edges are safe bracket ends.
    lo_rej, lo_acc = (anchor, 1.0) if pass_side else (0.0, anchor)
    hi_rej, hi_acc = (anchor, 0.0) if fail_side else (1.0, anchor)
    k = _SEARCH_POINTS
    positive = np.repeat(both, k)
    while max(abs(lo_acc - lo_rej), abs(hi_acc - hi_rej)) > _SEARCH_TOL:
        lo_grid = np.linspace(lo_rej, lo_acc, k + 2)[1:-1]
        hi_grid = np.linspace(hi_rej, hi_acc, k + 2)[1:-1]
        hit = log_capital(x, bets, np.concatenate([lo_grid, hi_grid]), positive, running=running,
                          population=population) >= threshold
        new = []
        for grid, h, rej, acc in ((lo_grid, hit[:k], lo_rej, lo_acc), (hi_grid, hit[k:], hi_rej, hi_acc)):
            # Monotone in m: walking from rej to acc, the rejected candidates are a prefix of the grid.
            j = grid.size if h.all() else int(np.argmin(h))
            new.append((rej if j == 0 else float(grid[j - 1]), acc if j == grid.size else float(grid[j])))
        if new == [(lo_rej, lo_acc), (hi_rej, hi_acc)]:  # float resolution reached
            break
        (lo_rej, lo_acc), (hi_rej, hi_acc) = new
    return lo_rej, hi_rej, pass_side, fail_side


def mean_bounds(scores: NDArray[np.float64], alpha_mean: float, anchor: float, *,
                sequential: bool, population: int | None = None) -> tuple[float, float, bool, bool]:
    """(lower, upper, anchor rejected from below, anchor rejected from above) for scores in [0, 1].

    Fixed n: one-sided (1 - alpha_mean) bounds. Sequential: the always-valid two-sided (1 - alpha_mean)
    confidence sequence after these samples, running intersection included. "Rejected from below" is the
    PASS side of the mean test (lower >= anchor), "from above" the FAIL side (upper < anchor). With a finite
    `population` of which these are a random draw without replacement, the bounds are on its mean; once
    every member was drawn (a census) they are the mean itself."""
    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        return 0.0, 1.0, False, False
    if population is not None and x.size >= population:
        mean = float(x.mean())
        return mean, mean, mean >= anchor, mean < anchor
    level = side_level(alpha_mean, sequential)
    bets = plug_in_bets(x, level, fixed_n=None if sequential else x.size)
    return _search(x, bets, level, anchor, running=sequential, population=population)


# --- samples still needed ----------------------------------------------------------------------------------


def _projected_log_capital(values: NDArray[np.float64], weights: NDArray[np.float64], var: float, r: float,
                           total: int, level: float, sequential: bool) -> float:
    """The log capital against mean r after `total` samples drawn like the observed ones (their empirical
    distribution held fixed, the bets' running variance s2_t = (1/4 + t var) / (t + 1)) that is reached with
    probability about 0.8: its expectation less z_0.8 times its standard deviation (a sum of independent
    per-sample log growths): the projection behind `needed`, at 80% power. Bets vary with t, so t is summed in
    log-spaced blocks (in floats: block products of int64 overflow past 3e9 samples)."""
    edges = np.unique(np.floor(np.geomspace(1.0, total + 1.0, num=48)))
    lengths = np.diff(edges)
    mids = np.sqrt(edges[:-1] * np.maximum(edges[1:] - 1.0, 1.0))
    s2 = (0.25 + (mids - 1.0) * var) / mids  # s2_{t-1}
    horizon = mids * np.log1p(mids) if sequential else float(total)
    lam = np.minimum(np.sqrt(2.0 * level / (s2 * horizon)), TRUNCATION / r)
    growth = np.log1p(lam[:, None] * (values[None, :] - r))
    mean = growth @ weights
    spread = (growth - mean[:, None]) ** 2 @ weights
    return float(mean @ lengths - Z_POWER * math.sqrt(max(float(spread @ lengths), 0.0)))


def _mean_needed(x: NDArray[np.float64], params: MeanParams, sequential: bool, *, to_pass: bool) -> int | None:
    """Further samples until the mean test would decide (PASS side if to_pass, else FAIL side), if the
    observed distribution continues. None when the observed mean points the other way."""
    n = x.size
    mean = float(x.mean())
    if (to_pass and mean <= params.r_min) or (not to_pass and mean >= params.r_min):
        return None
    # The FAIL side is the PASS side of 1 - X against 1 - r_min. Compress to the distinct scores (exact for
    # recall@k-like data) so each projection is cheap.
    values, counts = np.unique(np.round(x if to_pass else 1.0 - x, 4), return_counts=True)
    weights = counts / n
    r = params.r_min if to_pass else 1.0 - params.r_min
    level = side_level(params.alpha_mean, sequential)
    var = float(x.var())
    extra = first_total(
        lambda total: _projected_log_capital(values, weights, var, r, total, level, sequential) >= level, n)
    return None if extra is None else max(1, extra)


def _floor_needed(below: int, n: int, params: MeanParams, sequential: bool, *, to_pass: bool) -> int | None:
    a = params.alpha_floor
    if to_pass:
        if sequential:
            return sequential_samples_needed(below, n, params.p_max, a)
        return samples_needed(below, n, params.p_max, a)
    rate = below / n if n else 0.0
    if rate <= params.p_max:
        return None
    if sequential:
        level = math.log(1.0 / a)
        return first_total(lambda t: log_martingale(rate * t, t, params.p_max, p_ref=params.p_max) >= level, n)
    return first_total(lambda t: cp_lower(rate * t, t, a) > params.p_max, n)


def _floor_sequence(x: int, n: int, alpha: float, p_ref: float) -> tuple[float, float]:
    """confidence_sequence(x, n, alpha, p_ref=p_ref), plus the case x = n (every sample below the floor),
    which farm.stats.sequential's root bracket does not cover (log(1 - x/n) at x/n = 1)."""
    if n == 0 or x < n:
        return confidence_sequence(x, n, alpha, p_ref=p_ref)
    from scipy.optimize import brentq  # lazily, as in farm.stats.sequential

    level = math.log(1.0 / alpha)

    def g(p: float) -> float:
        return log_martingale(x, n, p, p_ref=p_ref) - level

    tiny, top = 1e-300, 1.0 - 1e-16
    if g(tiny) <= 0:
        return (0.0, 1.0)
    return (float(brentq(g, tiny, top, xtol=1e-300, rtol=1e-12)) if g(top) < 0 else top, 1.0)


# --- the verdict -------------------------------------------------------------------------------------------


def _clean_scores(scores: NDArray[np.float64]) -> tuple[NDArray[np.float64], int]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    nan = np.isnan(s)
    x = s[~nan]
    bad = ~np.isfinite(x) | (x < -SCORE_TOLERANCE) | (x > 1.0 + SCORE_TOLERANCE)
    if bad.any():
        raise ValueError(f"scores must lie in [0, 1] (NaN for unscored); {int(bad.sum())} do not, "
                         f"e.g. {float(x[bad][0])!r}")
    return np.clip(x, 0.0, 1.0), int(nan.sum())


def _samples(k: int) -> str:
    return f"{fmt_int(k)} sample" + ("" if k == 1 else "s")


def decide_mean(
    scores: NDArray[np.float64],
    params: MeanParams,
    *,
    quantity: str = "score",
    sequential: bool = False,
    planned: int | None = None,
) -> MeanVerdict:
    """PASS / FAIL / INCONCLUSIVE for a sweep of per-sample scores in [0, 1] (NaN = could not be scored).

    PASS when the mean's lower bound >= r_min and the floor-violation rate's upper bound <= p_max; FAIL
    when the mean's upper bound < r_min or the floor rate's lower bound > p_max; else INCONCLUSIVE with
    `needed`. `quantity` names the score in the reason ("recall@10"). Fixed n (default): `planned`, when
    given, is the number of samples the sweep planned, and a shortfall fails the integrity gate.
    Sequential: call after every batch and stop at the first PASS or FAIL; `planned` is the sweep's cap."""
    x, unscored = _clean_scores(scores)
    n = int(x.size)
    conf = fmt_conf(params.alpha)
    below = int(np.count_nonzero(x < params.floor))
    rate = below / n if n else 0.0
    mean = float(x.mean()) if n else math.nan

    # --- mean ---------------------------------------------------------------------------------------------
    finite = exact(params.population)
    # The scored draws stand for the population less the inputs that could not be scored (legacy failed): the
    # legacy-errors rule (farm.stats.mean_family) checks a PASS again with those scored 0, over all N.
    population = max(n, (params.population or 0) - unscored) if finite else None
    is_census = population is not None and n >= population
    lower, upper, mean_pass, mean_fail = mean_bounds(x, params.alpha_mean, params.r_min, sequential=sequential,
                                                     population=population)

    how = ", census" if is_census else ", always-valid" if sequential else ""
    over = " (census)" if is_census else " (always-valid)" if sequential else ""
    if population is not None and not is_census:
        how += f", {fmt_int(n)} of a corpus of {fmt_int(population)}"

    # --- floor --------------------------------------------------------------------------------------------
    af = params.alpha_floor
    if population is not None:
        floor_lower, floor_upper = rate_bounds(below, n, af, params.p_max, population=population,
                                               sequential=sequential)
        floor_pass = n > 0 and floor_upper <= params.p_max
        floor_fail = floor_lower > params.p_max
    elif sequential:
        floor_lower, floor_upper = _floor_sequence(below, n, af, params.p_max)
        decided = n > 0 and log_martingale(below, n, params.p_max, p_ref=params.p_max) >= math.log(1.0 / af)
        floor_pass = decided and rate < params.p_max
        floor_fail = decided and rate > params.p_max
    else:
        floor_lower, floor_upper = cp_lower(below, n, af), cp_upper(below, n, af)
        floor_pass = n > 0 and floor_upper <= params.p_max
        floor_fail = floor_lower > params.p_max

    # --- integrity ----------------------------------------------------------------------------------------
    recorded = n + unscored
    missing = max(0, planned - recorded) if planned is not None and not sequential else 0

    # --- the sentence -------------------------------------------------------------------------------------
    q, r_txt, floor_txt = quantity, f"{params.r_min:g}", f"{params.floor:g}"
    lo_txt, hi_txt = fmt_score(lower, rounding="down"), fmt_score(upper, rounding="up")
    floor_count = f"{fmt_int(below)} below {floor_txt}"
    needed: int | None = None
    needed_for: str | None = None
    if missing:
        outcome = FAIL
        reason = (f"FAIL: integrity gate: {_samples(missing)} missing ({fmt_int(recorded)} of "
                  f"{fmt_int(planned or 0)} recorded)")
    elif n == 0:
        outcome = INCONCLUSIVE
        reason = (f"INCONCLUSIVE: no scored samples ({fmt_int(unscored)} unscored); "
                  f"mean {q} cannot be judged against {r_txt}")
    elif mean_fail:
        outcome = FAIL
        reason = (f"FAIL: mean {q} {fmt_score(mean)} [{lo_txt}, {hi_txt}] < {r_txt} over "
                  f"{_samples(n)}{over}; {floor_count}")
    elif floor_fail:
        outcome = FAIL
        reason = (f"FAIL: {fmt_int(below)} of {_samples(n)} below the floor {floor_txt} in {q}, rate >= "
                  f"{fmt_pct(floor_lower)} > {fmt_pct(params.p_max)}{over} (mean {fmt_score(mean)} "
                  f"[{lo_txt}, {hi_txt}])")
    elif mean_pass and floor_pass:
        outcome = PASS
        reason = (f"PASS: mean {q} {fmt_score(mean)} >= {r_txt} at {conf}{how} (lower bound {lo_txt}, "
                  f"{_samples(n)}; {floor_count})")
    else:
        outcome = INCONCLUSIVE
        if mean > params.r_min and rate < params.p_max:
            needed_for = PASS
            parts = [0 if mean_pass else _mean_needed(x, params, sequential, to_pass=True),
                     0 if floor_pass else _floor_needed(below, n, params, sequential, to_pass=True)]
            needed = None if None in parts else max(p for p in parts if p is not None)
        else:
            needed_for = FAIL
            opts = [v for v in (_mean_needed(x, params, sequential, to_pass=False),
                                _floor_needed(below, n, params, sequential, to_pass=False)) if v is not None]
            needed = min(opts) if opts else None
        if mean_pass:
            head = (f"INCONCLUSIVE: mean {q} {fmt_score(mean)} >= {r_txt} (lower bound {lo_txt}) but the rate "
                    f"below {floor_txt} may exceed {fmt_pct(params.p_max)} ({fmt_int(below)} of {fmt_int(n)}, "
                    f"upper bound {fmt_pct(floor_upper)})")
        else:
            head = (f"INCONCLUSIVE: mean {q} {fmt_score(mean)} [{lo_txt}, {hi_txt}] straddles {r_txt} "
                    f"over {_samples(n)}{over}; {floor_count}")
        if population is not None and (needed is None or needed > population - n):
            needed, needed_for = population - n, "census"
            reason = (f"{head}; the {fmt_int(needed)} inputs of the corpus not yet swept decide it (a census); "
                      "continue with `farm sweep resume SWEEP_ID --more N`")
        elif needed is None:
            reason = f"{head}; at the observed scores no sample size decides"
        else:
            reason = (f"{head}; about {fmt_int(needed)} more samples needed to {needed_for} at 80% power; "
                      "continue with `farm sweep resume SWEEP_ID --more N`")

    methods = {
        "mean": "census: the corpus's exact mean" if is_census else
        (MEAN_SEQUENTIAL_METHOD if sequential else MEAN_FIXED_METHOD) + (WOR_NOTE if population else ""),
        "floor": CENSUS_METHOD if is_census else
        (SEQUENCE_METHOD if sequential else HYPERGEOMETRIC_METHOD) if population else
        f"sequential: {FLOOR_SEQUENTIAL_METHOD}" if sequential else "fixed-n: one-sided exact Clopper-Pearson bounds",
        "population": f"corpus of {params.population} inputs" if params.population else "stream",
        "alpha_split": "bonferroni: alpha/2 mean test, alpha/2 floor test",
        "needed": "projection: observed score distribution and variance held fixed (mean); "
                  "observed floor rate held fixed (floor)",
    }
    detail: dict[str, Any] = {
        "recorded": recorded,
        "unscored": unscored,
        "planned": planned,
        "missing": missing,
        "sequential": sequential,
        "bounds": "always-valid two-sided (1 - alpha/2) confidence sequences, running intersection for the mean"
        if sequential else "one-sided (1 - alpha/2) bounds",
        "census": is_census,
        "population": params.population,
        "mean_decided": PASS if mean_pass else FAIL if mean_fail else None,
        "floor_decided": PASS if floor_pass else FAIL if floor_fail else None,
        "floor_rate": rate if n else None,
        "needed_for": needed_for,
        "scores": _summary(x),
    }
    if sequential and planned is not None:
        detail["at_cap"] = recorded >= planned
    if mean_pass and mean_fail:  # both ends crossed r_min: the data contradict any single mean
        detail["empty_confidence_set"] = True
    return MeanVerdict(
        outcome=outcome,
        reason=reason,
        n=n,
        mean=mean,
        lower=float(lower),
        upper=float(upper),
        below_floor=below,
        floor_lower=float(floor_lower),
        floor_upper=float(floor_upper),
        needed=needed,
        params={"r_min": params.r_min, "alpha": params.alpha, "floor": params.floor, "p_max": params.p_max,
                "alpha_mean": params.alpha_mean, "alpha_floor": params.alpha_floor, "truncation": TRUNCATION},
        methods=methods,
        detail=plain(detail),
    )


def _summary(x: NDArray[np.float64]) -> dict[str, Any]:
    if x.size == 0:
        return {"n": 0, "min": None}
    qs = np.quantile(x, [0.01, 0.05, 0.5])
    return {"n": int(x.size), "min": float(x.min()), "q0.01": float(qs[0]), "q0.05": float(qs[1]),
            "median": float(qs[2]), "mean": float(x.mean()), "sd": float(x.std())}

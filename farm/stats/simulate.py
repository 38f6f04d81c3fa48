"""Simulation harness: how often each verdict design PASSes, FAILs or stays INCONCLUSIVE at known rates.

No HTTP: a sweep is a stream of Bernoulli(true rate) disagreements. Fixed-n designs draw one binomial
count per sweep; the sequential design walks each stream sample by sample (cumulative sums, vectorised
over sweeps) and stops at the first n where the confidence sequence decides, or at the cap.

Decision rules are exactly the verdict's: fixed-n uses one-sided Clopper-Pearson bounds (PASS when
upper <= p_max, FAIL when lower > p_max); sequential uses `sequential_decision`. Both are turned into
per-n count thresholds once, so the simulation is a comparison of integer arrays.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaln
from scipy.stats import binom

from farm.stats._format import fmt_int, fmt_pct
from farm.stats.intervals import cp_lower, cp_upper
from farm.stats.sequential import POINT_MASS_AT_ZERO, PRIOR_SHAPE_A

DEFAULT_MULTIPLES = (0.0, 0.5, 1.0, 2.0, 10.0)
DEFAULT_FIXED_NS = (3000, 10_000)
DEFAULT_CAP = 20_000
REGENERATE = "farm stats simulate --sweeps 10000 --seed 0 --markdown"


@dataclass(frozen=True)
class SimRow:
    design: str
    multiple: float  # true rate / p_max
    true_rate: float
    sweeps: int
    pass_rate: float
    fail_rate: float
    inconclusive_rate: float
    false_pass: float | None  # PASS rate when the true rate >= p_max (PASS is wrong there)
    false_fail: float | None  # FAIL rate when the true rate <= p_max
    power: float | None  # right decision rate when the true rate is not p_max itself
    exact_pass: float  # exact P(PASS): binomial for fixed n, dynamic programming for sequential
    exact_fail: float
    mean_n: float
    exact_mean_n: float
    max_n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fixed_thresholds(n: int, p_max: float, alpha: float) -> tuple[int, int]:
    """(k_pass, k_fail): PASS iff x <= k_pass (k_pass = -1: never), FAIL iff x >= k_fail."""
    k_pass = -1
    while k_pass + 1 <= n and cp_upper(k_pass + 1, n, alpha) <= p_max:
        k_pass += 1
    lo, hi = 0, n + 1  # smallest x with cp_lower(x) > p_max; n + 1 means never
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cp_lower(mid, n, alpha) > p_max:
            hi = mid
        else:
            lo = mid
    k_fail = hi if hi <= n and cp_lower(hi, n, alpha) > p_max else n + 1
    if cp_lower(0, n, alpha) > p_max:  # cannot happen (lower bound at x=0 is 0); keeps the search honest
        k_fail = 0
    return k_pass, k_fail


def _log_evidence(x: NDArray[np.float64], n: NDArray[np.float64], p_max: float) -> NDArray[np.float64]:
    """Vectorised log M_n(p_max) with the decision prior of farm.stats.sequential (p_ref = p_max)."""
    w0, a, b = POINT_MASS_AT_ZERO, PRIOR_SHAPE_A, PRIOR_SHAPE_A / p_max
    cont = math.log1p(-w0) + betaln(a + x, b + n - x) - betaln(a, b)
    mix = np.where(x == 0, np.logaddexp(cont, math.log(w0)), cont)
    loglik = np.where(x > 0, x * math.log(p_max), 0.0) + (n - x) * math.log1p(-p_max)
    return np.asarray(mix - loglik, dtype=np.float64)


def sequential_thresholds(cap: int, p_max: float, alpha: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per n = 1..cap: PASS iff x <= a[n-1] (-1: never), FAIL iff x >= b[n-1] (n + 1: never).

    Same rule as `sequential_decision`: log M_n(p_max) >= log(1/alpha), direction from x/n vs p_max.
    The evidence against p_max grows as x moves away from n * p_max on either side, so each side is a
    threshold; it is found by bisection over x, vectorised over n."""
    level = math.log(1.0 / alpha)
    n = np.arange(1, cap + 1, dtype=np.float64)
    centre = n * p_max
    # PASS side: x in [0, ceil(centre) - 1] (x/n < p_max); largest x with enough evidence.
    top = np.ceil(centre) - 1.0
    ok0 = _log_evidence(np.zeros_like(n), n, p_max) >= level
    lo, hi = np.zeros_like(n), top + 1.0  # invariant: lo passes (where ok0), hi does not
    for _ in range(math.ceil(math.log2(cap * p_max + 2)) + 2):
        mid = np.floor((lo + hi) / 2.0)
        good = (mid <= top) & (_log_evidence(np.minimum(mid, n), n, p_max) >= level)
        move = hi - lo > 1
        lo = np.where(move & good, mid, lo)
        hi = np.where(move & ~good, mid, hi)
    a_thr = np.where(ok0 & (top >= 0), lo, -1.0).astype(np.int64)
    # FAIL side: x in [floor(centre) + 1, n] (x/n > p_max); smallest x with enough evidence.
    bottom = np.floor(centre) + 1.0
    okn = (bottom <= n) & (_log_evidence(n, n, p_max) >= level)
    lo2, hi2 = bottom - 1.0, n.copy()  # invariant: hi2 decides (where okn), lo2 does not
    for _ in range(math.ceil(math.log2(cap + 2)) + 2):
        mid = np.floor((lo2 + hi2) / 2.0)
        good = (mid >= bottom) & (_log_evidence(np.clip(mid, 0, n), n, p_max) >= level)
        move = hi2 - lo2 > 1
        hi2 = np.where(move & good, mid, hi2)
        lo2 = np.where(move & ~good, mid, lo2)
    b_thr = np.where(okn, hi2, n + 1.0).astype(np.int64)
    return a_thr, b_thr


def sequential_exact(
    rate: float, a_thr: NDArray[np.int64], b_thr: NDArray[np.int64]
) -> tuple[float, float, float]:
    """Exact (P(PASS), P(FAIL), E[samples used]) of the sequential design for a true rate, by dynamic
    programming over the disagreement count of the streams still running (no Monte Carlo error)."""
    cap = a_thr.size
    width = int(np.max(np.minimum(b_thr, np.arange(1, cap + 1) + 1))) + 2
    alive = np.zeros(width)
    alive[0] = 1.0
    xs = np.arange(width)
    p_pass = p_fail = 0.0
    expected_n = 0.0
    for i in range(cap):
        expected_n += float(alive.sum())  # P(N > i): still running before sample i + 1
        nxt = alive * (1.0 - rate)
        nxt[1:] += alive[:-1] * rate
        pass_mask = xs <= a_thr[i]
        fail_mask = xs >= b_thr[i]
        p_pass += float(nxt[pass_mask].sum())
        p_fail += float(nxt[fail_mask].sum())
        nxt[pass_mask | fail_mask] = 0.0
        alive = nxt
    return p_pass, p_fail, expected_n


def _row(design: str, multiple: float, rate: float, p_max: float, passes: int, fails: int, sweeps: int,
         mean_n: float, max_n: int, exact: tuple[float, float, float]) -> SimRow:
    pr, fr = passes / sweeps, fails / sweeps
    at_or_above, at_or_below = rate >= p_max, rate <= p_max
    power: float | None = None
    if rate < p_max:
        power = pr
    elif rate > p_max:
        power = fr
    return SimRow(
        design=design, multiple=multiple, true_rate=rate, sweeps=sweeps, pass_rate=pr, fail_rate=fr,
        inconclusive_rate=1.0 - pr - fr, false_pass=pr if at_or_above else None,
        false_fail=fr if at_or_below else None, power=power, exact_pass=exact[0], exact_fail=exact[1],
        mean_n=mean_n, exact_mean_n=exact[2], max_n=max_n,
    )


def simulate(
    *,
    sweeps: int = 1000,
    seed: int = 0,
    p_max: float = 0.001,
    alpha: float = 0.05,
    multiples: tuple[float, ...] = DEFAULT_MULTIPLES,
    fixed_ns: tuple[int, ...] = DEFAULT_FIXED_NS,
    cap: int = DEFAULT_CAP,
    chunk_cells: int = 4_000_000,
) -> list[SimRow]:
    """One row per (design, true rate). Seeded: the same arguments give the same table."""
    if sweeps < 1:
        raise ValueError("sweeps must be >= 1")
    rng = np.random.default_rng(seed)
    rows: list[SimRow] = []
    for n in fixed_ns:
        k_pass, k_fail = fixed_thresholds(n, p_max, alpha)
        for mult in multiples:
            rate = mult * p_max
            x = rng.binomial(n, rate, size=sweeps)
            exact = (
                float(binom.cdf(k_pass, n, rate)) if k_pass >= 0 else 0.0,
                float(binom.sf(k_fail - 1, n, rate)) if k_fail <= n else 0.0,
                float(n),
            )
            rows.append(_row(f"fixed n={fmt_int(n)}", mult, rate, p_max, int(np.sum(x <= k_pass)),
                             int(np.sum(x >= k_fail)), sweeps, float(n), n, exact))
    a_thr, b_thr = sequential_thresholds(cap, p_max, alpha)
    per_chunk = max(1, chunk_cells // cap)
    for mult in multiples:
        rate = mult * p_max
        passes = fails = 0
        used: list[NDArray[np.int64]] = []
        for start in range(0, sweeps, per_chunk):
            m = min(per_chunk, sweeps - start)
            path = np.cumsum(rng.random((m, cap), dtype=np.float32) < rate, axis=1, dtype=np.int32)
            is_pass = path <= a_thr[None, :]
            is_fail = path >= b_thr[None, :]
            decided = is_pass | is_fail
            any_dec = decided.any(axis=1)
            stop = np.where(any_dec, decided.argmax(axis=1), cap - 1)
            rows_idx = np.arange(m)
            passes += int(np.sum(any_dec & is_pass[rows_idx, stop]))
            fails += int(np.sum(any_dec & is_fail[rows_idx, stop]))
            used.append(stop.astype(np.int64) + 1)
        n_used = np.concatenate(used)
        rows.append(_row(f"sequential cap {fmt_int(cap)}", mult, rate, p_max, passes, fails, sweeps,
                         float(n_used.mean()), int(n_used.max()), sequential_exact(rate, a_thr, b_thr)))
    return rows


def _cell(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def render_markdown(rows: list[SimRow], *, p_max: float, alpha: float) -> str:
    """The table as GitHub Markdown, with a header line naming the parameters."""
    head = (
        f"p_max = {fmt_pct(p_max)}, alpha = {alpha:g}, {fmt_int(rows[0].sweeps) if rows else 0} sweeps per row. "
        "false PASS = PASS rate when the true rate >= p_max (must be <= alpha); power = PASS rate below p_max, "
        "FAIL rate above it. Simulated rates carry Monte Carlo error (standard error about "
        f"{math.sqrt(alpha * (1 - alpha) / max(1, rows[0].sweeps if rows else 1)):.3f} near alpha); the exact "
        "columns have none (binomial for fixed n, dynamic programming for sequential)."
    )
    lines = [
        head,
        "",
        "| design | true rate | PASS | FAIL | INCONCLUSIVE | false PASS | false FAIL | power | exact P(PASS) "
        "| exact P(FAIL) | mean n | exact mean n | max n |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.design} | {fmt_pct(r.true_rate)} ({r.multiple:g} p_max) | {r.pass_rate:.3f} | {r.fail_rate:.3f} "
            f"| {r.inconclusive_rate:.3f} | {_cell(r.false_pass)} | {_cell(r.false_fail)} | {_cell(r.power)} "
            f"| {r.exact_pass:.4f} | {r.exact_fail:.4f} | {fmt_int(round(r.mean_n))} "
            f"| {fmt_int(round(r.exact_mean_n))} | {fmt_int(r.max_n)} |"
        )
    return "\n".join(lines) + "\n"

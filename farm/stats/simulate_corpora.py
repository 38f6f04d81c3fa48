"""Simulated sweeps over corpora as users bring them: the scenarios behind docs/statistics.md, "Verdicts on real
corpora". Each scenario runs the verdict's own rules (thresholds derived from farm.stats.finite, .sequential,
.bounded and .noise) over many simulated sweeps and reports how often a wrong PASS comes out.

* easy-first: a corpus whose bad inputs sit at its end (a log sorted by time), swept with the sequential stop in
  file order (what the farm did) and in a seeded random order (what it does);
* finite: a corpus that is the whole population, swept partly (fixed n, and sequentially) and fully (census);
* noise blips: a legacy whose A/A pairs hold one rare blip, against a candidate that drifted everywhere, with the
  old maximum-based noise floor and the quantile one;
* continuation: an INCONCLUSIVE sweep at fixed n continued by re-testing at a larger fixed n (the trap), and by
  continuing the always-valid process (`farm sweep resume ID --more N`).
The sequential stop is checked after every sample (the most looks any schedule can take: the worst case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from farm.stats.finite import hg_sequence, hg_upper
from farm.stats.intervals import cp_upper
from farm.stats.simulate import fixed_thresholds, sequential_thresholds

REGENERATE = "farm stats simulate --family corpora --sweeps 2000 --seed 0 --markdown"


@dataclass(frozen=True)
class CorpusRow:
    scenario: str
    design: str
    truth: str  # what the whole population is, against the threshold
    sweeps: int
    pass_rate: float
    fail_rate: float
    false_pass: float  # every scenario's truth is "not PASS": any PASS is wrong
    mean_n: float


def _first(decided: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Per row the first column where decided, else -1."""
    any_dec = decided.any(axis=1)
    return np.where(any_dec, decided.argmax(axis=1), -1).astype(np.int64)


def _sequential_outcomes(paths: NDArray[np.int32], a_thr: NDArray[np.int64],
                         b_thr: NDArray[np.int64]) -> tuple[int, int, float]:
    """(passes, fails, mean n) of sequential sweeps: cumulative disagreement counts per row, stop at the first n
    where x <= a[n] (PASS) or x >= b[n] (FAIL)."""
    m, cap = paths.shape
    is_pass = paths <= a_thr[None, :cap]
    is_fail = paths >= b_thr[None, :cap]
    stop = _first(is_pass | is_fail)
    rows = np.arange(m)
    decided = stop >= 0
    passes = int(np.sum(decided & is_pass[rows, np.maximum(stop, 0)]))
    fails = int(np.sum(decided & is_fail[rows, np.maximum(stop, 0)]))
    used = np.where(decided, stop + 1, cap)
    return passes, fails, float(used.mean())


def easy_first(rng: np.random.Generator, sweeps: int, alpha: float) -> list[CorpusRow]:
    """Binomial: 20,000 inputs, the last 400 hold 80 disagreements (0.4% overall, 4x p_max = 0.1%)."""
    p_max, size, bad = 0.001, 20_000, 80
    flags = np.zeros(size, dtype=np.int32)
    flags[-400:][rng.choice(400, bad, replace=False)] = 1
    a_thr, b_thr = sequential_thresholds(size, p_max, alpha)
    truth = f"rate {bad / size:.1%} > p_max {p_max:.1%}"
    p, f, n = _sequential_outcomes(np.cumsum(flags)[None, :].astype(np.int32), a_thr, b_thr)
    rows = [CorpusRow("easy-first corpus (binomial)", "sequential, file order", truth, 1, p, f, p, n)]
    paths = np.stack([np.cumsum(flags[rng.permutation(size)]) for _ in range(sweeps)]).astype(np.int32)
    p, f, n = _sequential_outcomes(paths, a_thr, b_thr)
    rows.append(CorpusRow("easy-first corpus (binomial)", "sequential, random order", truth, sweeps, p / sweeps,
                          f / sweeps, p / sweeps, n))
    return rows


def easy_first_mean(rng: np.random.Generator, sweeps: int, alpha: float) -> list[CorpusRow]:
    """Bounded mean: 2,001 scores, mean 0.9845 < r_min 0.99; the low ones last. The mean test's PASS side is the
    hedged capital against r_min crossing its threshold (farm.stats.bounded), checked after every sample."""
    from farm.stats.bounded import log_capital, plug_in_bets, side_level

    r_min, size = 0.99, 2001
    scores = np.ones(size)
    scores[-150:] = 0.9  # the last 150: 98 at 0.9 and 52 at 0.6, a mean of 0.9847 over the whole corpus
    scores[-52:] = 0.6
    mean = float(scores.mean())
    level = side_level(alpha / 2.0, True)
    both = np.array([True, False])

    def outcome(x: NDArray[np.float64]) -> tuple[bool, bool]:
        bets = plug_in_bets(x, level, fixed_n=None)
        t_pass = t_fail = size + 1
        capital = np.zeros(2)
        for t in range(64, size + 1, 64):  # running capital at r_min, every 64 samples (a batch's worth)
            capital = log_capital(x[:t], bets[:t], np.array([r_min, r_min]), both, running=True)
            if capital[0] >= level and t_pass > size:
                t_pass = t
            if capital[1] >= level and t_fail > size:
                t_fail = t
            if min(t_pass, t_fail) <= size:
                break
        return t_pass < t_fail, t_fail < t_pass

    truth = f"mean {mean:.4f} < r_min {r_min}"
    p, f = outcome(scores)
    rows = [CorpusRow("easy-first corpus (bounded mean)", "sequential, file order", truth, 1, float(p), float(f),
                      float(p), math.nan)]
    passes = fails = 0
    for _ in range(sweeps):
        p, f = outcome(scores[rng.permutation(size)])
        passes += p
        fails += f
    rows.append(CorpusRow("easy-first corpus (bounded mean)", "sequential, random order", truth, sweeps,
                          passes / sweeps, fails / sweeps, passes / sweeps, math.nan))
    return rows


def finite(rng: np.random.Generator, sweeps: int, alpha: float) -> list[CorpusRow]:
    """A regression corpus of 1,000 inputs, 11 disagreeing (1.1% > p_max 1%: the boundary, the hardest case)."""
    p_max, size, bad = 0.01, 1000, 11
    flags = np.zeros(size, dtype=np.int32)
    flags[:bad] = 1
    truth = f"rate {bad / size:.1%} > p_max {p_max:.0%}"
    rows = []
    for n in (300, 600):
        draws = np.array([flags[rng.permutation(size)[:n]].sum() for _ in range(sweeps)])
        k_pass = max((x for x in range(n + 1) if hg_upper(x, n, size, alpha) <= p_max), default=-1)
        passes = int(np.sum(draws <= k_pass))
        rows.append(CorpusRow("finite corpus", f"fixed n={n:,} of {size:,}, hypergeometric", truth, sweeps,
                              passes / sweeps, math.nan, passes / sweeps, float(n)))
    # Sequential without replacement: per n the largest x whose confidence sequence lies at or below p_max (it
    # never falls as n grows, so each n starts from the last); at n = N the census: the exact rate.
    a_thr = np.full(size, -1, dtype=np.int64)
    x = 0
    for n in range(1, size):
        x = min(max(x, 0), n)
        while x >= 0 and hg_sequence(x, n, size, alpha, p_max)[1] > p_max:
            x -= 1
        while x + 1 <= n and hg_sequence(x + 1, n, size, alpha, p_max)[1] <= p_max:
            x += 1
        a_thr[n - 1] = x
    a_thr[size - 1] = math.floor(p_max * size)
    b_thr = np.full(size, size + 1, dtype=np.int64)
    paths = np.stack([np.cumsum(flags[rng.permutation(size)]) for _ in range(sweeps)]).astype(np.int32)
    p, _, used = _sequential_outcomes(paths, a_thr, b_thr)
    rows.append(CorpusRow("finite corpus", "sequential without replacement, to the census", truth, sweeps,
                          p / sweeps, math.nan, p / sweeps, used))
    census_pass = float(bad / size <= p_max)
    rows.append(CorpusRow("finite corpus", f"census (all {size:,})", truth, sweeps, census_pass, 1 - census_pass,
                          census_pass, float(size)))
    return rows


def noise_blips(rng: np.random.Generator, sweeps: int, alpha: float) -> list[CorpusRow]:
    """Legacy A/A: 150 pairs at cosine 1 - 1e-5 (jitter), blips to 0.995 at rate 1/150; the candidate sits at
    0.992 on every input (a drifted model). 3,000 samples, tau 0.9999, floor 0.99, p_max 0.1%."""
    from farm.stats.noise import NoiseSamples, noise_floor
    from farm.stats.params import VerdictParams

    params = VerdictParams(tau=0.9999, p_max=0.001, alpha=alpha, floor=0.99)
    n, pairs = 3000, 150
    k_pass, _ = fixed_thresholds(n, params.p_max, alpha)
    old = new = 0
    for _ in range(sweeps):
        legacy_self = 1.0 - rng.exponential(1e-5, pairs)
        legacy_self[rng.random(pairs) < 1 / pairs] = 0.995
        cross = 0.992 + rng.normal(0.0, 1e-5, n)
        # The old rule: tau moved to 1 - 2 (1 - the smallest self-cosine) once legacy's noise is material.
        material = int(np.sum(legacy_self < params.tau)) > 0 and cp_upper(
            int(np.sum(legacy_self < params.tau)), pairs, alpha) > params.p_max / 2
        tau_old = max(params.floor, min(params.tau, 1 - 2 * (1 - legacy_self.min()))) if material else params.tau
        old += int(np.sum(cross < tau_old)) <= k_pass and not np.any(cross < params.floor)
        tau_new = noise_floor(NoiseSamples(legacy_self, legacy_self.copy()), params).tau_effective
        new += int(np.sum(cross < tau_new)) <= k_pass and not np.any(cross < params.floor)
    truth = "candidate at cosine 0.992 everywhere"
    return [CorpusRow("legacy with rare noise blips", "noise floor: maximum (before)", truth, sweeps, old / sweeps,
                      1 - old / sweeps, old / sweeps, float(n)),
            CorpusRow("legacy with rare noise blips", "noise floor: q0.9 quantile (now)", truth, sweeps,
                      new / sweeps, 1 - new / sweeps, new / sweeps, float(n))]


def continuation(rng: np.random.Generator, sweeps: int, alpha: float) -> list[CorpusRow]:
    """True rate = p_max = 0.1% (PASS is wrong). First look: fixed n = 3,000. If INCONCLUSIVE, either re-test at a
    fixed n of 9,000 (a fresh test on the larger sample: the trap), or continue the always-valid process to 9,000
    (what `resume --more` does: the confidence sequence judges every sample since the first)."""
    p_max, first, total = 0.001, 3000, 9000
    k1_pass, k1_fail = fixed_thresholds(first, p_max, alpha)
    k2_pass, _ = fixed_thresholds(total, p_max, alpha)
    a_thr, b_thr = sequential_thresholds(total, p_max, alpha)
    paths = np.cumsum(rng.random((sweeps, total)) < p_max, axis=1, dtype=np.int32)
    x1 = paths[:, first - 1]
    first_pass = x1 <= k1_pass
    inconclusive = ~first_pass & (x1 < k1_fail)
    retest = first_pass | (inconclusive & (paths[:, -1] <= k2_pass))
    later = paths[:, first - 1:] <= a_thr[None, first - 1:]
    later_fail = paths[:, first - 1:] >= b_thr[None, first - 1:]
    stop = _first(later | later_fail)
    seq_pass = (stop >= 0) & later[np.arange(sweeps), np.maximum(stop, 0)]
    cont = first_pass | (inconclusive & seq_pass)
    from_start = _first((paths <= a_thr[None, :]) | (paths >= b_thr[None, :]))  # --until-decided, then continued
    seq_only = (from_start >= 0) & (paths[np.arange(sweeps), np.maximum(from_start, 0)]
                                     <= a_thr[np.maximum(from_start, 0)])
    truth = "rate = p_max 0.1%"
    return [
        CorpusRow("continuation after INCONCLUSIVE", "fixed n=3,000 only", truth, sweeps, float(first_pass.mean()),
                  math.nan, float(first_pass.mean()), float(first)),
        CorpusRow("continuation after INCONCLUSIVE", "then re-test at fixed n=9,000", truth, sweeps,
                  float(retest.mean()), math.nan, float(retest.mean()), math.nan),
        CorpusRow("continuation after INCONCLUSIVE", "then the always-valid process to 9,000", truth, sweeps,
                  float(cont.mean()), math.nan, float(cont.mean()), math.nan),
        CorpusRow("continuation after INCONCLUSIVE", "always-valid from the start (--until-decided), continued to "
                  "9,000", truth, sweeps, float(seq_only.mean()), math.nan, float(seq_only.mean()), math.nan),
    ]


def simulate_corpora(*, sweeps: int = 1000, seed: int = 0, alpha: float = 0.05) -> list[CorpusRow]:
    rng = np.random.default_rng(seed)
    return [*easy_first(rng, sweeps, alpha), *easy_first_mean(rng, sweeps, alpha), *finite(rng, sweeps, alpha),
            *noise_blips(rng, sweeps, alpha), *continuation(rng, sweeps, alpha)]


def render_markdown_corpora(rows: list[CorpusRow], alpha: float) -> str:
    lines = [f"alpha = {alpha:g}. Every scenario's population is on the wrong side of its threshold, so any PASS is "
             "a false PASS (it must stay <= alpha). Regenerate: `" + REGENERATE + "`.", "",
             "| scenario | design | the population | sweeps | PASS | FAIL | false PASS | mean n |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fail = "" if math.isnan(r.fail_rate) else f"{r.fail_rate:.3f}"
        mean_n = "" if math.isnan(r.mean_n) else f"{r.mean_n:,.0f}"
        lines.append(f"| {r.scenario} | {r.design} | {r.truth} | {r.sweeps:,} | {r.pass_rate:.3f} | {fail} "
                     f"| {r.false_pass:.3f} | {mean_n} |")
    return "\n".join(lines) + "\n"

"""The binomial-agreement verdict family: each sample agrees (score >= tau) or not.

Clopper-Pearson bounds on the disagreement rate (fixed n) or an always-valid confidence sequence
(sequential), a catastrophic floor, error rates per side, the A/A noise floor and latency. Probe-agnostic:
a probe hands in its per-sample scores, the integrity problems it found, and the name of its quantity
("cosine"); see docs/statistics.md for the model and every formula.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.stats._format import fmt_conf, fmt_cos, fmt_int, fmt_pct
from farm.stats.finite import (
    CENSUS_METHOD,
    HYPERGEOMETRIC_METHOD,
    SEQUENCE_METHOD,
    census,
    exact,
    rate_bounds,
    rate_decision,
)
from farm.stats.intervals import samples_needed, wilson
from farm.stats.latency import METHOD_NAME as LATENCY_METHOD
from farm.stats.latency import latency_summary
from farm.stats.noise import NoiseSamples, noise_floor
from farm.stats.params import VerdictParams
from farm.stats.power import needed_at_power
from farm.stats.sequential import METHOD_NAME as SEQUENTIAL_METHOD
from farm.stats.verdict import FAIL, INCONCLUSIVE, PASS, Verdict, plain


@dataclass(frozen=True)
class AgreementSamples:
    """One entry per sample index that was planned and recorded; `score` is NaN where it was not computed."""

    score: NDArray[np.float64]
    legacy_error: Sequence[str | None]
    candidate_error: Sequence[str | None]
    latency_legacy_ms: NDArray[np.float64]
    latency_candidate_ms: NDArray[np.float64]

    def __post_init__(self) -> None:
        sizes = {name: len(getattr(self, name)) for name in
                 ("score", "legacy_error", "candidate_error", "latency_legacy_ms", "latency_candidate_ms")}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"samples fields differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.score)


def samples_word(k: int) -> str:
    return f"{fmt_int(k)} sample" + ("" if k == 1 else "s")


def _error_report(errors: Sequence[str | None], total: int, alpha: float) -> dict[str, Any]:
    count = sum(e is not None for e in errors)
    lo, hi = wilson(count, total, alpha)
    return {
        "count": count,
        "rate": (count / total) if total else None,
        "wilson": [lo, hi],
        "classes": dict(Counter(e for e in errors if e is not None)),
    }


def error_detail(samples: AgreementSamples, total: int, alpha: float) -> tuple[dict[str, Any], list[str]]:
    """Errors per side with Wilson intervals and classes, and the candidate-only findings."""
    l_err = np.array([e is not None for e in samples.legacy_error], dtype=bool)
    c_err = np.array([e is not None for e in samples.candidate_error], dtype=bool)
    cand_only = c_err & ~l_err
    cand_only_classes = Counter(e for e, m in zip(samples.candidate_error, cand_only, strict=True) if m and e)
    detail = {
        "legacy": _error_report(samples.legacy_error, total, alpha),
        "candidate": _error_report(samples.candidate_error, total, alpha),
        "candidate_only": int(cand_only.sum()),
        "candidate_only_classes": dict(cand_only_classes),
        "legacy_only": int((l_err & ~c_err).sum()),
        "both": int((l_err & c_err).sum()),
        "interval": "wilson",
    }
    findings = [f"candidate-only error {cls}: {samples_word(k)} (legacy answered)"
                for cls, k in cand_only_classes.items()]
    return detail, findings


def decide_rate(x: int, n: int, params: VerdictParams, sequential: bool) -> str | None:
    """PASS / FAIL / None (undecided) for x disagreements in n: the stream's bounds, or the corpus's when the
    population is finite (farm.stats.finite); the one rule of the verdict and of the sequential stop."""
    return rate_decision(x, n, params.alpha, params.p_max, population=params.population, sequential=sequential)


def survives_lost(x: int, n: int, lost: int, params: VerdictParams, sequential: bool) -> bool:
    """Whether a PASS on x disagreements in n still holds with `lost` more samples, all disagreeing (the samples
    legacy failed on, at their worst)."""
    return decide_rate(x + lost, n + lost, params, sequential) == PASS


def rate_needed(x: int, n: int, drawn: int, params: VerdictParams, sequential: bool) -> tuple[int | None, str]:
    """More samples for the verdict to decide at 80% power if the observed rate continues, and to what (PASS or
    FAIL). A finite corpus caps it at what it still holds (`drawn` inputs taken so far): the census decides."""
    rate = x / n if n else 0.0
    to_pass = rate < params.p_max
    target = PASS if to_pass else FAIL

    def decides(xx: int, nn: int) -> bool:  # the stream's rule: never fewer samples than the corpus's needs
        return rate_decision(xx, nn, params.alpha, params.p_max, population=None, sequential=sequential) == target

    needed = None if rate == params.p_max else needed_at_power(x, n, rate, decides, to_pass=to_pass)
    if exact(params.population):
        assert params.population is not None
        remaining = max(0, params.population - drawn)
        if needed is None or needed > remaining:
            return remaining, "census"
    return needed, target


def lost_to_legacy(samples: AgreementSamples, l_err: NDArray[np.bool_], holds: Callable[[int], bool]) -> str | None:
    """Why a PASS is not one: legacy failed on samples that, had they all disagreed, would undo it (a gateway
    that died mid-sweep leaves a PASS over what it answered before); None when the PASS holds even then.
    `holds(k)`: whether the PASS survives k more samples, all disagreeing."""
    lost = int(l_err.sum())
    if not lost or holds(lost):
        return None
    classes = Counter(e for e in samples.legacy_error if e is not None)
    top = ", ".join(f"{cls} {fmt_int(k)}" for cls, k in classes.most_common(3))
    return (f"legacy failed on {fmt_int(lost)} of {fmt_int(len(samples))} samples ({top}), which could hide "
            "disagreements: the PASS over the rest does not hold if they disagreed; fix the legacy side and sweep "
            "again")


def _score_summary(values: NDArray[np.float64]) -> dict[str, Any]:
    if values.size == 0:
        return {"n": 0, "min": None}
    qs = np.quantile(values, [0.001, 0.01, 0.5])
    return {
        "n": int(values.size),
        "min": float(values.min()),
        "q0.001": float(qs[0]),
        "q0.01": float(qs[1]),
        "median": float(qs[2]),
        "mean": float(values.mean()),
    }


def decide_binomial(
    samples: AgreementSamples,
    params: VerdictParams,
    *,
    quantity: str = "score",
    planned: int | None = None,
    noise: NoiseSamples | None = None,
    sequential: bool = False,
    problems: Sequence[str] = (),
    integrity: dict[str, Any] | None = None,
) -> Verdict:
    """PASS / FAIL / INCONCLUSIVE with its one-sentence reason, bounds and evidence.

    `problems` are the probe's integrity findings (each fails the sweep at once, after missing samples);
    `integrity` its counts, recorded after the shared planned / recorded / missing / extra ones.
    """
    total = len(samples)
    score = np.asarray(samples.score, dtype=np.float64)
    l_err = np.array([e is not None for e in samples.legacy_error], dtype=bool)
    c_err = np.array([e is not None for e in samples.candidate_error], dtype=bool)
    finite = np.isfinite(score)
    conf = fmt_conf(params.alpha)

    # --- integrity gate --------------------------------------------------------------------------
    missing = max(0, planned - total) if planned is not None else 0
    integrity_detail = {"planned": planned, "recorded": total, "missing": missing,
                        "extra": max(0, total - planned) if planned is not None else 0, **(integrity or {})}
    gate: list[str] = []
    if missing:
        gate.append(f"{samples_word(missing)} missing ({fmt_int(total)} of {fmt_int(planned or 0)} recorded)")
    gate.extend(problems)

    # --- errors ----------------------------------------------------------------------------------
    any_err = l_err | c_err
    cand_only = c_err & ~l_err
    errors_detail, findings = error_detail(samples, total, params.alpha)

    # --- noise floor -----------------------------------------------------------------------------
    nf = noise_floor(noise, params)
    tau_eff = nf.tau_effective
    findings.extend(nf.findings)

    # --- agreement -------------------------------------------------------------------------------
    compared = score[~any_err & finite]
    below = int(np.count_nonzero(compared < tau_eff))
    x = below + int(cand_only.sum())  # the candidate failing where legacy answered is a disagreement
    n = int(compared.size) + int(cand_only.sum())
    worst = float(compared.min()) if compared.size else math.nan
    catastrophic = int(np.count_nonzero(compared < params.floor))

    lower, upper = rate_bounds(x, n, params.alpha, params.p_max, population=params.population,
                               sequential=sequential)
    decision = decide_rate(x, n, params, sequential)
    drawn = n + int(l_err.sum())
    is_census = census(drawn, params.population)

    # --- the sentence ----------------------------------------------------------------------------
    counts = f"{fmt_int(x)} of {fmt_int(n)} below {quantity} {fmt_cos(tau_eff)}"
    if cand_only.any():
        counts += f", {fmt_int(int(cand_only.sum()))} of them candidate-only errors"
    if nf.adjusted:
        counts += f"; tau lowered from {fmt_cos(params.tau)} to the legacy noise floor"
    how = ", census" if is_census else ", always-valid" if sequential else ""
    if exact(params.population) and not is_census:
        how += f", {fmt_int(drawn)} of a corpus of {fmt_int(params.population or 0)}"

    lost = (lost_to_legacy(samples, l_err, lambda k: survives_lost(x, n, k, params, sequential))
            if decision == PASS else None)
    needed: int | None = None
    if gate:
        outcome = FAIL
        reason = f"FAIL: integrity gate: {', '.join(gate)}"
    elif catastrophic:
        outcome = FAIL
        reason = (f"FAIL: {quantity} {fmt_cos(worst)} below the catastrophic floor {fmt_cos(params.floor)} "
                  f"in {samples_word(catastrophic)} ({counts})")
    elif lost:
        outcome = INCONCLUSIVE
        reason = f"INCONCLUSIVE: {lost} ({counts})"
    elif decision == PASS and is_census:
        outcome = PASS
        reason = f"PASS: disagreement {fmt_pct(x / n if n else 0.0)} <= {fmt_pct(params.p_max)}{how} ({counts})"
    elif decision == PASS:
        outcome = PASS
        reason = f"PASS: disagreement <= {fmt_pct(params.p_max)} at {conf}{how} ({counts})"
    elif decision == FAIL:
        outcome = FAIL
        worst_txt = f"; worst {fmt_cos(worst)}" if compared.size else ""
        rate_txt = (f"{fmt_pct(x / n if n else 0.0)} > {fmt_pct(params.p_max)}" if is_census
                    else f">= {fmt_pct(lower)} at {conf}")
        reason = f"FAIL: disagreement {rate_txt}{how} ({counts}{worst_txt})"
    else:
        outcome = INCONCLUSIVE
        needed, needed_for = rate_needed(x, n, drawn, params, sequential)
        head = f"INCONCLUSIVE: {counts}; upper bound {fmt_pct(upper)} > {fmt_pct(params.p_max)}"
        if needed_for == "census":
            reason = (f"{head}; the {fmt_int(needed or 0)} inputs of the corpus not yet swept decide it (a census); "
                      "continue with `farm sweep resume SWEEP_ID --more N`")
        elif needed is None:
            reason = (f"{head}, and at the observed rate {fmt_pct(x / n if n else 0.0)} no sample size "
                      f"can show <= {fmt_pct(params.p_max)}")
        else:
            reason = (f"{head}; about {fmt_int(needed)} more samples needed to {needed_for} at 80% power; "
                      "continue with `farm sweep resume SWEEP_ID --more N`")

    finite_pop = exact(params.population)
    if is_census:
        interval, decision_method = "census", CENSUS_METHOD
    elif sequential:
        interval = "wor-confidence-sequence" if finite_pop else "confidence-sequence"
        decision_method = f"sequential: {SEQUENCE_METHOD if finite_pop else SEQUENTIAL_METHOD}"
    else:
        interval = "hypergeometric" if finite_pop else "clopper-pearson"
        decision_method = (HYPERGEOMETRIC_METHOD if finite_pop
                           else "fixed-n: one-sided exact Clopper-Pearson bounds at level 1 - alpha")
    methods = {
        "interval": interval,
        "decision": decision_method,
        "population": f"corpus of {params.population} inputs" if params.population else "stream",
        "needed": "80% power at the observed rate (farm.stats.power)",
        "errors": "wilson",
        "latency": LATENCY_METHOD,
        "noise": f"legacy self-{quantity} threshold shift (kappa x the q0.9 of legacy self-distance)"
        if noise is not None else "not measured",
    }
    detail: dict[str, Any] = {
        "integrity": integrity_detail,
        "errors": errors_detail,
        "findings": findings,
        quantity: _score_summary(compared),
        "below_tau_effective": below,
        "catastrophic": catastrophic,
        f"min_{quantity}": worst if compared.size else None,
        "noise": nf.detail,
        "latency": latency_summary(samples.latency_legacy_ms, samples.latency_candidate_ms, alpha=params.alpha),
        "sequential": sequential,
        "census": is_census,
        "population": params.population,
        "bounds": "always-valid two-sided (1 - alpha) confidence sequence" if sequential
        else "one-sided (1 - alpha) exact bounds",
    }
    if outcome == INCONCLUSIVE:
        # How far the data are from the other decision too, so a reader sees both distances.
        detail["needed_fixed_n"] = samples_needed(x, n, params.p_max, params.alpha)
    return Verdict(
        outcome=outcome,
        reason=reason,
        n=n,
        disagreements=x,
        errors=int(any_err.sum()),
        lower=float(lower),
        upper=float(upper),
        needed=needed,
        params={"tau": params.tau, "p_max": params.p_max, "alpha": params.alpha, "floor": params.floor,
                "tau_effective": tau_eff},
        methods=methods,
        detail=plain(detail),
    )

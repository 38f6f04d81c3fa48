"""The embed verdict: integrity gate, agreement test with exact bounds, errors, noise floor, latency.

Pure functions of numpy arrays; see docs/statistics.md for the model and every formula.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.stats._format import fmt_conf, fmt_cos, fmt_int, fmt_pct
from farm.stats.intervals import cp_lower, cp_upper, samples_needed, wilson
from farm.stats.latency import METHOD_NAME as LATENCY_METHOD
from farm.stats.latency import latency_summary
from farm.stats.noise import NoiseSamples, noise_floor
from farm.stats.sequential import METHOD_NAME as SEQUENTIAL_METHOD
from farm.stats.sequential import confidence_sequence, sequential_decision, sequential_samples_needed

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"

# Error classes that mean the two vectors cannot be compared at all: they fail the sweep at once.
INTEGRITY_CLASSES = ("dimension_mismatch", "non_finite", "empty_vector", "count_mismatch")
_INTEGRITY_LABELS = {
    "dimension_mismatch": "dimension mismatch",
    "non_finite": "non-finite values",
    "empty_vector": "empty vectors",
    "count_mismatch": "vector count mismatch",
}


@dataclass(frozen=True)
class VerdictParams:
    tau: float = 0.9999
    p_max: float = 0.001
    alpha: float = 0.05
    floor: float = 0.99

    def __post_init__(self) -> None:
        if not 0.0 < self.p_max < 1.0:
            raise ValueError(f"p_max must be in (0, 1), got {self.p_max}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not -1.0 <= self.floor <= self.tau <= 1.0:
            raise ValueError(f"need -1 <= floor <= tau <= 1, got floor={self.floor}, tau={self.tau}")


@dataclass(frozen=True)
class EmbedSamples:
    """One entry per sample index that was planned and recorded."""

    cosine: NDArray[np.float64]
    legacy_error: list[str | None]
    candidate_error: list[str | None]
    dim_legacy: NDArray[np.int64]
    dim_candidate: NDArray[np.int64]
    latency_legacy_ms: NDArray[np.float64]
    latency_candidate_ms: NDArray[np.float64]

    def __post_init__(self) -> None:
        sizes = {
            "cosine": len(self.cosine),
            "legacy_error": len(self.legacy_error),
            "candidate_error": len(self.candidate_error),
            "dim_legacy": len(self.dim_legacy),
            "dim_candidate": len(self.dim_candidate),
            "latency_legacy_ms": len(self.latency_legacy_ms),
            "latency_candidate_ms": len(self.latency_candidate_ms),
        }
        if len(set(sizes.values())) > 1:
            raise ValueError(f"EmbedSamples fields differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.cosine)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str
    n: int
    disagreements: int
    errors: int
    lower: float
    upper: float
    needed: int | None
    params: dict[str, float]
    methods: dict[str, str]
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "n": self.n,
            "disagreements": self.disagreements,
            "errors": self.errors,
            "lower": self.lower,
            "upper": self.upper,
            "needed": self.needed,
            "params": dict(self.params),
            "methods": dict(self.methods),
            "detail": _plain(self.detail),
        }


def _plain(value: Any) -> Any:
    """Deep copy as JSON-safe plain types: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _samples(k: int) -> str:
    return f"{fmt_int(k)} sample" + ("" if k == 1 else "s")


def _error_report(errors: list[str | None], total: int, alpha: float) -> dict[str, Any]:
    count = sum(e is not None for e in errors)
    lo, hi = wilson(count, total, alpha)
    return {
        "count": count,
        "rate": (count / total) if total else None,
        "wilson": [lo, hi],
        "classes": dict(Counter(e for e in errors if e is not None)),
    }


def _cosine_summary(values: NDArray[np.float64]) -> dict[str, Any]:
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


def decide_embed(
    samples: EmbedSamples,
    params: VerdictParams,
    *,
    planned: int | None = None,
    noise: NoiseSamples | None = None,
    sequential: bool = False,
) -> Verdict:
    """Turn one embed sweep into PASS / FAIL / INCONCLUSIVE with its reason, bounds and evidence."""
    total = len(samples)
    cosine = np.asarray(samples.cosine, dtype=np.float64)
    dim_l = np.asarray(samples.dim_legacy, dtype=np.int64)
    dim_c = np.asarray(samples.dim_candidate, dtype=np.int64)
    l_err = np.array([e is not None for e in samples.legacy_error], dtype=bool)
    c_err = np.array([e is not None for e in samples.candidate_error], dtype=bool)
    finite = np.isfinite(cosine)
    conf = fmt_conf(params.alpha)

    # --- integrity gate --------------------------------------------------------------------------
    def has_class(name: str) -> NDArray[np.bool_]:
        return np.array(
            [a == name or b == name for a, b in zip(samples.legacy_error, samples.candidate_error, strict=True)],
            dtype=bool,
        )

    dim_known = (dim_l >= 0) & (dim_c >= 0)
    dim_mismatch = (dim_known & (dim_l != dim_c)) | has_class("dimension_mismatch")
    # A cosine that is not finite although neither side reported an error (e.g. a zero-norm vector).
    silent_non_finite = ~finite & ~l_err & ~c_err
    non_finite = has_class("non_finite") | silent_non_finite
    empty = has_class("empty_vector") | (dim_l == 0) | (dim_c == 0)
    count_mismatch = has_class("count_mismatch")
    missing = max(0, planned - total) if planned is not None else 0

    integrity = {
        "planned": planned,
        "recorded": total,
        "missing": missing,
        "extra": max(0, total - planned) if planned is not None else 0,
        "dimension_mismatch": int(dim_mismatch.sum()),
        "non_finite": int(non_finite.sum()),
        "non_finite_without_error": int(silent_non_finite.sum()),
        "empty_vector": int(empty.sum()),
        "count_mismatch": int(count_mismatch.sum()),
        "legacy_dimensions": sorted({int(d) for d in dim_l[dim_l >= 0]}),
        "candidate_dimensions": sorted({int(d) for d in dim_c[dim_c >= 0]}),
    }
    problems: list[str] = []
    if missing:
        problems.append(f"{_samples(missing)} missing ({fmt_int(total)} of {fmt_int(planned or 0)} recorded)")
    if dim_mismatch.any():
        shown = ""
        pairs = sorted({(int(a), int(b)) for a, b in zip(dim_l[dim_mismatch], dim_c[dim_mismatch], strict=True)
                        if a >= 0 and b >= 0 and a != b})
        if pairs:
            shown = f" (legacy {fmt_int(pairs[0][0])} vs candidate {fmt_int(pairs[0][1])})"
        problems.append(f"dimension mismatch in {_samples(int(dim_mismatch.sum()))}{shown}")
    for mask, label in ((non_finite, "non-finite values"), (empty, "empty vectors"),
                        (count_mismatch, "vector count mismatch")):
        if mask.any():
            problems.append(f"{label} in {_samples(int(mask.sum()))}")

    # --- errors ----------------------------------------------------------------------------------
    any_err = l_err | c_err
    cand_only = c_err & ~l_err
    legacy_only = l_err & ~c_err
    cand_only_classes = Counter(e for e, m in zip(samples.candidate_error, cand_only, strict=True) if m and e)
    errors_detail = {
        "legacy": _error_report(samples.legacy_error, total, params.alpha),
        "candidate": _error_report(samples.candidate_error, total, params.alpha),
        "candidate_only": int(cand_only.sum()),
        "candidate_only_classes": dict(cand_only_classes),
        "legacy_only": int(legacy_only.sum()),
        "both": int((l_err & c_err).sum()),
        "interval": "wilson",
    }
    findings: list[str] = [
        f"candidate-only error {cls}: {_samples(k)} (legacy answered)" for cls, k in cand_only_classes.items()
    ]

    # --- noise floor -----------------------------------------------------------------------------
    nf = noise_floor(noise, params)
    tau_eff = nf.tau_effective
    findings.extend(nf.findings)

    # --- agreement -------------------------------------------------------------------------------
    compared_mask = ~any_err & finite
    compared = cosine[compared_mask]
    below = int(np.count_nonzero(compared < tau_eff))
    x = below + int(cand_only.sum())  # the candidate failing where legacy answered is a disagreement
    n = int(compared.size) + int(cand_only.sum())
    worst = float(compared.min()) if compared.size else math.nan
    catastrophic = int(np.count_nonzero(compared < params.floor))

    if sequential:
        lower, upper = confidence_sequence(x, n, params.alpha, p_ref=params.p_max)
        decision = sequential_decision(x, n, params)
    else:
        lower, upper = cp_lower(x, n, params.alpha), cp_upper(x, n, params.alpha)
        decision = PASS if n and upper <= params.p_max else FAIL if lower > params.p_max else None

    # --- the sentence ----------------------------------------------------------------------------
    tau_txt = fmt_cos(tau_eff)
    counts = f"{fmt_int(x)} of {fmt_int(n)} below cosine {tau_txt}"
    if cand_only.any():
        counts += f", {fmt_int(int(cand_only.sum()))} of them candidate-only errors"
    if nf.adjusted:
        counts += f"; tau lowered from {fmt_cos(params.tau)} to the legacy noise floor"
    how = ", always-valid" if sequential else ""
    needed: int | None = None
    if problems:
        outcome = FAIL
        reason = f"FAIL: integrity gate: {', '.join(problems)}"
    elif catastrophic:
        outcome = FAIL
        reason = (f"FAIL: cosine {fmt_cos(worst)} below the catastrophic floor {fmt_cos(params.floor)} "
                  f"in {_samples(catastrophic)} ({counts})")
    elif decision == PASS:
        outcome = PASS
        reason = f"PASS: disagreement <= {fmt_pct(params.p_max)} at {conf}{how} ({counts})"
    elif decision == FAIL:
        outcome = FAIL
        worst_txt = f"; worst {fmt_cos(worst)}" if compared.size else ""
        reason = f"FAIL: disagreement >= {fmt_pct(lower)} at {conf}{how} ({counts}{worst_txt})"
    else:
        outcome = INCONCLUSIVE
        if sequential:
            needed = sequential_samples_needed(x, n, params.p_max, params.alpha)
        else:
            needed = samples_needed(x, n, params.p_max, params.alpha)
        head = f"INCONCLUSIVE: {counts}; upper bound {fmt_pct(upper)} > {fmt_pct(params.p_max)}"
        if needed is None:
            reason = (f"{head}, and at the observed rate {fmt_pct(x / n if n else 0.0)} no sample size "
                      f"can show <= {fmt_pct(params.p_max)}")
        else:
            reason = f"{head}; about {fmt_int(needed)} more samples needed"

    methods = {
        "interval": "confidence-sequence" if sequential else "clopper-pearson",
        "decision": f"sequential: {SEQUENTIAL_METHOD}" if sequential
        else "fixed-n: one-sided exact Clopper-Pearson bounds at level 1 - alpha",
        "errors": "wilson",
        "latency": LATENCY_METHOD,
        "noise": "legacy self-cosine threshold shift (kappa = 2)" if noise is not None else "not measured",
    }
    detail: dict[str, Any] = {
        "integrity": integrity,
        "errors": errors_detail,
        "findings": findings,
        "cosine": _cosine_summary(compared),
        "below_tau_effective": below,
        "catastrophic": catastrophic,
        "min_cosine": worst if compared.size else None,
        "noise": nf.detail,
        "latency": latency_summary(samples.latency_legacy_ms, samples.latency_candidate_ms, alpha=params.alpha),
        "sequential": sequential,
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
        detail=_plain(detail),
    )

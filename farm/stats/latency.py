"""Latency summary: p50 / p95 / p99 per gateway and candidate/legacy ratios with bootstrap intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

QUANTILES = (0.5, 0.95, 0.99)
NAMES = ("p50", "p95", "p99")
METHOD_NAME = "paired percentile bootstrap"


def _quantiles(values: NDArray[np.float64]) -> dict[str, float | None]:
    if values.size == 0:
        return dict.fromkeys(NAMES)
    qs = np.quantile(values, QUANTILES)
    return {name: float(q) for name, q in zip(NAMES, qs, strict=True)}


def latency_summary(
    legacy_ms: NDArray[np.float64],
    candidate_ms: NDArray[np.float64],
    *,
    alpha: float = 0.05,
    resamples: int = 1000,
    max_points: int = 20_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Quantiles per gateway and ratio (candidate / legacy) per quantile with a (1 - alpha) bootstrap CI.

    The bootstrap resamples SAMPLES (pairs), so the two gateways keep seeing the same inputs; it runs on
    at most `max_points` pairs (a seeded random subsample) so it costs the same for any sweep size."""
    legacy = np.asarray(legacy_ms, dtype=np.float64)
    candidate = np.asarray(candidate_ms, dtype=np.float64)
    lf, cf = legacy[np.isfinite(legacy)], candidate[np.isfinite(candidate)]
    out: dict[str, Any] = {
        "legacy": {"n": int(lf.size), **_quantiles(lf)},
        "candidate": {"n": int(cf.size), **_quantiles(cf)},
        "ratio": {},
        "method": METHOD_NAME,
        "resamples": resamples,
        "seed": seed,
        "confidence": 1.0 - alpha,
    }
    both = np.isfinite(legacy) & np.isfinite(candidate)
    pl, pc = legacy[both], candidate[both]
    out["paired_n"] = int(pl.size)
    for name in NAMES:
        lq, cq = out["legacy"][name], out["candidate"][name]
        out["ratio"][name] = {"estimate": (cq / lq) if lq and cq is not None else None, "ci": None}
    if pl.size < 2 or resamples < 1:
        return out
    rng = np.random.default_rng(seed)
    if pl.size > max_points:
        keep = rng.choice(pl.size, size=max_points, replace=False)
        pl, pc = pl[keep], pc[keep]
    out["bootstrap_points"] = int(pl.size)
    m = pl.size
    ratios = np.empty((resamples, len(QUANTILES)))
    # Chunks bound memory at about 2M indices per step.
    chunk = max(1, 2_000_000 // m)
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        idx = rng.integers(0, m, size=(b, m))
        ql = np.quantile(pl[idx], QUANTILES, axis=1).T
        qc = np.quantile(pc[idx], QUANTILES, axis=1).T
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start : start + b] = qc / ql
    for j, name in enumerate(NAMES):
        col = ratios[:, j]
        col = col[np.isfinite(col)]
        if col.size:
            lo, hi = np.quantile(col, [alpha / 2.0, 1.0 - alpha / 2.0])
            out["ratio"][name]["ci"] = [float(lo), float(hi)]
    return out


def per_request(latency: NDArray[np.float64], batch_no: NDArray[np.int64]) -> NDArray[np.float64]:
    """Latency once per request: the samples of a batch share one request, so repeats would inflate n."""
    out = np.full_like(latency, np.nan)
    _, first = np.unique(batch_no, return_index=True)
    out[first] = latency[first]
    return out

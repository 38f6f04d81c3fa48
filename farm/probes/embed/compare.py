"""The embed comparison: two gateways' vectors for the same batch, vectorised with numpy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from farm.probes.base import Compared, SideResult
from farm.probes.embed.profile import DIMENSION_MISMATCH
from farm.stats.params import VerdictParams

Array = npt.NDArray[np.float64]


def vector_stats(legacy: Array, candidate: Array) -> dict[str, Array]:
    """Per row: cosine, both norms, norm ratio (candidate/legacy), max |diff| of the unit vectors."""
    nl = np.linalg.norm(legacy, axis=1)
    nc = np.linalg.norm(candidate, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ul = legacy / nl[:, None]
        uc = candidate / nc[:, None]
        cosine = np.einsum("ij,ij->i", ul, uc)
        ratio = nc / nl
    return {
        "cosine": np.clip(cosine, -1.0, 1.0),
        "norm_legacy": nl,
        "norm_candidate": nc,
        "norm_ratio": ratio,
        "max_abs_diff": np.abs(ul - uc).max(axis=1),
    }


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _dim(vectors: Any, n: int) -> int | None:
    return int(vectors.shape[1]) if vectors is not None and vectors.shape[0] == n else None


def compare(legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams) -> Compared:
    """Per input: cosine (the score), agreement at tau, norms, ratio, max |diff| and dimensions."""
    le, ce = list(legacy.errors), list(candidate.errors)
    dl, dc = _dim(legacy.value, n), _dim(candidate.value, n)
    stats: dict[str, Array] | None = None
    if dl is not None and dc is not None:
        if dl == dc:
            stats = vector_stats(legacy.value, candidate.value)
        else:
            ce = [e or DIMENSION_MISMATCH for e in ce]
    none: list[Any] = [None] * n
    columns: dict[str, list[Any]] = {
        "norm_legacy": none, "norm_candidate": none, "norm_ratio": none, "max_abs_diff": none,
        "dim_legacy": [dl] * n, "dim_candidate": [dc] * n,
    }
    score: list[float | None] = list(none)
    if stats is not None:
        # Plain Python floats once per column: per-element numpy scalars cost more than the whole comparison.
        plain = {k: v.tolist() for k, v in stats.items()}
        both = [a is None and b is None for a, b in zip(le, ce, strict=True)]
        columns["norm_legacy"] = [_num(v) for v in plain["norm_legacy"]]
        columns["norm_candidate"] = [_num(v) for v in plain["norm_candidate"]]
        for key in ("norm_ratio", "max_abs_diff"):
            columns[key] = [_num(v) if ok else None for v, ok in zip(plain[key], both, strict=True)]
        score = [_num(v) if ok else None for v, ok in zip(plain["cosine"], both, strict=True)]
    agreed = [None if s is None else s >= params.tau for s in score]
    return Compared(score, agreed, le, ce, columns)


def self_cosines(first: SideResult, second: SideResult) -> list[float | None]:
    """A/A: cosine of a gateway's two answers to the same batch (None where either call failed)."""
    if first.value is None or second.value is None or first.value.shape != second.value.shape:
        return [None] * len(first.errors)
    cos: list[float] = vector_stats(first.value, second.value)["cosine"].tolist()
    return [_num(c) if a is None and b is None else None
            for c, a, b in zip(cos, first.errors, second.errors, strict=True)]

"""The embed probe: compare two gateways' vectors for the same batch, vectorised with numpy.

Pure functions of arrays: the embedded engine and the Celery workers both call `compare_batch`.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from farm.gateway.client import DIMENSION_MISMATCH, SideResult

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


def text_sha(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


def compare_batch(sweep_id: str, batch_no: int, start: int, texts: list[str], legacy: SideResult,
                  candidate: SideResult) -> list[dict[str, Any]]:
    """One `samples` row per input: errors of each side, and the vector statistics where both answered."""
    n = len(texts)
    le, ce = list(legacy.errors), list(candidate.errors)
    dl = legacy.vectors.shape[1] if legacy.vectors is not None and legacy.vectors.shape[0] == n else None
    dc = candidate.vectors.shape[1] if candidate.vectors is not None and candidate.vectors.shape[0] == n else None
    stats: dict[str, Array] | None = None
    if dl is not None and dc is not None:
        if dl == dc:
            assert legacy.vectors is not None and candidate.vectors is not None
            stats = vector_stats(legacy.vectors, candidate.vectors)
        else:
            ce = [e or DIMENSION_MISMATCH for e in ce]
    # Plain Python floats once per column: per-element numpy scalars cost more than the whole comparison.
    columns: dict[str, list[float]] = {k: v.tolist() for k, v in stats.items()} if stats is not None else {}
    rows = []
    for i in range(n):
        both_ok = le[i] is None and ce[i] is None
        row: dict[str, Any] = {
            "sweep_id": sweep_id, "idx": start + i, "batch_no": batch_no, "text_sha": text_sha(texts[i]),
            "legacy_error": le[i], "candidate_error": ce[i],
            "dim_legacy": dl, "dim_candidate": dc,
            "latency_legacy_ms": legacy.latency_ms, "latency_candidate_ms": candidate.latency_ms,
            "cosine": None, "norm_legacy": None, "norm_candidate": None, "norm_ratio": None, "max_abs_diff": None,
        }
        if columns:
            for key in ("norm_legacy", "norm_candidate"):
                row[key] = _num(columns[key][i])
            if both_ok:
                for key in ("cosine", "norm_ratio", "max_abs_diff"):
                    row[key] = _num(columns[key][i])
        rows.append(row)
    return rows


def self_cosines(first: SideResult, second: SideResult) -> list[float | None]:
    """A/A: cosine of a gateway's two answers to the same batch (None where either call failed)."""
    if first.vectors is None or second.vectors is None or first.vectors.shape != second.vectors.shape:
        return [None] * len(first.errors)
    cos: list[float] = vector_stats(first.vectors, second.vectors)["cosine"].tolist()
    return [_num(c) if a is None and b is None else None
            for c, a, b in zip(cos, first.errors, second.errors, strict=True)]

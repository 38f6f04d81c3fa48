"""Builders for EmbedSamples in tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from farm.probes.embed.verdict import EmbedSamples


def make_samples(
    cosine: Sequence[float] | NDArray[np.float64],
    *,
    legacy_error: Sequence[str | None] | None = None,
    candidate_error: Sequence[str | None] | None = None,
    dim_legacy: Sequence[int] | NDArray[np.int64] | None = None,
    dim_candidate: Sequence[int] | NDArray[np.int64] | None = None,
    seed: int = 0,
) -> EmbedSamples:
    cos = np.asarray(cosine, dtype=np.float64).copy()
    n = cos.size
    le: list[str | None] = list(legacy_error) if legacy_error is not None else [None] * n
    ce: list[str | None] = list(candidate_error) if candidate_error is not None else [None] * n
    for i in range(n):  # errors mean "not compared", as the sweep engine records them
        if le[i] is not None or ce[i] is not None:
            cos[i] = np.nan
    rng = np.random.default_rng(seed)
    return EmbedSamples(
        cosine=cos,
        legacy_error=le,
        candidate_error=ce,
        dim_legacy=np.asarray(dim_legacy if dim_legacy is not None else np.full(n, 768), dtype=np.int64),
        dim_candidate=np.asarray(dim_candidate if dim_candidate is not None else np.full(n, 768), dtype=np.int64),
        latency_legacy_ms=rng.gamma(4.0, 10.0, n),
        latency_candidate_ms=rng.gamma(4.0, 12.0, n),
    )


def clean(n: int, value: float = 0.999999) -> NDArray[np.float64]:
    return np.full(n, value, dtype=np.float64)

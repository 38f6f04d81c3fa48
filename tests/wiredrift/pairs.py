"""Realistic request/response pairs for the wire-drift tests, built with the profiles' own builders."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from farm.probes.embed.profile import EmbedProfile

MODEL = "nomic-embed-text"
Batch = tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> npt.NDArray[np.float64]:
    u = rng.normal(size=(n, dim))
    out: npt.NDArray[np.float64] = u / np.linalg.norm(u, axis=1, keepdims=True)
    return out


def make_batch(
    legacy: EmbedProfile,
    candidate: EmbedProfile,
    rng: np.random.Generator,
    *,
    n: int = 3,
    dim: int = 32,
    raw_norms: npt.NDArray[np.float64] | None = None,
    model: str | None = MODEL,
) -> Batch:
    """One batch: same texts to both gateways; unit-vector profiles answer unit rows, the others raw rows
    (the same directions scaled by `raw_norms`, 20-23 by default)."""
    texts = [f"text {rng.integers(1_000_000)}" for _ in range(n)]
    u = unit_rows(rng, n, dim)
    norms = raw_norms if raw_norms is not None else rng.uniform(20.0, 23.0, size=n)
    raw = u * norms[:, None]
    lv = u if legacy.unit_vectors else raw
    cv = u if candidate.unit_vectors else raw
    echoed = model or "default-model"
    return (
        legacy.build_request(texts, model),
        legacy.build_response(lv, echoed),
        candidate.build_request(texts, model),
        candidate.build_response(cv, echoed),
    )

"""The embed verdict: the integrity gate of vectors (dimensions, non-finite, empty, counts), then the
binomial-agreement family on cosine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.stats._format import fmt_int
from farm.stats.binomial import AgreementSamples, decide_binomial, samples_word
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict

# Error classes that mean the two vectors cannot be compared at all: they fail the sweep at once.
INTEGRITY_CLASSES = ("dimension_mismatch", "non_finite", "empty_vector", "count_mismatch")


@dataclass(frozen=True)
class EmbedSamples:
    """One entry per sample index that was planned and recorded."""

    cosine: NDArray[np.float64]
    legacy_error: Sequence[str | None]
    candidate_error: Sequence[str | None]
    dim_legacy: NDArray[np.int64]
    dim_candidate: NDArray[np.int64]
    latency_legacy_ms: NDArray[np.float64]
    latency_candidate_ms: NDArray[np.float64]

    def __post_init__(self) -> None:
        sizes = {name: len(getattr(self, name)) for name in
                 ("cosine", "legacy_error", "candidate_error", "dim_legacy", "dim_candidate",
                  "latency_legacy_ms", "latency_candidate_ms")}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"EmbedSamples fields differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.cosine)


def integrity(samples: EmbedSamples) -> tuple[list[str], dict[str, Any]]:
    """The vectors' integrity problems (each fails the sweep) and their counts."""
    cosine = np.asarray(samples.cosine, dtype=np.float64)
    dim_l = np.asarray(samples.dim_legacy, dtype=np.int64)
    dim_c = np.asarray(samples.dim_candidate, dtype=np.int64)
    l_err = np.array([e is not None for e in samples.legacy_error], dtype=bool)
    c_err = np.array([e is not None for e in samples.candidate_error], dtype=bool)

    def has_class(name: str) -> NDArray[np.bool_]:
        return np.array([a == name or b == name
                         for a, b in zip(samples.legacy_error, samples.candidate_error, strict=True)], dtype=bool)

    dim_known = (dim_l >= 0) & (dim_c >= 0)
    dim_mismatch = (dim_known & (dim_l != dim_c)) | has_class("dimension_mismatch")
    # A cosine that is not finite although neither side reported an error (e.g. a zero-norm vector).
    silent_non_finite = ~np.isfinite(cosine) & ~l_err & ~c_err
    non_finite = has_class("non_finite") | silent_non_finite
    empty = has_class("empty_vector") | (dim_l == 0) | (dim_c == 0)
    count_mismatch = has_class("count_mismatch")
    counts = {
        "dimension_mismatch": int(dim_mismatch.sum()),
        "non_finite": int(non_finite.sum()),
        "non_finite_without_error": int(silent_non_finite.sum()),
        "empty_vector": int(empty.sum()),
        "count_mismatch": int(count_mismatch.sum()),
        "legacy_dimensions": sorted({int(d) for d in dim_l[dim_l >= 0]}),
        "candidate_dimensions": sorted({int(d) for d in dim_c[dim_c >= 0]}),
    }
    problems: list[str] = []
    if dim_mismatch.any():
        shown = ""
        pairs = sorted({(int(a), int(b)) for a, b in zip(dim_l[dim_mismatch], dim_c[dim_mismatch], strict=True)
                        if a >= 0 and b >= 0 and a != b})
        if pairs:
            shown = f" (legacy {fmt_int(pairs[0][0])} vs candidate {fmt_int(pairs[0][1])})"
        problems.append(f"dimension mismatch in {samples_word(int(dim_mismatch.sum()))}{shown}")
    for mask, label in ((non_finite, "non-finite values"), (empty, "empty vectors"),
                        (count_mismatch, "vector count mismatch")):
        if mask.any():
            problems.append(f"{label} in {samples_word(int(mask.sum()))}")
    return problems, counts


def decide_embed(samples: EmbedSamples, params: VerdictParams, *, planned: int | None = None,
                 noise: NoiseSamples | None = None, sequential: bool = False) -> Verdict:
    """Turn one embed sweep into PASS / FAIL / INCONCLUSIVE with its reason, bounds and evidence."""
    problems, counts = integrity(samples)
    agreement = AgreementSamples(samples.cosine, samples.legacy_error, samples.candidate_error,
                                 samples.latency_legacy_ms, samples.latency_candidate_ms)
    return decide_binomial(agreement, params, quantity="cosine", planned=planned, noise=noise,
                           sequential=sequential, problems=problems, integrity=counts)

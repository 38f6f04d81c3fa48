from __future__ import annotations

import numpy as np
import pytest

from farm.probes import get_probe
from farm.probes.base import SideResult
from farm.probes.embed.compare import self_cosines, vector_stats
from farm.probes.embed.embedder import EmbedKnobs, embed, unit_directions
from farm.stats import VerdictParams
from farm.sweep.step import SideCall, compare_sides


def _side(vectors: np.ndarray | None, errors: list[str | None], latency: float = 5.0) -> SideResult:
    return SideResult(vectors, errors, 200 if vectors is not None else 503, latency, 1, {})


def compare_batch(sweep_id: str, batch_no: int, start: int, texts: list[str], legacy: SideResult,
                  candidate: SideResult) -> list[dict[str, object]]:
    """The shared step's rows for the embed probe, its own columns merged into each sample row."""
    probe = get_probe("embed")
    digests = [probe.item_digest(t) for t in texts]
    rows = compare_sides(probe, sweep_id, batch_no, start, SideCall(legacy, None, digests),
                         SideCall(candidate, None, digests), VerdictParams())
    return [{**sample, **extra, "cosine": sample["score"]}
            for sample, extra in zip(rows.samples, rows.extra, strict=True)]


def test_vector_stats_known_values() -> None:
    legacy = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    candidate = np.array([[20.0, 0.0], [1.0, 1.0], [-3.0, -4.0]])
    s = vector_stats(legacy, candidate)
    assert s["cosine"] == pytest.approx([1.0, np.sqrt(0.5), -1.0])
    assert s["norm_legacy"] == pytest.approx([1.0, 1.0, 5.0])
    assert s["norm_ratio"] == pytest.approx([20.0, np.sqrt(2), 1.0])
    assert s["max_abs_diff"] == pytest.approx([0.0, np.sqrt(0.5), 1.6])


def test_scale_does_not_change_cosine_but_drift_does() -> None:
    texts = [f"text {i}" for i in range(200)]
    unit = embed(texts, "all-minilm", EmbedKnobs())
    raw = embed(texts, "all-minilm", EmbedKnobs(scale=21.5, unit=False))
    drifted = embed(texts, "all-minilm", EmbedKnobs(drift_rate=0.25, drift_cos=0.95))
    assert vector_stats(unit, raw)["cosine"] == pytest.approx(np.ones(200))
    norms = np.linalg.norm(raw, axis=1)
    assert norms.min() > 19.9 and norms.max() < 23.1
    cos = vector_stats(unit, drifted)["cosine"]
    assert 25 <= int((cos < 0.9999).sum()) <= 75
    assert cos[cos < 0.9999] == pytest.approx(np.full(int((cos < 0.9999).sum()), 0.95))


def test_embedder_is_deterministic_and_models_differ() -> None:
    a = unit_directions(["same input"], "nomic-embed-text")
    assert np.array_equal(a, unit_directions(["same input"], "nomic-embed-text"))
    assert a.shape == (1, 768) and unit_directions(["x"], "bge-small").shape == (1, 384)


def test_compare_batch_records_errors_and_stats() -> None:
    v = unit_directions(["a", "b", "c"], "all-minilm")
    rows = compare_batch("s1", 4, 96, ["a", "b", "c"], _side(v, [None, None, "non_finite"]), _side(v * 3, [None] * 3))
    assert [r["idx"] for r in rows] == [96, 97, 98] and all(r["batch_no"] == 4 for r in rows)
    assert rows[0]["cosine"] == pytest.approx(1.0) and rows[0]["norm_ratio"] == pytest.approx(3.0)
    assert rows[2]["cosine"] is None and rows[2]["legacy_error"] == "non_finite"
    assert rows[0]["dim_legacy"] == rows[0]["dim_candidate"] == 384


def test_failed_side_and_dimension_mismatch() -> None:
    v = unit_directions(["a", "b"], "all-minilm")
    failed = compare_batch("s", 0, 0, ["a", "b"], _side(v, [None, None]), _side(None, ["timeout", "timeout"]))
    assert [r["candidate_error"] for r in failed] == ["timeout", "timeout"]
    assert all(r["cosine"] is None and r["dim_candidate"] is None for r in failed)
    w = unit_directions(["a", "b"], "nomic-embed-text")
    mismatch = compare_batch("s", 0, 0, ["a", "b"], _side(v, [None, None]), _side(w, [None, None]))
    assert [r["candidate_error"] for r in mismatch] == ["dimension_mismatch"] * 2
    assert (mismatch[0]["dim_legacy"], mismatch[0]["dim_candidate"]) == (384, 768)


def test_self_cosines_with_jitter() -> None:
    texts = [f"t{i}" for i in range(50)]
    knobs = EmbedKnobs(noise=0.01)
    a = embed(texts, "all-minilm", knobs, np.random.default_rng(1))
    b = embed(texts, "all-minilm", knobs, np.random.default_rng(2))
    cos = self_cosines(_side(a, [None] * 50), _side(b, [None] * 49 + ["timeout"]))
    assert cos[-1] is None
    values = np.array(cos[:-1], dtype=float)
    assert (values < 1.0).all() and (values > 0.999).all()


def test_embedding_a_batch_equals_embedding_one_by_one_and_a_long_text_stays_bounded() -> None:
    texts = ["", "a", "héllo wörld", "x" * 20_000, "y" * 40_000, "z"]  # groups split by the gathered-row cap
    batch = unit_directions(texts, "all-minilm")
    for i, text in enumerate(texts):
        assert np.array_equal(batch[i], unit_directions([text], "all-minilm")[0])
    long = unit_directions(["lorem ipsum " * 10_000], "all-minilm")
    assert long.shape == (1, 384) and abs(float(np.linalg.norm(long)) - 1.0) < 1e-9

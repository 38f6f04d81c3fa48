"""A deterministic embedder for the demo gateways: hashed byte trigrams through a fixed random projection.

Same text and model give the same direction on every run and machine (the projection is seeded by the
model name), so two demo gateways behave like two runtimes in front of the same weights. Knobs add the
faults a real rewrite shows: raw magnitudes, a drifting fraction of inputs, jitter.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

MODELS: dict[str, int] = {
    "nomic-embed-text": 768,
    "nomic-embed-text-v2-moe": 768,
    "all-minilm": 384,
    "bge-small": 384,
}
DEFAULT_MODEL = "nomic-embed-text"
_BUCKETS = 4096
_CHUNK_ROWS = 32_768  # projection rows gathered at once: 96 MiB at 768 dimensions
MAX_TEXT_CHARS = 100_000  # the demo backend refuses a longer input (HTTP 400), as a real model's context does
Array = npt.NDArray[np.float64]


@lru_cache(maxsize=8)
def _projection(model: str) -> npt.NDArray[np.float32]:
    seed = int.from_bytes(hashlib.sha256(model.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((_BUCKETS, MODELS[model]), dtype=np.float32)


def _text_key(text: str, salt: bytes = b"") -> int:
    return int.from_bytes(hashlib.blake2b(salt + text.encode(), digest_size=8).digest(), "little")


def _grams(text: str) -> npt.NDArray[np.int64]:
    data = np.frombuffer(f"  {text} ".encode(), dtype=np.uint8).astype(np.int64)
    # A cheap rolling hash of each byte trigram; crc32 of the whole text adds one more bucket.
    g = (data[:-2] * 65599 * 65599 + data[1:-1] * 65599 + data[2:]) % _BUCKETS
    return np.append(g, zlib.crc32(text.encode()) % _BUCKETS)


def _raw(texts: list[str], model: str) -> npt.NDArray[np.float32]:
    """Sum of the projection rows of each text's byte trigrams (a sparse product, cheaper than dense counts).

    Texts are summed in groups of at most _CHUNK_ROWS gathered rows, so memory stays bounded whatever the
    batch; a group's sums equal the whole batch's bit for bit (reduceat segments are independent)."""
    proj = _projection(model)
    out = np.zeros((len(texts), proj.shape[1]), dtype=np.float32)
    grams = [_grams(text) for text in texts]
    i = 0
    while i < len(texts):
        j, rows = i, 0
        while j < len(texts) and (j == i or rows + grams[j].size <= _CHUNK_ROWS):
            rows += grams[j].size
            j += 1
        if j == i + 1 and rows > _CHUNK_ROWS:  # one very long text: summed piece by piece
            g = grams[i]
            for start in range(0, g.size, _CHUNK_ROWS):
                out[i] += proj[g[start:start + _CHUNK_ROWS]].sum(axis=0)
        else:
            starts = np.cumsum([0] + [g.size for g in grams[i:j - 1]])
            out[i:j] = np.add.reduceat(proj[np.concatenate(grams[i:j])], starts, axis=0)
        i = j
    return out


def unit_directions(texts: list[str], model: str) -> Array:
    """The true (unit-norm) embedding of each text under `model`."""
    if model not in MODELS:
        raise KeyError(model)
    raw = _raw(texts, model).astype(np.float64)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    return raw / np.where(norms == 0, 1.0, norms)


@dataclass(frozen=True)
class EmbedKnobs:
    """How a demo gateway departs from the truth. All fractions are chosen per input by a hash, so
    which inputs drift is reproducible; `noise` is fresh randomness on every call."""

    scale: float = 1.0
    unit: bool = True
    drift_rate: float = 0.0
    drift_cos: float = 0.95
    noise: float = 0.0


def embed(texts: list[str], model: str, knobs: EmbedKnobs, rng: np.random.Generator | None = None) -> Array:
    """Vectors for `texts` as a gateway configured with `knobs` would answer them."""
    vecs = unit_directions(texts, model)
    if knobs.drift_rate > 0:
        for i, text in enumerate(texts):
            key = _text_key(text, b"drift")
            if (key % 1_000_000) / 1_000_000 < knobs.drift_rate:
                vecs[i] = _rotate(vecs[i], knobs.drift_cos, key)
    if knobs.noise > 0:
        rng = rng or np.random.default_rng()
        jitter = rng.standard_normal(vecs.shape) * (knobs.noise / np.sqrt(vecs.shape[1]))
        vecs = vecs + jitter
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    if knobs.unit:
        return vecs
    # Raw magnitudes vary per input (about scale * [0.93, 1.07]) as a real model's do.
    mags = np.array([0.93 + 0.14 * ((_text_key(t, b"mag") % 10_000) / 10_000) for t in texts])
    return vecs * (knobs.scale * mags)[:, None]


def _rotate(v: Array, cos: float, key: int) -> Array:
    """A unit vector at exactly cosine `cos` from unit vector `v`, in a direction fixed by `key`."""
    w: Array = np.asarray(np.random.default_rng(key).standard_normal(v.shape[0]), dtype=np.float64)
    w = w - float(w @ v) * v
    w = w / float(np.linalg.norm(w))
    out: Array = cos * v + np.sqrt(max(0.0, 1.0 - cos * cos)) * w
    return out

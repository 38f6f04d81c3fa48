"""The demo document corpus both retrieval probes' gateways serve, its seeded query set, and the on-disk cache.

Documents are seeded pseudo-text (a Zipf-distributed vocabulary, so BM25 and the trigram embedder both find
structure), embedded with the demo embedder (`farm/probes/embed/embedder.py`). Building the default corpus
takes a few seconds; its vectors and indexes are cached under `$FARM_CACHE_DIR` (default `~/.cache/farm`),
keyed by everything that shapes them, so later gateways start at once.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from farm.probes.embed.embedder import unit_directions

DEFAULT_DOCS = 20_000
DEFAULT_MODEL = "all-minilm"  # 384 dimensions: a real corpus size at a fraction of the 768-d cost
CORPUS_VERSION = 1
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "zo", "pa", "qu", "el", "an", "or", "is", "um")


def cache_dir() -> Path:
    root = os.environ.get("FARM_CACHE_DIR") or str(Path.home() / ".cache" / "farm")
    path = Path(root) / "retrieval"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _vocabulary(seed: int, size: int = 3000) -> list[str]:
    rng = random.Random(f"farm-vocab:{seed}")
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))))
    return sorted(words)


@dataclass(frozen=True)
class DocCorpus:
    """`n` seeded documents; a fraction `duplicates` of them are exact copies of earlier ones (other ids)."""

    n: int = DEFAULT_DOCS
    seed: int = 0
    duplicates: float = 0.0
    model: str = DEFAULT_MODEL

    @property
    def key(self) -> str:
        raw = f"v{CORPUS_VERSION}:{self.n}:{self.seed}:{self.duplicates:.6f}:{self.model}"
        return hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()

    @cached_property
    def texts(self) -> list[str]:
        vocab = np.array(_vocabulary(self.seed))
        weights = 1.0 / np.arange(1, vocab.size + 1) ** 1.05
        rng = np.random.default_rng([CORPUS_VERSION, self.seed])
        lengths = rng.integers(8, 25, size=self.n)
        words = vocab[rng.choice(vocab.size, size=int(lengths.sum()), p=weights / weights.sum())].tolist()
        ends = np.cumsum(lengths).tolist()
        out = [" ".join(words[a:b]) for a, b in zip([0, *ends[:-1]], ends, strict=True)]
        for i, j in self.duplicate_of.items():
            out[i] = out[j]
        return out

    @cached_property
    def duplicate_of(self) -> dict[int, int]:
        """Document index -> the earlier document it copies (exact duplicates: equal scores, distance ties)."""
        if self.duplicates <= 0:
            return {}
        rng = random.Random(f"farm-dups:{self.seed}:{self.duplicates}")
        count = int(self.n * self.duplicates)
        copies = sorted(rng.sample(range(1, self.n), count))
        taken = set(copies)
        out: dict[int, int] = {}
        for i in copies:
            j = rng.randrange(i)
            while j in taken:  # copy an original, so every duplicate group has one canonical member
                j = rng.randrange(i)
            out[i] = j
        return out

    @cached_property
    def canonical(self) -> npt.NDArray[np.int64]:
        """For each document, the index whose score it shares (itself unless it is a duplicate)."""
        canon = np.arange(self.n, dtype=np.int64)
        for i, j in self.duplicate_of.items():
            canon[i] = j
        return canon

    def doc_id(self, i: int) -> str:
        return f"d{i:06d}"

    @cached_property
    def ids(self) -> list[str]:
        return [self.doc_id(i) for i in range(self.n)]

    @cached_property
    def vectors(self) -> npt.NDArray[np.float32]:
        """Unit vectors of the documents (float32), from the cache when present."""
        if self.duplicate_of:  # a copy's vector is its original's: derived from the corpus without copies
            base = DocCorpus(self.n, self.seed, 0.0, self.model).vectors
            return base[self.canonical]
        path = cache_dir() / f"vectors-{self.key}.npy"
        if path.exists():
            loaded: npt.NDArray[np.float32] = np.load(path)
            return loaded
        texts = self.texts
        out = np.empty((self.n, 384 if self.model in ("all-minilm", "bge-small") else 768), dtype=np.float32)
        for start in range(0, self.n, 256):  # chunks: the trigram gather is (grams x dim) floats
            out[start:start + 256] = unit_directions(texts[start:start + 256], self.model)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, out)
        os.replace(tmp, path)
        return out


def synthetic_query(seed: int, idx: int, n_docs: int = DEFAULT_DOCS) -> str:
    """Query `idx` of the seeded query set: 2 to 5 words drawn from one document of the default corpus, so
    every query has real neighbours (the same words in the same order, near the same trigrams)."""
    rng = random.Random(f"farm-query:{seed}:{idx}")
    doc = _default_texts(n_docs)[rng.randrange(n_docs)].split()
    width = min(len(doc), rng.randint(2, 5))
    start = rng.randrange(len(doc) - width + 1)
    return " ".join(doc[start:start + width])


_TEXTS: dict[int, list[str]] = {}


def _default_texts(n: int) -> list[str]:
    if n not in _TEXTS:
        _TEXTS[n] = DocCorpus(n=n).texts
    return _TEXTS[n]

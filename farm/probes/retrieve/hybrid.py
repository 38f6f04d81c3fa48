"""The retrieve demo gateway's hybrid retrieval: BM25 (bm25s) fused with the vector ranking.

Each retriever gives its top `POOL` documents; their scores are min-max normalised over that pool, and the
fused score is `alpha * vector + (1 - alpha) * lexical` (a document missing from one pool scores 0 there), or
reciprocal rank fusion (`1/(60 + rank)` summed, `alpha` weighting the vector side) with `--fusion rrf`. A
changed `alpha`, `k1` or `b` is the realistic candidate drift. The BM25 index is cached next to the vectors.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

import numpy as np
import numpy.typing as npt

from farm.probes.search.corpus import DocCorpus, cache_dir
from farm.probes.search.index import VectorIndex

POOL = 100
RRF_K = 60
WEIGHTED, RRF = "weighted", "rrf"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _bm25(corpus: DocCorpus, k1: float, b: float) -> Any:
    import bm25s  # type: ignore[import-untyped]

    path = cache_dir() / f"bm25-{corpus.key}-k1{k1:g}-b{b:g}"
    if path.is_dir():
        return bm25s.BM25.load(str(path))
    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.index([tokens(t) for t in corpus.texts], show_progress=False)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    retriever.save(str(tmp))
    try:
        os.replace(tmp, path)
    except OSError:  # another gateway cached it first
        shutil.rmtree(tmp, ignore_errors=True)
    return retriever


def _minmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    lo, hi = float(scores.min()), float(scores.max())
    return (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)


class HybridIndex:
    def __init__(self, corpus: DocCorpus, *, alpha: float = 0.5, k1: float = 1.5, b: float = 0.75,
                 fusion: str = WEIGHTED) -> None:
        if fusion not in (WEIGHTED, RRF):
            raise ValueError(f"unknown fusion {fusion!r} (known: {WEIGHTED}, {RRF})")
        self.corpus, self.alpha, self.fusion = corpus, alpha, fusion
        self.vectors = VectorIndex(corpus)
        self.bm25 = _bm25(corpus, k1, b)
        self.vocab = set(self.bm25.vocab_dict)

    def lexical(self, query: str, depth: int) -> tuple[list[int], list[float]]:
        words = [w for w in tokens(query) if w in self.vocab]
        if not words:
            return [], []
        docs, scores = self.bm25.retrieve([words], k=min(depth, self.corpus.n), show_progress=False)
        pairs = [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        return [d for d, _ in pairs], [s for _, s in pairs]

    def search(self, query: str, vec: npt.NDArray[np.float32], k: int,
               depth: int = 0) -> tuple[list[int], list[float], list[int], list[int]]:
        """Fused top `k + depth` (indices, scores), and each retriever's own top k (indices)."""
        pool = max(POOL, k + depth)
        v_idx, v_sim = self.vectors.search(vec, pool)
        l_idx, l_sc = self.lexical(query, pool)
        fused: dict[int, float] = {}
        if self.fusion == WEIGHTED:
            for idx, s in zip(v_idx, _minmax(np.asarray(v_sim)).tolist(), strict=True):
                fused[idx] = fused.get(idx, 0.0) + self.alpha * s
            if l_idx:
                for idx, s in zip(l_idx, _minmax(np.asarray(l_sc)).tolist(), strict=True):
                    fused[idx] = fused.get(idx, 0.0) + (1.0 - self.alpha) * s
        else:
            for weight, ranked in ((self.alpha, v_idx), (1.0 - self.alpha, l_idx)):
                for rank, idx in enumerate(ranked):
                    fused[idx] = fused.get(idx, 0.0) + weight / (RRF_K + rank + 1)
        order = sorted(fused.items(), key=lambda p: (-round(p[1], 12), p[0]))[:k + depth]
        return [i for i, _ in order], [s for _, s in order], v_idx[:k], l_idx[:k]

"""The demo gateways' vector indexes over the document corpus: exact brute force or HNSW (both faiss-cpu).

Exact search (a flat inner-product index, one thread: on a loaded 2-core box a single-threaded scan is about
2-3x faster than numpy's threaded BLAS) gives every duplicate document its original's score bit for bit (ties
are real ties) and breaks ties by document order (`tie_break="id"`) or its reverse, as two implementations may.
HNSW is approximate: its recall falls with `ef`; the built graph is cached next to the corpus vectors.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import numpy.typing as npt

from farm.probes.search.corpus import DocCorpus, cache_dir

EXACT, HNSW = "exact", "hnsw"
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 40
_POOL = 64  # extra candidates around the k-th rank, so ties at the boundary are ordered by the tie rule


class VectorIndex:
    def __init__(self, corpus: DocCorpus, kind: str = EXACT, ef: int = 64, tie_break: str = "id") -> None:
        if kind not in (EXACT, HNSW):
            raise ValueError(f"unknown index {kind!r} (known: {EXACT}, {HNSW})")
        if tie_break not in ("id", "reverse"):
            raise ValueError(f"unknown tie break {tie_break!r} (known: id, reverse)")
        self.corpus, self.kind, self.ef, self.tie_break = corpus, kind, ef, tie_break
        self.vectors = corpus.vectors
        self.canonical = corpus.canonical
        self._lock = threading.Lock()
        self._hnsw = self._load_hnsw() if kind == HNSW else None
        self._flat = self._load_flat() if kind == EXACT else None

    def _load_flat(self) -> object:
        import faiss

        faiss.omp_set_num_threads(1)
        index = faiss.IndexFlatIP(self.vectors.shape[1])
        index.add(self.vectors)
        return index

    def _load_hnsw(self) -> object:
        import faiss

        faiss.omp_set_num_threads(1)  # a 2-core box: faiss's threads would fight the farm for CPU
        path = cache_dir() / f"hnsw-{self.corpus.key}-m{HNSW_M}-efc{HNSW_EF_CONSTRUCTION}.faiss"
        if path.exists():
            index = faiss.read_index(str(path))
        else:
            index = faiss.IndexHNSWFlat(self.vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.add(self.vectors)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            faiss.write_index(index, str(tmp))
            os.replace(tmp, path)
        index.hnsw.efSearch = self.ef  # type: ignore[attr-defined]
        return index

    def search(self, query: npt.NDArray[np.float32], k: int, depth: int = 0) -> tuple[list[int], list[float]]:
        """The top `k + depth` documents of one unit query vector (indices, similarities), nearest first."""
        want = min(k + depth, self.vectors.shape[0])
        if self._hnsw is not None:
            with self._lock:  # one search at a time: efSearch is index state
                sims, idx = self._hnsw.search(query[None, :], want)  # type: ignore[attr-defined]
            pairs = [(int(i), float(s)) for i, s in zip(idx[0], sims[0], strict=True) if i >= 0]
            return [i for i, _ in pairs], [s for _, s in pairs]
        pool = min(self.vectors.shape[0], want + _POOL)
        sims, idx = self._flat.search(query[None, :], pool)  # type: ignore[attr-defined]
        keep = idx[0] >= 0
        top, score = idx[0][keep].astype(np.int64), sims[0][keep].astype(np.float64)
        # Duplicates share their original's score exactly (the best score of their group in the pool).
        canon = self.canonical[top]
        best: dict[int, float] = {}
        for c, s in zip(canon.tolist(), score.tolist(), strict=True):
            best[c] = max(best.get(c, -np.inf), s)
        score = np.array([best[c] for c in canon.tolist()], dtype=np.float64)
        order_key = top if self.tie_break == "id" else -top
        order = np.lexsort((order_key, -score))[:want]
        return top[order].tolist(), score[order].tolist()

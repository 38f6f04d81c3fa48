"""The search demo gateway: one query embedded with the demo embedder, answered from a real index.

Knobs: `--index exact|hnsw` and `--ef` (approximate search whose recall falls with ef), `--duplicates R` (exact
duplicate documents: distance ties), `--tie-break id|reverse` (how equal scores are ordered), `--docs N`, and the
shared `--drift-rate R`: a fraction R of queries (chosen by a hash of the query) answered with a perturbed
ranking (the hits ranked k/2 to 3k/2 instead of the top k).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from farm.probes.base import Backend, MalformedBody
from farm.probes.embed.embedder import unit_directions
from farm.probes.search.corpus import DEFAULT_DOCS, DocCorpus
from farm.probes.search.index import EXACT, HNSW, VectorIndex
from farm.probes.search.profile import SearchProfile


def drifts(query: str, rate: float) -> bool:
    """Whether this query is one the drifting gateway perturbs (the same queries on every call and run)."""
    return rate > 0 and int(hashlib.md5(query.encode()).hexdigest()[:6], 16) / 2**24 < rate


def perturb(ranked: list[int], sims: list[float], k: int) -> tuple[list[int], list[float]]:
    """A perturbed ranking: the hits ranked k/2 to 3k/2 (half the true top k is missing)."""
    shift = max(1, k // 2)
    return ranked[shift:shift + k], sims[shift:shift + k]


def corpus_from(knobs: dict[str, Any]) -> DocCorpus:
    docs = int(knobs.get("docs") or DEFAULT_DOCS)
    duplicates = float(knobs.get("duplicates") or 0.0)
    if docs < 100:
        raise MalformedBody(f"--docs {docs}: the demo corpus needs at least 100 documents")
    if not 0.0 <= duplicates < 0.5:
        raise MalformedBody(f"--duplicates {duplicates}: expected a fraction in [0, 0.5)")
    return DocCorpus(n=docs, duplicates=duplicates)


@lru_cache(maxsize=4096)
def embed_query(query: str, model: str) -> npt.NDArray[np.float32]:
    vec: npt.NDArray[np.float32] = unit_directions([query], model)[0].astype(np.float32)
    return vec


def query_vector(profile: SearchProfile, body: dict[str, Any],
                 corpus: DocCorpus) -> tuple[str, npt.NDArray[np.float32]]:
    """The query's text (for the drift hash and BM25) and its unit vector."""
    query = profile.query_of(body)
    vector = profile.vector_of(body)
    if vector is not None:
        vec = np.asarray(vector, dtype=np.float32)
        if vec.size != corpus.vectors.shape[1]:
            raise MalformedBody(f"vector has {vec.size} dimensions, the index {corpus.vectors.shape[1]}")
        norm = float(np.linalg.norm(vec))
        return query or ",".join(f"{v:.4f}" for v in vector[:8]), vec / (norm or 1.0)
    if query is None:
        raise MalformedBody(f"request needs {profile.query_field!r} or {profile.vector_field!r}")
    return query, embed_query(query, corpus.model)


def search_backend(profile: SearchProfile, knobs: dict[str, Any]) -> Backend:
    corpus = corpus_from(knobs)
    kind = str(knobs.get("index") or EXACT)
    if kind not in (EXACT, HNSW):
        raise MalformedBody(f"--index {kind!r}: expected {EXACT} or {HNSW}")
    ef = int(knobs.get("ef") or 64)
    if ef < 1:
        raise MalformedBody(f"--ef {ef}: expected a positive integer")
    tie = str(knobs.get("tie_break") or "id")
    if tie not in ("id", "reverse"):
        raise MalformedBody(f"--tie-break {tie!r}: expected id or reverse")
    index = VectorIndex(corpus, kind, ef, tie)
    rate = float(knobs.get("drift_rate") or 0.0)
    ids = corpus.ids

    def answer(body: dict[str, Any]) -> tuple[int, Callable[[], Any]]:
        k = profile.k_of(body)
        query, vec = query_vector(profile, body, corpus)

        def compute() -> Any:
            start = time.perf_counter()
            perturbed = drifts(query, rate)
            ranked, sims = index.search(vec, k, depth=k if perturbed else 0)
            if perturbed:
                ranked, sims = perturb(ranked, sims, k)
            took = (time.perf_counter() - start) * 1000.0
            return profile.build_response([ids[i] for i in ranked], sims, None, took)

        return 1, compute

    return answer

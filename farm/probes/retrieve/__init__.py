"""The retrieve probe: the user-facing hybrid retrieval path (`/v1/matrix/retrieve` against `/vectors/hybrid`).

Everything the search probe measures per query (tie-aware recall@k, Jaccard, RBO, Kendall tau-b, first
disagreement, score relation), plus, when both gateways expose the parts of their fusion (profiles with
`lexical_path` / `vector_path`), the overlap of the lexical-only and vector-only top-k: the report can then say
whether the fusion or one retriever drifted. The demo gateway fuses BM25 (bm25s) with the vector ranking
(`hybrid.py`); `--alpha`, `--bm25-k1`, `--bm25-b` and `--fusion` are its drift knobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import click

from farm.probes import register
from farm.probes.base import Backend, Column, Compared, DemoOption, MalformedBody, Profile, SideResult
from farm.probes.retrieve.profile import PRESETS, RetrievedHits, RetrieveProfile
from farm.probes.search import DOCS, DUPLICATES, SEARCH_COLUMNS, SearchProbe
from farm.stats.params import VerdictParams
from farm.wiredrift.roles import DriftRoles


def _as_retrieve(profile: Profile) -> RetrieveProfile:
    if not isinstance(profile, RetrieveProfile):
        raise TypeError(f"profile {profile.name} is a {profile.probe} profile, not a retrieve one")
    return profile


def part_overlap(legacy: list[str] | None, candidate: list[str] | None, k: int) -> float | None:
    """Share of legacy's part top-k that the candidate's same part holds (None: a side does not expose it)."""
    if legacy is None or candidate is None:
        return None
    ref = legacy[:k]
    return len(set(ref) & set(candidate[:k])) / len(ref) if ref else 1.0


class RetrieveProbe(SearchProbe):
    name = "retrieve"
    title = "Retrieve parity (hybrid)"
    demo_shows = "hybrid BM25 + vector retrieval: the same documents under renamed fields"
    profile_type: ClassVar[type[Profile]] = RetrieveProfile
    presets = PRESETS
    columns: ClassVar[tuple[Column, ...]] = (*SEARCH_COLUMNS, Column("lexical_overlap", "float"),
                                             Column("vector_overlap", "float"))
    demo_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--alpha", "Fusion weight of the vector ranking (1 - alpha for BM25).", 0.5,
                   click.FloatRange(0.0, 1.0)),
        DemoOption("--bm25-k1", "BM25 k1.", 1.5, click.FloatRange(min=0.0)),
        DemoOption("--bm25-b", "BM25 b.", 0.75, click.FloatRange(0.0, 1.0)),
        DemoOption("--fusion", "weighted (min-max normalised scores) or rrf (reciprocal rank fusion).", "weighted",
                   str),
        DemoOption("--duplicates", "Fraction of documents that are exact copies of others (distance ties).", 0.0,
                   DUPLICATES),
        DemoOption("--docs", "Documents in the demo corpus.", 20_000, DOCS),
    )

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        hits, error = _as_retrieve(profile).parse_retrieved(doc)
        return [hits], [error]

    def decode(self, header: Any, body: bytes) -> Any:
        return [RetrievedHits.from_json(h) if h is not None else None for h in header]

    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        compared = super().compare(legacy, candidate, n, params, options)
        k = int(options.get("k") or 10)
        lv = legacy.value if legacy.value is not None else [None] * n
        cv = candidate.value if candidate.value is not None else [None] * n
        for part in ("lexical", "vector"):
            compared.columns[f"{part}_overlap"] = [
                part_overlap(getattr(a, part, None), getattr(b, part, None), k) if a is not None and b is not None
                else None for a, b in zip(lv, cv, strict=True)]
        return compared

    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        from farm.probes.retrieve.hybrid import HybridIndex
        from farm.probes.search.demo import corpus_from, drifts, perturb, query_vector

        p = _as_retrieve(profile)
        corpus = corpus_from(knobs)
        alpha = float(knobs["alpha"] if knobs.get("alpha") is not None else 0.5)
        if not 0.0 <= alpha <= 1.0:
            raise MalformedBody(f"--alpha {alpha}: expected a weight in [0, 1]")
        fusion = str(knobs.get("fusion") or "weighted")
        if fusion not in ("weighted", "rrf"):
            raise MalformedBody(f"--fusion {fusion!r}: expected weighted or rrf")
        index = HybridIndex(corpus, alpha=alpha, k1=float(knobs.get("bm25_k1") or 1.5),
                            b=float(knobs.get("bm25_b") or 0.75), fusion=fusion)
        rate = float(knobs.get("drift_rate") or 0.0)
        ids, texts = corpus.ids, corpus.texts

        def answer(body: dict[str, Any]) -> tuple[int, Callable[[], Any]]:
            k = p.k_of(body)
            query, vec = query_vector(p, body, corpus)
            if p.alpha_field and body.get(p.alpha_field) is not None:
                raise MalformedBody(f"{p.alpha_field!r}: the demo gateway's fusion weight is set by --alpha")

            def compute() -> Any:
                start = time.perf_counter()
                perturbed = drifts(query, rate)
                ranked, scores, vec_top, lex_top = index.search(query, vec, k, depth=k if perturbed else 0)
                if perturbed:
                    ranked, scores = perturb(ranked, scores, k)
                took = (time.perf_counter() - start) * 1000.0
                doc = p.build_response([ids[i] for i in ranked], scores, [texts[i] for i in ranked], took)
                p.add_parts(doc, [ids[i] for i in lex_top], [ids[i] for i in vec_top])
                return doc

            return 1, compute

        return answer


    def drift_roles(self) -> DriftRoles:
        from farm.probes.retrieve.drift import RetrieveRoles

        return RetrieveRoles()


PROBE = register(RetrieveProbe())

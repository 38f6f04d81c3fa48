"""The search probe: do two gateways' vector searches return the same top-k, query by query?

Per query: tie-aware recall@k against the legacy top-k (the score), plain recall, Jaccard@k, extrapolated RBO,
Kendall tau-b on the common hits, the first rank where the lists disagree, and the fitted relation between
the two sides' scores (identity, `1 - s`, a scale). Verdict: the bounded-mean family on recall@k. The folder:
wire profile and presets (`profile.py`), metrics (`metrics.py`), the batch comparison (`compare.py`), the
verdict (`verdict.py`), the demo corpus, index and gateway (`corpus.py`, `index.py`, `demo.py`), drift roles
(`drift.py`) and report sections (`report.py`). The retrieve probe (`farm/probes/retrieve/`) builds on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import click
from numpy.typing import NDArray

from farm.probes import register
from farm.probes.base import Backend, Column, Compared, DemoOption, MalformedBody, Probe, Profile, SideResult
from farm.probes.search.profile import PRESETS, UNSORTED, Hits, SearchProfile
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict
from farm.wiredrift.roles import DriftRoles

SEARCH_COLUMNS = (
    Column("recall_plain", "float"), Column("jaccard", "float"), Column("rbo", "float"),
    Column("kendall_tau", "float"), Column("first_diff", "int"), Column("tie_credit", "int"),
    Column("legacy_tied", "int"), Column("relation", "text"), Column("rel_scale", "float"), Column("k", "int"),
    Column("n_legacy", "int"), Column("n_candidate", "int"), Column("legacy_top", "text"),
    Column("candidate_top", "text"),
)
# Demo corpus knobs, shared with retrieve (one click option per flag: the types must agree).
DOCS = click.IntRange(min=100)
DUPLICATES = click.FloatRange(0.0, 0.5, max_open=True)
SWEEP_OPTIONS = (
    DemoOption("--k", "Hits asked of both gateways per query (recall@k).", 10, click.IntRange(1, 1000)),
    DemoOption("--tie-eps", "A candidate hit within this of the legacy k-th score counts (tie-aware recall).",
               1e-6, click.FloatRange(min=0.0)),
    DemoOption("--rbo-p", "Persistence of rank-biased overlap.", 0.9,
               click.FloatRange(0.0, 1.0, min_open=True, max_open=True)),
    DemoOption("--rbo-min", "Also require the mean RBO's lower bound >= this (optional gate).", None,
               click.FloatRange(0.0, 1.0, min_open=True, max_open=True)),
)


def as_search(profile: Profile) -> SearchProfile:
    if not isinstance(profile, SearchProfile):
        raise TypeError(f"profile {profile.name} is a {profile.probe} profile, not a search one")
    return profile


class SearchProbe(Probe):
    name = "search"
    demo_samples = 900  # a PASS takes ~740 perfect queries: 900 decide it (400 ended INCONCLUSIVE)
    demo_shows = "exact search: same neighbours although distances replace similarities"
    title = "Search parity"
    quantity = "recall@k"
    family = "mean"
    batched = False
    profile_type: ClassVar[type[Profile]] = SearchProfile
    presets = PRESETS
    default_profiles = ("lakehouse-legacy", "lakehouse-candidate")
    columns: ClassVar[tuple[Column, ...]] = SEARCH_COLUMNS
    default_tau, default_floor, default_p_max = 0.99, 0.5, 0.01
    sweep_options: ClassVar[tuple[DemoOption, ...]] = SWEEP_OPTIONS
    demo_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--index", "Vector index: exact (brute force) or hnsw (approximate, faiss).", "exact", str),
        DemoOption("--ef", "HNSW efSearch: recall falls as it falls.", 64, click.IntRange(min=1)),
        DemoOption("--duplicates", "Fraction of documents that are exact copies of others (distance ties).", 0.0,
                   DUPLICATES),
        DemoOption("--tie-break", "Order of equal scores: id (document order) or reverse.", "id", str),
        DemoOption("--docs", "Documents in the demo corpus.", 20_000, DOCS),
    )

    # --- corpus ------------------------------------------------------------------------------------
    def synthetic(self, seed: int, idx: int) -> Any:
        from farm.probes.search.corpus import synthetic_query

        return synthetic_query(seed, idx)

    def items_from_request(self, profile: Profile, body: dict[str, Any]) -> list[Any]:
        p = as_search(profile)
        query = p.query_of(body)
        if query is None:
            raise MalformedBody(f"request field {p.query_field or p.vector_field!r} holds no query text")
        return [query]

    # --- wire --------------------------------------------------------------------------------------
    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        p = as_search(profile)
        query = str(items[0])
        vector = None
        if p.query_field is None:  # a vector-only API: the query embedded with the demo embedder
            from farm.probes.embed.embedder import MODELS
            from farm.probes.search.corpus import DEFAULT_MODEL
            from farm.probes.search.demo import embed_query

            vector = embed_query(query, model if model in MODELS else DEFAULT_MODEL).astype(float).tolist()
        return p.build_request(query, vector, int(options.get("k") or 10))

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        hits, error = as_search(profile).parse_hits(doc)
        return [hits], [error]

    def error_detail(self, profile: Profile, value: Any, errors: Sequence[str | None]) -> str | None:
        if UNSORTED in errors and value and isinstance(value[0], Hits):
            return as_search(profile).order_hint(value[0].scores)
        return None

    def encode(self, value: Any) -> tuple[Any, bytes]:
        return [h.to_json() if h is not None else None for h in value], b""

    def decode(self, header: Any, body: bytes) -> Any:
        return [Hits.from_json(h) if h is not None else None for h in header]

    # --- comparison --------------------------------------------------------------------------------
    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        from farm.probes.search.compare import compare_hits

        return compare_hits(legacy, candidate, n, params, options)

    # --- verdict -----------------------------------------------------------------------------------
    def decide(self, arrays: dict[str, NDArray[Any]], errors: dict[str, list[str | None]], params: VerdictParams,
               *, planned: int | None, noise: NoiseSamples | None, sequential: bool,
               options: Mapping[str, Any] | None = None) -> Verdict:
        from farm.probes.search.verdict import decide_retrieval

        return decide_retrieval(arrays, errors, params, planned=planned, noise=noise, sequential=sequential,
                                options=options or {})

    # --- demo --------------------------------------------------------------------------------------
    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        from farm.probes.search.demo import search_backend

        return search_backend(as_search(profile), knobs)

    # --- report ------------------------------------------------------------------------------------
    def report_sections(self, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[
            list[str], list[Path]]:
        from farm.probes.search.report import sections

        return sections(self, url, sweep, verdict, out_dir, stem)

    def parity_cell(self, verdict: Any, params: dict[str, Any]) -> str:
        k = (params.get("probe_options") or {}).get("k", 10)
        return f"✅ PASS recall@{k} ≥ {params.get('tau', 0.99)} over {verdict.n:,} queries"

    def drift_roles(self) -> DriftRoles:
        from farm.probes.search.drift import SearchRoles

        return SearchRoles()


PROBE = register(SearchProbe())

"""The search comparison of one batch of queries: per query, the candidate's top-k against the legacy top-k."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from farm.probes.base import Compared, SideResult
from farm.probes.search.metrics import declared_relation, query_metrics
from farm.probes.search.profile import Hits
from farm.stats.params import VerdictParams

COLUMNS = ("recall_plain", "jaccard", "rbo", "kendall_tau", "first_diff", "tie_credit", "legacy_tied",
           "relation", "rel_scale", "k", "n_legacy", "n_candidate", "legacy_top", "candidate_top")
TOP_CHARS = 500


def top_text(hits: Hits, k: int) -> str:
    """`id@score` of the top k, for the report's side-by-side lists (cut to fit the column)."""
    text = " ".join(f"{h}@{s:.6f}" for h, s in zip(hits.ids[:k], hits.scores[:k], strict=True))
    return text if len(text) <= TOP_CHARS else text[:TOP_CHARS].rsplit(" ", 1)[0]


def compare_hits(legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                 options: Mapping[str, Any]) -> Compared:
    k = int(options.get("k") or 10)
    eps_opt = options.get("tie_eps")
    eps = float(eps_opt) if eps_opt is not None else 1e-6
    p = float(options.get("rbo_p") or 0.9)
    lvals: Sequence[Hits | None] = legacy.value if legacy.value is not None else [None] * n
    cvals: Sequence[Hits | None] = candidate.value if candidate.value is not None else [None] * n
    le, ce = list(legacy.errors), list(candidate.errors)
    score: list[float | None] = [None] * n
    cols: dict[str, list[Any]] = {c: [None] * n for c in COLUMNS}
    cols["k"] = [k] * n
    for i in range(n):
        lh, ch = lvals[i], cvals[i]
        cols["n_legacy"][i] = len(lh.ids) if lh is not None else None
        cols["n_candidate"][i] = len(ch.ids) if ch is not None else None
        if lh is not None:
            cols["legacy_top"][i] = top_text(lh, k)
        if ch is not None:
            cols["candidate_top"][i] = top_text(ch, k)
        if lh is None or ch is None or le[i] is not None or ce[i] is not None:
            continue
        m = query_metrics(lh.ids, lh.scores, ch.ids, ch.scores, k, legacy_descending=lh.descending,
                          declared=declared_relation(lh.kind, ch.kind), eps=eps, p=p)
        score[i] = m.recall
        cols["recall_plain"][i] = m.recall_plain
        cols["jaccard"][i] = m.jaccard
        cols["rbo"][i] = m.rbo
        cols["kendall_tau"][i] = m.kendall_tau
        cols["first_diff"][i] = m.first_diff
        cols["tie_credit"][i] = m.tie_credit
        cols["legacy_tied"][i] = m.legacy_tied
        cols["relation"][i] = m.relation.kind
        cols["rel_scale"][i] = m.relation.scale
    agreed = [None if s is None else s >= params.tau for s in score]
    return Compared(score, agreed, le, ce, cols)

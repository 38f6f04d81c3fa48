"""Search field roles for the drift catalog: the hit list, its id and score fields, the score's meaning.

Inferred from the data where the data can say it: the order the scores come in (descending: a similarity;
ascending: a distance) and the relation between the two sides' scores on the same hits of the same query
(identity, `1 - s`, a scale), fitted on the batches the observer diffs in full. The profile names the paths.
The catalog's rows: URL, request fields (query, `k` vs `top_k`), hit list, id, score, score semantics; the
adapter map moves the hit fields and turns a distance back into a similarity.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from farm.probes.base import Profile
from farm.probes.search.metrics import IDENTITY, ONE_MINUS, SCALE, fit_relation
from farm.probes.search.profile import SearchProfile
from farm.wiredrift.roles import DriftRoles, RoleFields, url_row
from farm.wiredrift.rows import DriftRow

MAX_QUERIES = 16  # queries whose (id, score) pairs are kept per side to fit the score relation


def _search(profile: Profile) -> SearchProfile:
    assert isinstance(profile, SearchProfile)
    return profile


def hit_path(p: SearchProfile, leaf: str | None) -> str | None:
    return f"{p.hits_path}[].{leaf}" if leaf else None


def _code(path: str | None) -> str:
    return f"`{path}`" if path is not None else "(none)"


class SearchRoles(DriftRoles):
    fact_keys = ("order",)

    def empty_facts(self) -> dict[str, Any]:
        return {**super().empty_facts(), "scores": {}}

    def observe_facts(self, facts: dict[str, Any], profile: Profile, request: Any, flat: dict[str, Any]) -> str | None:
        p = _search(profile)
        facts["docs"] += 1
        ids, scores = flat.get(hit_path(p, p.id_field) or ""), flat.get(hit_path(p, p.score_field) or "")
        if isinstance(scores, list) and len(scores) > 1 and all(isinstance(s, int | float) for s in scores):
            desc = all(a >= b for a, b in itertools.pairwise(scores))
            asc = all(a <= b for a, b in itertools.pairwise(scores))
            key = "flat" if desc and asc else "descending" if desc else "ascending" if asc else "unordered"
            facts["order"][key] = facts["order"].get(key, 0) + 1
        # Keyed by observation order: the observer folds both sides of a batch together, so the n-th entry of
        # each side answers the same query (a vector-only API has no query text to key by).
        if len(facts["scores"]) < MAX_QUERIES:
            pairs = {str(i): v for i, v in zip(ids, scores, strict=False) if isinstance(v, int | float)} \
                if isinstance(ids, list) and isinstance(scores, list) else {}
            facts["scores"][str(len(facts["scores"]))] = pairs
        return None

    def merge_facts(self, facts: dict[str, Any], other: dict[str, Any]) -> None:
        super().merge_facts(facts, other)
        for pairs in other.get("scores", {}).values():  # renumbered in order: both sides stay aligned
            if len(facts["scores"]) < MAX_QUERIES:
                facts["scores"][str(len(facts["scores"]))] = pairs

    def fields(self, state: dict[str, Any], profile: Profile, side: str) -> RoleFields:
        p = _search(profile)
        extra = tuple(x for x in (hit_path(p, p.id_field), hit_path(p, p.score_field), hit_path(p, p.text_field))
                      if x is not None)
        return RoleFields(texts=p.query_field or p.vector_field, extra=extra)

    def relation(self, state: dict[str, Any]) -> tuple[str, float | None, int]:
        """The fitted score relation over the observed queries: (kind, scale, queries with common hits)."""
        lq, cq = state["facts"]["legacy"].get("scores", {}), state["facts"]["candidate"].get("scores", {})
        kinds: Counter[str] = Counter()
        scales: list[float] = []
        for key, lpairs in lq.items():
            cpairs = cq.get(key)
            if not cpairs:
                continue
            common = [h for h in lpairs if h in cpairs]
            if not common:
                continue
            rel = fit_relation([lpairs[h] for h in common], [cpairs[h] for h in common])
            kinds[rel.kind] += 1
            if rel.kind == SCALE and rel.scale:
                scales.append(rel.scale)
        if not kinds:
            return "unknown", None, 0
        kind = kinds.most_common(1)[0][0]
        return kind, (sorted(scales)[len(scales) // 2] if kind == SCALE and scales else None), sum(kinds.values())

    def _order(self, state: dict[str, Any], side: str) -> str:
        counts: dict[str, int] = state["facts"][side].get("order", {})
        ordered = {k: v for k, v in counts.items() if k != "flat"}
        if not ordered:
            return "order not observed"
        main = max(sorted(ordered), key=lambda k: ordered[k])
        return f"{main} ({ordered[main]} of {sum(ordered.values())} responses)"

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        lp, cp = _search(legacy), _search(candidate)
        kind, scale, queries = self.relation(state)
        l_req = [f for f in (lp.index_field, lp.query_field or lp.vector_field, lp.k_field) if f]
        c_req = [f for f in (cp.index_field, cp.query_field or cp.vector_field, cp.k_field) if f]
        lo, co = self._order(state, "legacy"), self._order(state, "candidate")
        fitted = {IDENTITY: "identity", ONE_MINUS: "candidate = 1 - legacy",
                  SCALE: f"candidate = {scale:.4g} x legacy" if scale else "a scale",
                  "none": "no simple relation (the scoring drifted)"}.get(kind, f"{kind}")
        same_semantics = lp.score_kind == cp.score_kind and kind in (IDENTITY, "unknown")
        rows = [
            url_row(legacy, candidate),
            DriftRow("request", "Request fields (index, query, k)", f"`{{{', '.join(l_req)}}}`",
                     f"`{{{', '.join(c_req)}}}`", l_req == c_req,
                     {"legacy_fields": l_req, "candidate_fields": c_req, "legacy_k": lp.k_field,
                      "candidate_k": cp.k_field}),
            DriftRow("hits", "Response: hit list", _code(lp.hits_path), _code(cp.hits_path),
                     lp.hits_path == cp.hits_path, {"legacy_path": lp.hits_path, "candidate_path": cp.hits_path}),
            DriftRow("hit_id", "Response: hit id field", _code(hit_path(lp, lp.id_field)),
                     _code(hit_path(cp, cp.id_field)), hit_path(lp, lp.id_field) == hit_path(cp, cp.id_field),
                     {"legacy_path": hit_path(lp, lp.id_field), "candidate_path": hit_path(cp, cp.id_field)}),
            DriftRow("hit_score", "Response: hit score field", _code(hit_path(lp, lp.score_field)),
                     _code(hit_path(cp, cp.score_field)),
                     hit_path(lp, lp.score_field) == hit_path(cp, cp.score_field),
                     {"legacy_path": hit_path(lp, lp.score_field), "candidate_path": hit_path(cp, cp.score_field)}),
            DriftRow("score", "Score semantics and order", f"{lp.score_kind}, {lo}",
                     f"{cp.score_kind}, {co}; fitted on common hits: {fitted} ({queries} queries)",
                     same_semantics,
                     {"legacy_kind": lp.score_kind, "candidate_kind": cp.score_kind, "relation": kind,
                      "scale": scale, "queries": queries, "legacy_order": lo, "candidate_order": co}),
        ]
        if lp.text_field or cp.text_field:
            rows.append(DriftRow("hit_text", "Response: hit text field", _code(hit_path(lp, lp.text_field)),
                                 _code(hit_path(cp, cp.text_field)),
                                 hit_path(lp, lp.text_field) == hit_path(cp, cp.text_field),
                                 {"legacy_path": hit_path(lp, lp.text_field),
                                  "candidate_path": hit_path(cp, cp.text_field)}))
        return rows

    def adapter_moves(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        lp, cp = _search(legacy), _search(candidate)
        moves = []
        for lf, cf in ((lp.id_field, cp.id_field), (lp.score_field, cp.score_field), (lp.text_field, cp.text_field)):
            src, dst = hit_path(cp, cf), hit_path(lp, lf)
            if src and dst and src != dst:
                moves.append({"from": src, "to": dst})
        return moves

    def adapter_ops(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        lp, cp = _search(legacy), _search(candidate)
        kind, scale, _ = self.relation(state)
        if kind == "unknown" or kind == "none":  # nothing fitted: trust the profiles' declared kinds
            kind = IDENTITY if lp.score_kind == cp.score_kind else ONE_MINUS
        path = hit_path(lp, lp.score_field)
        if kind == ONE_MINUS:
            return [{"op": "affine", "path": path, "scale": -1.0, "offset": 1.0,
                     "why": f"candidate {cp.score_kind} = 1 - legacy {lp.score_kind}"}]
        if kind == SCALE and scale:
            return [{"op": "affine", "path": path, "scale": 1.0 / scale, "offset": 0.0,
                     "why": f"candidate score = {scale:.4g} x legacy"}]
        return []

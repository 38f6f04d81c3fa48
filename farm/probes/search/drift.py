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
from farm.probes.search.kinds import AFFINE_IN_SIMILARITY, WORDS, kind_of_affine
from farm.probes.search.metrics import (
    AFFINE,
    CONVERTED,
    IDENTITY,
    MONOTONE,
    ONE_MINUS,
    SCALE,
    declared_relation,
    fit_relation,
)
from farm.probes.search.profile import SearchProfile
from farm.wiredrift.roles import DriftRoles, RoleFields, url_row
from farm.wiredrift.rows import DriftRow

MAX_QUERIES = 16  # queries whose (id, score) pairs are kept per side to fit the score relation


def _search(profile: Profile) -> SearchProfile:
    assert isinstance(profile, SearchProfile)
    return profile


def hit_path(p: SearchProfile, leaf: str | None) -> str | None:
    return f"{p.hits_path}[].{leaf}" if leaf else None


def line(offset: float, scale: float) -> str:
    """`2 - 2 x legacy`: an affine relation in words."""
    return f"{offset:.4g} {'-' if scale < 0 else '+'} {abs(scale):.4g} x legacy"


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

    def relation(self, state: dict[str, Any], legacy: SearchProfile | None = None,
                 candidate: SearchProfile | None = None) -> tuple[str, float | None, float, int]:
        """The fitted score relation over the observed queries: (kind, scale, offset, queries with common hits);
        candidate = offset + scale x legacy for the affine kinds (medians over the queries)."""
        lq, cq = state["facts"]["legacy"].get("scores", {}), state["facts"]["candidate"].get("scores", {})
        declared = declared_relation(legacy.score_kind, candidate.score_kind) if legacy and candidate else None
        kinds: Counter[str] = Counter()
        lines: list[tuple[float, float]] = []
        for key, lpairs in lq.items():
            cpairs = cq.get(key)
            if not cpairs:
                continue
            common = [h for h in lpairs if h in cpairs]
            if not common:
                continue
            rel = fit_relation([lpairs[h] for h in common], [cpairs[h] for h in common], declared=declared)
            kinds[rel.kind] += 1
            if rel.kind in (SCALE, AFFINE, ONE_MINUS) and rel.scale:
                lines.append((rel.scale, rel.offset))
        if not kinds:
            return "unknown", None, 0.0, 0
        kind = kinds.most_common(1)[0][0]
        if kind in (SCALE, AFFINE) and lines:
            scales, offsets = sorted(x for x, _ in lines), sorted(y for _, y in lines)
            return kind, scales[len(scales) // 2], offsets[len(offsets) // 2], sum(kinds.values())
        return kind, None, 0.0, sum(kinds.values())

    def _order(self, state: dict[str, Any], side: str) -> str:
        counts: dict[str, int] = state["facts"][side].get("order", {})
        ordered = {k: v for k, v in counts.items() if k != "flat"}
        if not ordered:
            return "order not observed"
        main = max(sorted(ordered), key=lambda k: ordered[k])
        return f"{main} ({ordered[main]} of {sum(ordered.values())} responses)"

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        lp, cp = _search(legacy), _search(candidate)
        kind, scale, offset, queries = self.relation(state, lp, cp)
        l_req = [f for f in (lp.index_field, lp.query_field or lp.vector_field, lp.k_field) if f]
        c_req = [f for f in (cp.index_field, cp.query_field or cp.vector_field, cp.k_field) if f]
        lo, co = self._order(state, "legacy"), self._order(state, "candidate")
        inferred = self.inferred_kind(kind, scale, offset, lp, cp)
        fitted = {IDENTITY: "identity", ONE_MINUS: "candidate = 1 - legacy",
                  SCALE: f"candidate = {scale:.4g} x legacy" if scale else "a scale",
                  AFFINE: f"candidate = {line(offset, scale or 0.0)}",
                  CONVERTED: f"the declared kinds ({lp.score_kind} -> {cp.score_kind})",
                  MONOTONE: "monotone, not affine (rank correlation 1 on the common hits)",
                  "none": "no simple relation (the scoring drifted)"}.get(kind, f"{kind}")
        if inferred and inferred != cp.score_kind:
            fitted += f"; the candidate's score reads as {WORDS[inferred]}, not {cp.score_kind}"
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
                      "scale": scale, "offset": offset, "inferred_candidate_kind": inferred, "queries": queries,
                      "legacy_order": lo, "candidate_order": co}),
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

    @staticmethod
    def inferred_kind(kind: str, scale: float | None, offset: float, lp: SearchProfile,
                      cp: SearchProfile) -> str | None:
        """The candidate's score kind as the fitted relation says it (None: no known kind fits)."""
        if kind == IDENTITY:
            return lp.score_kind
        if kind == ONE_MINUS:
            return kind_of_affine(1.0, -1.0, lp.score_kind)
        if kind in (SCALE, AFFINE) and scale:
            return kind_of_affine(offset, scale, lp.score_kind)
        if kind == CONVERTED:
            return cp.score_kind
        return None

    def affine_back(self, state: dict[str, Any], lp: SearchProfile, cp: SearchProfile) -> tuple[
            float, float, str] | None:
        """legacy = offset + scale x candidate, from the fitted relation (the declared kinds only when nothing
        could be fitted); None when the relation is not affine (monotone, none, an L2 distance)."""
        kind, scale, offset, _ = self.relation(state, lp, cp)
        if kind == IDENTITY:
            return 1.0, 0.0, "the same scale"
        if kind == ONE_MINUS:
            return -1.0, 1.0, f"candidate {cp.score_kind} = 1 - legacy {lp.score_kind}"
        if kind in (SCALE, AFFINE) and scale:
            return 1.0 / scale, -offset / scale, f"fitted: candidate = {line(offset, scale)}"
        if kind in ("unknown", CONVERTED) and lp.score_kind in AFFINE_IN_SIMILARITY \
                and cp.score_kind in AFFINE_IN_SIMILARITY:
            (la, lb), (ca, cb) = AFFINE_IN_SIMILARITY[lp.score_kind], AFFINE_IN_SIMILARITY[cp.score_kind]
            # legacy = la + lb s, candidate = ca + cb s  =>  legacy = la + lb (c - ca) / cb
            why = "declared kinds, nothing fitted" if kind == "unknown" else "declared kinds, fitted"
            return lb / cb, la - lb * ca / cb, f"candidate {cp.score_kind} -> legacy {lp.score_kind} ({why})"
        return None

    def adapter_ops(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        lp, cp = _search(legacy), _search(candidate)
        back = self.affine_back(state, lp, cp)
        if back is None or back[:2] == (1.0, 0.0):
            return []
        scale, offset, why = back
        return [{"op": "affine", "path": hit_path(lp, lp.score_field), "scale": scale, "offset": offset, "why": why}]

    def adapter_notes(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> dict[str, Any]:
        lp, cp = _search(legacy), _search(candidate)
        if self.affine_back(state, lp, cp) is not None:
            return {}
        kind = self.relation(state, lp, cp)[0]
        return {"score": f"not rebuilt: the fitted relation is {kind!r} (not affine), so no op turns the "
                         f"candidate's {cp.score_field!r} into legacy's {lp.score_field!r}"}

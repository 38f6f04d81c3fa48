"""Ranking metrics of one query: the candidate's top-k against the legacy top-k (the reference).

- recall@k: tie-aware as ann-benchmarks counts it: a candidate hit counts when it is in the legacy top-k or its
  score, mapped onto the legacy scale, is within `eps` of the legacy k-th score (two documents at the same
  distance swapped across the k-th rank is not a miss); the plain set recall is kept beside it. The mapping is
  the relation fitted on the query's common hits: when the two sides' scores have no simple relation (the
  scoring itself drifted), a candidate score says nothing on the legacy scale and no tie is credited.
- `rbo_ext`: rank-biased overlap, extrapolated (Webber, Moffat & Zobel, TOIS 2010, eq. 32, uneven lengths).
- `kendall_tau_b`: Kendall's tau-b of the common items' scores (ties from equal scores handled).
- `fit_relation`: the relation of the two sides' scores on common hits: identity, `1 - s`, the profiles'
  declared score kinds (e.g. an L2 distance against a similarity), a positive scale, a general affine
  relation `a + b s` (faiss `IndexFlatL2` on unit vectors answers 2 - 2s), a monotone relation (rank
  correlation +-1 with the same ties), or none.
Hand-written, because they run per query on lists of ten: a library call per query costs more than the math.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from farm.probes.search.kinds import from_similarity, to_similarity

IDENTITY, ONE_MINUS, SCALE, NONE, UNKNOWN = "identity", "one_minus", "scale", "none", "unknown"
AFFINE, MONOTONE, CONVERTED = "affine", "monotone", "converted"
FITTED = (IDENTITY, ONE_MINUS, SCALE, AFFINE, MONOTONE, CONVERTED)  # relations a tie can be credited under
RELATION_TOL = 1e-4


def rbo_ext(a: Sequence[str], b: Sequence[str], p: float = 0.9) -> float:
    """Extrapolated RBO of two rankings (distinct items), Webber et al. 2010, eq. 32 (lists may differ in length)."""
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    s_list, l_list = (a, b) if len(a) <= len(b) else (b, a)
    s, length = len(s_list), len(l_list)
    seen_s: set[str] = set()
    seen_l: set[str] = set()
    overlap = 0
    x: list[int] = []  # X_d for d = 1..l
    for d in range(length):
        item_l = l_list[d]
        item_s = s_list[d] if d < s else None
        if item_s is not None:
            if item_s == item_l:
                overlap += 1
            else:
                overlap += (item_s in seen_l) + (item_l in seen_s)
            seen_s.add(item_s)
        else:
            overlap += item_l in seen_s
        seen_l.add(item_l)
        x.append(overlap)
    x_s, x_l = x[s - 1], x[length - 1]
    total = sum(x[d - 1] / d * p**d for d in range(1, length + 1))
    total += sum(x_s * (d - s) / (s * d) * p**d for d in range(s + 1, length + 1))
    return float((1 - p) / p * total + ((x_l - x_s) / length + x_s / s) * p**length)


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of paired values; None with fewer than two pairs or no untied pair on a side."""
    n = len(x)
    if n < 2:
        return None
    conc = disc = tie_x = tie_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                tie_x += 1
                tie_y += 1
            elif dx == 0:
                tie_x += 1
            elif dy == 0:
                tie_y += 1
            elif (dx > 0) == (dy > 0):
                conc += 1
            else:
                disc += 1
    pairs = n * (n - 1) // 2
    denom = math.sqrt((pairs - tie_x) * (pairs - tie_y))
    return (conc - disc) / denom if denom else None


@dataclass(frozen=True)
class Relation:
    """How a candidate score maps onto the legacy scale. `scale` and `offset`: candidate = offset + scale x legacy
    (identity, `1 - s`, a scale, a general affine relation); `kinds`: the two profiles' score kinds, converted
    through the similarity (e.g. an L2 distance); `points`: the common hits' (candidate, legacy) scores of a
    monotone relation, sorted by candidate score (a score between two of them is interpolated)."""

    kind: str
    scale: float | None = None
    residual: float | None = None
    offset: float = 0.0
    kinds: tuple[str, str] | None = None            # (legacy kind, candidate kind), for CONVERTED
    points: tuple[tuple[float, float], ...] = ()     # (candidate, legacy), for MONOTONE

    def to_legacy(self, candidate_score: float, eps: float = 1e-6) -> float | None:
        """A candidate score on the legacy scale (None when no relation was found, or a monotone relation does
        not reach that far)."""
        if self.kind == IDENTITY:
            return candidate_score
        if self.kind == ONE_MINUS:
            return 1.0 - candidate_score
        if self.kind in (SCALE, AFFINE) and self.scale:
            return (candidate_score - self.offset) / self.scale
        if self.kind == CONVERTED and self.kinds is not None:
            return from_similarity(self.kinds[0], to_similarity(self.kinds[1], candidate_score))
        if self.kind == MONOTONE and self.points:
            return _interpolate(self.points, candidate_score, eps)
        return None


def _interpolate(points: Sequence[tuple[float, float]], c: float, eps: float) -> float | None:
    """The legacy score of candidate score `c` on a monotone relation: a tie with a common hit's candidate score
    is a tie on legacy's scale; between two common hits, linear; outside them, unknown."""
    for pc, pl in points:
        if abs(pc - c) <= eps:
            return pl
    for (c0, l0), (c1, l1) in itertools.pairwise(points):
        if c0 < c < c1:
            return l0 + (l1 - l0) * (c - c0) / (c1 - c0)
    return None


def declared_relation(legacy_kind: str, candidate_kind: str) -> Relation:
    """What the two profiles' score kinds promise, converted through the similarity."""
    if legacy_kind == candidate_kind:
        return Relation(IDENTITY, 1.0)
    return Relation(CONVERTED, kinds=(legacy_kind, candidate_kind))


def fit_relation(legacy: Sequence[float], candidate: Sequence[float], tol: float = RELATION_TOL,
                 declared: Relation | None = None) -> Relation:
    """How the candidate's scores relate to legacy's on the same hits, first that fits within `tol`: c = l,
    c = 1 - l, the declared score kinds, c = a l (a > 0), c = a + b l (b != 0), a strictly monotone relation
    (every pair ordered alike or every pair reversed, ties on one side exactly where the other has them), none.
    The general affine and monotone fits need three distinct legacy scores: two points fit any line."""
    pairs = list(zip(legacy, candidate, strict=True))
    if not pairs:
        return Relation(UNKNOWN)
    r_id = max(abs(c - ll) for ll, c in pairs)
    if r_id <= tol:
        return Relation(IDENTITY, 1.0, r_id)
    r_om = max(abs(c - (1.0 - ll)) for ll, c in pairs)
    if r_om <= tol:
        return Relation(ONE_MINUS, -1.0, r_om, 1.0)
    if declared is not None and declared.kind == CONVERTED:
        mapped = [declared.to_legacy(c) for _, c in pairs]
        if all(m is not None for m in mapped):
            r_dec = max(abs(ll - m) for (ll, _), m in zip(pairs, mapped, strict=True) if m is not None)
            if r_dec <= tol:
                return replace(declared, residual=r_dec)
    ll_sum = sum(v * v for v in legacy)
    if ll_sum > 0:
        a = sum(ll * c for ll, c in pairs) / ll_sum
        r_sc = max(abs(c - a * ll) for ll, c in pairs)
        if r_sc <= tol * max(1.0, abs(a)) and a > 0:
            return Relation(SCALE, a, r_sc)
    if len(set(legacy)) >= 3:
        n = len(pairs)
        ml, mc = sum(legacy) / n, sum(candidate) / n
        var = sum((ll - ml) ** 2 for ll in legacy)
        b = sum((ll - ml) * (c - mc) for ll, c in pairs) / var
        a = mc - b * ml
        r_af = max(abs(c - (a + b * ll)) for ll, c in pairs)
        if abs(b) > tol and r_af <= tol * max(1.0, abs(a), abs(b)):
            return Relation(AFFINE, b, r_af, a)
        direction = _monotone(legacy, candidate)
        if direction:
            points = tuple(sorted({(c, ll) for ll, c in pairs}))
            return Relation(MONOTONE, float(direction), None, 0.0, points=points)
    return Relation(NONE, None, min(r_id, r_om))


def _monotone(legacy: Sequence[float], candidate: Sequence[float]) -> int:
    """+1 (every pair of hits ordered alike), -1 (every pair reversed), 0 (neither); a tie on one side must be
    a tie on the other (Kendall's tau-b of exactly +1 or -1, with the same ties)."""
    signs: set[int] = set()
    for i in range(len(legacy)):
        for j in range(i + 1, len(legacy)):
            dl, dc = legacy[i] - legacy[j], candidate[i] - candidate[j]
            if (dl == 0) != (dc == 0):
                return 0
            if dl:
                signs.add(1 if (dl > 0) == (dc > 0) else -1)
    return signs.pop() if len(signs) == 1 else 0


@dataclass(frozen=True)
class QueryMetrics:
    recall: float
    recall_plain: float
    jaccard: float
    rbo: float
    kendall_tau: float | None
    first_diff: int | None   # 1-based rank of the first disagreement; None: identical lists
    tie_credit: int          # candidate hits counted only because they tie the legacy k-th score
    legacy_tied: int         # legacy hits tied with its k-th score, besides the k-th itself
    relation: Relation


def query_metrics(l_ids: Sequence[str], l_scores: Sequence[float], c_ids: Sequence[str],
                  c_scores: Sequence[float], k: int, *, legacy_descending: bool, declared: Relation,
                  eps: float = 1e-6, p: float = 0.9) -> QueryMetrics:
    """All metrics of one query. Tie credit uses the relation fitted on the common hits; `declared` (what the
    profiles promise) stands in only when the lists share no hit to fit on."""
    kk = min(k, len(l_ids))
    lt, ct = list(l_ids[:k]), list(c_ids[:k])
    l_pos = {h: i for i, h in enumerate(lt)}
    common = [(l_scores[l_pos[h]], c_scores[j]) for j, h in enumerate(ct) if h in l_pos]
    relation = fit_relation([a for a, _ in common], [b for _, b in common], declared=declared)
    mapping = relation if relation.kind in FITTED else (declared if relation.kind == UNKNOWN else Relation(NONE))
    inter = len(common)
    if kk == 0:
        recall = plain = 1.0
        credit = tied = 0
    else:
        kth = l_scores[kk - 1]
        credit = 0
        for j, h in enumerate(ct[:kk]):
            if h in l_pos:
                continue
            mapped = mapping.to_legacy(c_scores[j], eps)
            if mapped is not None and (mapped >= kth - eps if legacy_descending else mapped <= kth + eps):
                credit += 1
        plain_hits = sum(1 for h in ct[:kk] if h in l_pos and l_pos[h] < kk)
        plain = plain_hits / kk
        recall = min(kk, plain_hits + credit) / kk
        tied = sum(1 for s in l_scores[:kk - 1] if abs(s - kth) <= eps)
    union = len(set(lt) | set(ct))
    jac = inter / union if union else 1.0
    first = next((i + 1 for i, (a, b) in enumerate(zip(lt, ct, strict=False)) if a != b), None)
    if first is None and len(lt) != len(ct):
        first = min(len(lt), len(ct)) + 1
    mapped_common = [mapping.to_legacy(b, eps) for _, b in common]
    tau = (kendall_tau_b([a for a, _ in common], [m for m in mapped_common if m is not None])
           if all(m is not None for m in mapped_common) else None)
    return QueryMetrics(recall, plain, jac, rbo_ext(lt, ct, p), tau, first, credit, tied, relation)

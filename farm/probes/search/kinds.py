"""What a search score is (a profile's `score_kind`), its order, and its conversion to and from the cosine
similarity of unit vectors, the scale the demo gateways compute on:

| kind | order | from similarity s | what sends it |
|---|---|---|---|
| `similarity` | descending | s | cosine similarity |
| `inner_product` | descending | s (on unit vectors) | faiss `IndexFlatIP`, Qdrant `Dot` |
| `distance` | ascending | 1 - s | cosine distance (pgvector `<=>`, Qdrant-style `1 - s`) |
| `l2sq` | ascending | 2 - 2s (on unit vectors) | faiss `IndexFlatL2` (squared L2) |
| `l2` | ascending | sqrt(2 - 2s) (on unit vectors) | Euclidean distance (pgvector `<->`) |
"""

from __future__ import annotations

import math

SIMILARITY, DISTANCE, INNER_PRODUCT, L2SQ, L2 = "similarity", "distance", "inner_product", "l2sq", "l2"
SCORE_KINDS = (SIMILARITY, INNER_PRODUCT, DISTANCE, L2SQ, L2)
DESCENDING = frozenset({SIMILARITY, INNER_PRODUCT})
# kind -> (a, b) with score = a + b * similarity, for the kinds that are affine in the similarity
AFFINE_IN_SIMILARITY = {SIMILARITY: (0.0, 1.0), INNER_PRODUCT: (0.0, 1.0), DISTANCE: (1.0, -1.0),
                        L2SQ: (2.0, -2.0)}
WORDS = {SIMILARITY: "a similarity (descending)", INNER_PRODUCT: "an inner product (descending)",
         DISTANCE: "a distance, 1 - similarity (ascending)", L2SQ: "a squared L2 distance, 2 - 2s (ascending)",
         L2: "an L2 distance, sqrt(2 - 2s) (ascending)"}


def descending(kind: str) -> bool:
    return kind in DESCENDING


def to_similarity(kind: str, score: float) -> float:
    if kind == L2:
        return 1.0 - score * score / 2.0
    a, b = AFFINE_IN_SIMILARITY[kind]
    return (score - a) / b


def from_similarity(kind: str, sim: float) -> float:
    if kind == L2:
        return math.sqrt(max(0.0, 2.0 - 2.0 * sim))
    a, b = AFFINE_IN_SIMILARITY[kind]
    return a + b * sim


def kind_of_affine(offset: float, scale: float, legacy_kind: str, tol: float = 1e-3) -> str | None:
    """The candidate's score kind when `candidate = offset + scale * legacy` and legacy's kind is affine in the
    similarity (the inference the drift catalog shows); None when no known kind matches."""
    if legacy_kind not in AFFINE_IN_SIMILARITY:
        return None
    la, lb = AFFINE_IN_SIMILARITY[legacy_kind]
    # candidate = offset + scale * (la + lb * s)
    ca, cb = offset + scale * la, scale * lb
    return next((k for k, (a, b) in AFFINE_IN_SIMILARITY.items() if k != INNER_PRODUCT and abs(a - ca) <= tol
                 and abs(b - cb) <= tol), None)

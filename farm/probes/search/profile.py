"""The search wire profile: how one gateway shapes a vector-search endpoint, and the built-in presets.

One query per request. The request carries the query text (`query_field`) or its vector (`vector_field`,
computed with the demo embedder when the corpus gives none), the number of hits (`k_field`) and optionally the
index name. The response holds a hit list (`hits_path`) whose items have an id and a score; `score_kind` says
what the score is and so its order: `similarity` or `inner_product` (higher is nearer, descending), `distance`
(`1 - similarity`), `l2sq` (squared L2, faiss `IndexFlatL2`) or `l2` (ascending); see `kinds.py`. Hits out of
the declared order are the `unsorted_hits` error, whose stop reason says which order came and what to set.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from farm.errors import ConfigError
from farm.probes.base import MalformedBody, Profile
from farm.probes.search import kinds
from farm.probes.search.kinds import DISTANCE, SCORE_KINDS, SIMILARITY
from farm.profiles import get_path, set_path

NON_FINITE, UNSORTED = "non_finite_score", "unsorted_hits"


@dataclass(frozen=True)
class Hits:
    """One query's answer: ids in rank order, their scores as the gateway sent them, and what the scores are
    (the profile's `score_kind`, carried so the comparison needs no profile)."""

    ids: list[str]
    scores: list[float]
    kind: str = "similarity"

    @property
    def descending(self) -> bool:
        return kinds.descending(self.kind)

    def to_json(self) -> list[Any]:
        return [self.ids, self.scores, self.kind]

    @classmethod
    def from_json(cls, h: list[Any]) -> Hits:
        return cls([str(i) for i in h[0]], [float(s) for s in h[1]], str(h[2]) if len(h) > 2 else "similarity")


@dataclass(frozen=True, kw_only=True)
class SearchProfile(Profile):
    probe: ClassVar[str] = "search"
    hits_path: str
    id_field: str = "id"
    score_field: str = "score"
    score_kind: str = SIMILARITY
    query_field: str | None = "query"
    vector_field: str | None = None
    k_field: str = "k"
    index_field: str | None = "index"
    index_name: str = "docs"
    text_field: str | None = None      # hits carry the document text (retrieve)
    took_path: str | None = None       # a server timing the demo fills in (varies per response)
    count_path: str | None = None      # the number of hits, echoed
    response_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.score_kind not in SCORE_KINDS:
            raise ConfigError("<profile>", f"profiles.{self.name}.score_kind",
                              f"expected one of {', '.join(map(repr, SCORE_KINDS))}, got {self.score_kind!r}")
        if self.query_field is None and self.vector_field is None:
            raise ConfigError("<profile>", f"profiles.{self.name}.query_field",
                              "a search profile needs query_field or vector_field")

    @property
    def descending(self) -> bool:
        return kinds.descending(self.score_kind)

    def to_similarity(self, score: float) -> float:
        return kinds.to_similarity(self.score_kind, score)

    def from_similarity(self, sim: float) -> float:
        return kinds.from_similarity(self.score_kind, sim)

    def order_hint(self, scores: list[float]) -> str:
        """Why hits are `unsorted_hits`: the order the scores came in and the profile key that would read it."""
        if all(a >= b for a, b in itertools.pairwise(scores)):
            seen, fix = "descending", '"similarity" (or "inner_product")'
        elif all(a <= b for a, b in itertools.pairwise(scores)):
            seen, fix = "ascending", '"distance" (or "l2sq", "l2")'
        else:
            return f"{self.score_field!r} came in no order: neither a similarity nor a distance ranking"
        return (f"{self.score_field!r} came {seen} but profile {self.name!r} reads it as "
                f"{kinds.WORDS[self.score_kind]}: set score_kind = {fix} in the gateway's [profiles.<name>] "
                f"table (base = \"{self.name}\")")

    # --- requests ---------------------------------------------------------------------------------
    def build_request(self, query: str, vector: list[float] | None, k: int) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.index_field:
            body[self.index_field] = self.index_name
        if self.query_field:
            body[self.query_field] = query
        else:
            body[str(self.vector_field)] = vector
        body[self.k_field] = k
        return body

    def query_of(self, body: dict[str, Any]) -> str | None:
        value = body.get(self.query_field) if self.query_field else None
        if value is not None and not isinstance(value, str):
            raise MalformedBody(f"request field {self.query_field!r} must be a string")
        return value

    def vector_of(self, body: dict[str, Any]) -> list[float] | None:
        value = body.get(self.vector_field) if self.vector_field else None
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, int | float) for v in value):
            raise MalformedBody(f"request field {self.vector_field!r} must be a list of numbers")
        return [float(v) for v in value]

    def k_of(self, body: dict[str, Any], default: int = 10) -> int:
        k = body.get(self.k_field, default)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000:
            raise MalformedBody(f"request field {self.k_field!r} must be an integer in [1, 1000]")
        return k

    # --- responses --------------------------------------------------------------------------------
    def parse_hits(self, doc: Any) -> tuple[Hits, str | None]:
        """The hit list of a response and its error class (None, non-finite scores, or hits out of order)."""
        items = get_path(doc, self.hits_path)
        if not isinstance(items, list) or not all(isinstance(h, dict) for h in items):
            raise MalformedBody(f"{self.hits_path!r} is missing or not a list of objects")
        ids: list[str] = []
        scores: list[float] = []
        for h in items:
            hid, score = h.get(self.id_field), h.get(self.score_field)
            if hid is None or isinstance(hid, bool) or not isinstance(hid, str | int):
                raise MalformedBody(f"a hit has no {self.id_field!r} (string or integer)")
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise MalformedBody(f"a hit has no numeric {self.score_field!r}")
            ids.append(str(hid))
            scores.append(float(score))
        error = None
        if not all(math.isfinite(s) for s in scores):
            error = NON_FINITE
        elif any((a < b) if self.descending else (a > b) for a, b in itertools.pairwise(scores)):
            error = UNSORTED
        return Hits(ids, scores, self.score_kind), error

    def build_response(self, ids: list[str], sims: list[float], texts: list[str] | None,
                       took_ms: float) -> dict[str, Any]:
        """A response in this profile's shape from similarities (used by the demo gateways)."""
        hits: list[dict[str, Any]] = []
        for i, (hid, sim) in enumerate(zip(ids, sims, strict=True)):
            hit: dict[str, Any] = {self.id_field: hid, self.score_field: self.from_similarity(sim)}
            if self.text_field and texts is not None:
                hit[self.text_field] = texts[i]
            hits.append(hit)
        doc: dict[str, Any] = {}
        set_path(doc, self.hits_path, hits)
        if self.took_path:
            set_path(doc, self.took_path, round(took_ms, 3))
        if self.count_path:
            set_path(doc, self.count_path, len(hits))
        for key, value in self.response_extra.items():
            doc.setdefault(key, value)
        return doc


PRESETS: dict[str, Profile] = {
    p.name: p
    for p in (
        SearchProfile(name="lakehouse-legacy", path="/vectors/search", hits_path="results", id_field="id",
                      score_field="score", score_kind=SIMILARITY, k_field="k", took_path="took_ms"),
        SearchProfile(name="lakehouse-candidate", path="/v1/vectors/search", hits_path="matches",
                      id_field="doc_id", score_field="distance", score_kind=DISTANCE, k_field="top_k",
                      count_path="count"),
        SearchProfile(name="qdrant", path="/collections/docs/points/search", hits_path="result", id_field="id",
                      score_field="score", score_kind=SIMILARITY, query_field=None, vector_field="vector",
                      k_field="limit", index_field=None,
                      response_extra={"status": "ok"}),
    )
}

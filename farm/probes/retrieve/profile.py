"""The retrieve wire profile: a search profile for the hybrid endpoint, plus where a gateway exposes the parts
of its fusion (the lexical-only and vector-only top-k ids), when it does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from farm.probes.base import MalformedBody, Profile
from farm.probes.search.kinds import DISTANCE, SIMILARITY
from farm.probes.search.profile import Hits, SearchProfile
from farm.profiles import get_path, set_path


@dataclass(frozen=True)
class RetrievedHits(Hits):
    """Fused hits, and the parts when the gateway exposes them (None: not exposed)."""

    lexical: list[str] | None = None
    vector: list[str] | None = None

    def to_json(self) -> list[Any]:
        return [*super().to_json(), self.lexical, self.vector]

    @classmethod
    def from_json(cls, h: list[Any]) -> RetrievedHits:
        base = Hits.from_json(h)
        return cls(base.ids, base.scores, base.kind, h[3] if len(h) > 3 else None, h[4] if len(h) > 4 else None)


@dataclass(frozen=True, kw_only=True)
class RetrieveProfile(SearchProfile):
    probe: ClassVar[str] = "retrieve"
    alpha_field: str | None = None     # the request's optional fusion weight (never sent by the farm)
    lexical_path: str | None = None    # ids of the lexical-only top k, when exposed
    vector_path: str | None = None     # ids of the vector-only top k, when exposed

    def parse_retrieved(self, doc: Any) -> tuple[RetrievedHits, str | None]:
        hits, error = self.parse_hits(doc)
        parts: list[list[str] | None] = []
        for path in (self.lexical_path, self.vector_path):
            value = get_path(doc, path) if path else None
            if path and value is not None and not isinstance(value, list):
                raise MalformedBody(f"{path!r} is not a list of ids")
            parts.append([str(v) for v in value] if isinstance(value, list) else None)
        return RetrievedHits(hits.ids, hits.scores, hits.kind, parts[0], parts[1]), error

    def add_parts(self, doc: dict[str, Any], lexical: list[str], vector: list[str]) -> None:
        if self.lexical_path:
            set_path(doc, self.lexical_path, lexical)
        if self.vector_path:
            set_path(doc, self.vector_path, vector)


_LEGACY = dict(path="/vectors/hybrid", hits_path="hits", id_field="id", score_field="score", score_kind=SIMILARITY,
               k_field="k", index_field=None, text_field="text", alpha_field="alpha")
_CANDIDATE = dict(path="/v1/matrix/retrieve", hits_path="documents", id_field="id", score_field="relevance",
                  score_kind=DISTANCE, k_field="limit", index_field=None, text_field="content")
PRESETS: dict[str, Profile] = {
    p.name: p
    for p in (
        RetrieveProfile(name="lakehouse-legacy", **_LEGACY),  # type: ignore[arg-type]
        RetrieveProfile(name="lakehouse-candidate", **_CANDIDATE),  # type: ignore[arg-type]
        RetrieveProfile(name="lakehouse-legacy-explain", lexical_path="debug.lexical", vector_path="debug.vector",
                        **_LEGACY),  # type: ignore[arg-type]
        RetrieveProfile(name="lakehouse-candidate-explain", lexical_path="explain.bm25",
                        vector_path="explain.dense", **_CANDIDATE),  # type: ignore[arg-type]
    )
}

"""The embed wire profile: how one gateway shapes the embed endpoint, and the built-in presets.

A response path is dotted; `[]` walks every element of an array: `data[].embedding` reads OpenAI's
`{"data": [{"embedding": [...]}, ...]}`. The same paths build responses for the demo gateways, so a
custom profile is served exactly as it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from farm.probes.base import MalformedBody, Profile
from farm.profiles import get_path, set_path


@dataclass(frozen=True, kw_only=True)
class EmbedProfile(Profile):
    probe: ClassVar[str] = "embed"
    texts_field: str
    vectors_path: str
    model_field: str | None = "model"
    dimension_path: str | None = None
    model_path: str | None = None
    index_path: str | None = None
    unit_vectors: bool = False
    response_extra: dict[str, Any] = field(default_factory=dict)

    def build_request(self, texts: list[str], model: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {self.texts_field: texts}
        if model is not None and self.model_field:
            body[self.model_field] = model
        return body

    def texts_of(self, request: dict[str, Any]) -> list[str]:
        texts = request.get(self.texts_field)
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise MalformedBody(f"request field {self.texts_field!r} must be a list of strings")
        return texts

    def model_of(self, request: dict[str, Any]) -> str | None:
        value = request.get(self.model_field) if self.model_field else None
        return value if isinstance(value, str) else None

    def parse_vectors(self, doc: Any) -> npt.NDArray[np.float64]:
        """The response's vectors as an (n, d) float array; raises `MalformedBody` on any other shape."""
        raw = get_path(doc, self.vectors_path)
        if self.index_path is not None:
            order = get_path(doc, self.index_path)
            if isinstance(order, list) and len(order) == len(raw or []) and all(isinstance(i, int) for i in order):
                raw = [v for _, v in sorted(zip(order, raw, strict=True), key=lambda p: p[0])]
        if not isinstance(raw, list):
            raise MalformedBody(f"{self.vectors_path!r} is missing or not a list")
        if not raw:
            return np.zeros((0, 0))
        if not all(isinstance(v, list) for v in raw):
            raise MalformedBody(f"{self.vectors_path!r} is not a list of vectors")
        lengths = {len(v) for v in raw}
        if len(lengths) != 1:
            raise MalformedBody(f"{self.vectors_path!r} holds vectors of different lengths {sorted(lengths)}")
        try:
            return np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise MalformedBody(f"{self.vectors_path!r} holds non-numbers") from None

    def build_response(self, vectors: npt.NDArray[np.floating[Any]], model: str) -> dict[str, Any]:
        """A response document in this profile's shape (used by the demo gateways)."""
        doc: dict[str, Any] = {}
        rows = vectors.tolist()
        set_path(doc, self.vectors_path, rows)
        if self.index_path:
            set_path(doc, self.index_path, list(range(len(rows))))
        if self.dimension_path:
            set_path(doc, self.dimension_path, int(vectors.shape[1]) if vectors.ndim == 2 else 0)
        if self.model_path:
            set_path(doc, self.model_path, model)
        for key, value in self.response_extra.items():
            doc.setdefault(key, value)
        return doc


PRESETS: dict[str, Profile] = {
    p.name: p
    for p in (
        EmbedProfile(
            name="lakehouse-legacy", path="/ai/embed", texts_field="texts", vectors_path="embeddings",
            dimension_path="dimensions", model_path="model", unit_vectors=True,
        ),
        EmbedProfile(
            name="lakehouse-candidate", path="/v1/embed", texts_field="texts", vectors_path="vectors",
            dimension_path="dimension", model_path="model",
        ),
        EmbedProfile(
            name="openai", path="/v1/embeddings", texts_field="input", vectors_path="data[].embedding",
            index_path="data[].index", model_path="model", unit_vectors=True,
            response_extra={"object": "list", "usage": {"prompt_tokens": 0, "total_tokens": 0}},
        ),
        EmbedProfile(
            name="ollama", path="/api/embed", texts_field="input", vectors_path="embeddings", model_path="model",
            unit_vectors=True,
        ),
    )
}
REQUIRED = ("path", "texts_field", "vectors_path")

# Error classes of embed answers that parse but cannot be compared (the integrity gate fails on them).
COUNT_MISMATCH, NON_FINITE, EMPTY_VECTOR = "count_mismatch", "non_finite", "empty_vector"
DIMENSION_MISMATCH = "dimension_mismatch"


def classify_vectors(vectors: npt.NDArray[np.float64], n: int) -> list[str | None]:
    if vectors.shape[0] != n:
        return [COUNT_MISMATCH] * n
    if vectors.shape[1] == 0:
        return [EMPTY_VECTOR] * n
    finite = np.asarray(np.isfinite(vectors).all(axis=1), dtype=bool)
    return [None if bool(ok) else NON_FINITE for ok in finite]

"""Wire profiles: how one gateway shapes the embed endpoint. Built-in presets plus `[profiles.X]` in farm.toml.

A response path is dotted; `[]` walks every element of an array: `data[].embedding` reads OpenAI's
`{"data": [{"embedding": [...]}, ...]}`. The same paths build responses for the demo gateways, so a
custom profile is served exactly as it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from farm.errors import ConfigError

if TYPE_CHECKING:
    from farm.config import FarmConfig


class MalformedBody(ValueError):
    """A response that does not have the shape its profile promises."""


@dataclass(frozen=True)
class WireProfile:
    name: str
    path: str
    texts_field: str
    vectors_path: str
    method: str = "POST"
    model_field: str | None = "model"
    dimension_path: str | None = None
    model_path: str | None = None
    index_path: str | None = None
    unit_vectors: bool = False
    ignore_fields: tuple[str, ...] = ()
    unordered_arrays: tuple[str, ...] = ()
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


def get_path(doc: Any, path: str) -> Any:
    """Read a dotted path; a `name[]` step maps the rest of the path over the array. None when absent."""
    if not path:
        return doc
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = doc.get(head[:-2]) if isinstance(doc, dict) else None
        if not isinstance(items, list):
            return None
        return [get_path(item, rest) for item in items]
    value = doc.get(head) if isinstance(doc, dict) else None
    return get_path(value, rest) if rest and value is not None else value


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Write `value` at a dotted path, creating objects; under `name[]`, `value` is a list spread over items."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = doc.setdefault(head[:-2], [])
        values = list(value)
        while len(items) < len(values):
            items.append({})
        for item, v in zip(items, values, strict=False):
            set_path(item, rest, v)
        return
    if not rest:
        doc[head] = value
        return
    set_path(doc.setdefault(head, {}), rest, value)


PRESETS: dict[str, WireProfile] = {
    p.name: p
    for p in (
        WireProfile(
            name="lakehouse-legacy", path="/ai/embed", texts_field="texts", vectors_path="embeddings",
            dimension_path="dimensions", model_path="model", unit_vectors=True,
        ),
        WireProfile(
            name="lakehouse-candidate", path="/v1/embed", texts_field="texts", vectors_path="vectors",
            dimension_path="dimension", model_path="model",
        ),
        WireProfile(
            name="openai", path="/v1/embeddings", texts_field="input", vectors_path="data[].embedding",
            index_path="data[].index", model_path="model", unit_vectors=True,
            response_extra={"object": "list", "usage": {"prompt_tokens": 0, "total_tokens": 0}},
        ),
        WireProfile(
            name="ollama", path="/api/embed", texts_field="input", vectors_path="embeddings", model_path="model",
            unit_vectors=True,
        ),
    )
}

_STR_KEYS = {"path", "texts_field", "vectors_path", "method", "model_field", "dimension_path", "model_path",
             "index_path", "base"}
_ALLOWED = {f.name for f in fields(WireProfile)} - {"name"} | {"base"}


def profile_from_table(name: str, table: dict[str, Any], source: str) -> WireProfile:
    """Build a custom profile from `[profiles.NAME]`; `base = "openai"` starts from a preset."""
    key = f"profiles.{name}"
    for k, v in table.items():
        if k not in _ALLOWED:
            raise ConfigError(source, f"{key}.{k}", f"unknown key (allowed: {', '.join(sorted(_ALLOWED))})")
        if k in _STR_KEYS and not isinstance(v, str):
            raise ConfigError(source, f"{key}.{k}", f"expected a string, got {v!r}")
        if k in ("ignore_fields", "unordered_arrays") and not (
            isinstance(v, list) and all(isinstance(i, str) for i in v)
        ):
            raise ConfigError(source, f"{key}.{k}", "expected a list of field paths")
    base_name = table.get("base")
    values: dict[str, Any] = {}
    if base_name is not None:
        if base_name not in PRESETS:
            raise ConfigError(source, f"{key}.base", f"unknown preset {base_name!r} (known: {', '.join(PRESETS)})")
        base = PRESETS[base_name]
        values = {f.name: getattr(base, f.name) for f in fields(WireProfile)}
    values.update({k: v for k, v in table.items() if k != "base"})
    values["name"] = name
    for required in ("path", "texts_field", "vectors_path"):
        if not values.get(required):
            raise ConfigError(source, f"{key}.{required}", "required (or set `base` to a preset)")
    if not str(values["path"]).startswith("/"):
        raise ConfigError(source, f"{key}.path", f"must start with '/', got {values['path']!r}")
    values["method"] = str(values.get("method", "POST")).upper()
    if values["method"] not in ("POST", "PUT", "GET"):
        raise ConfigError(source, f"{key}.method", f"unsupported method {values['method']!r}")
    for k in ("ignore_fields", "unordered_arrays"):
        values[k] = tuple(values.get(k, ()))
    return WireProfile(**values)


def profile_to_dict(profile: WireProfile) -> dict[str, Any]:
    return {f.name: list(v) if isinstance(v := getattr(profile, f.name), tuple) else v for f in fields(WireProfile)}


def profile_from_dict(d: dict[str, Any]) -> WireProfile:
    """The inverse of `profile_to_dict` (profiles travel in task messages and sweep rows as plain data)."""
    known = {f.name for f in fields(WireProfile)}
    values = {k: v for k, v in d.items() if k in known}
    for key in ("ignore_fields", "unordered_arrays"):
        values[key] = tuple(values.get(key, ()))
    return WireProfile(**values)


def resolve_profile(name: str, config: FarmConfig | None = None, key: str = "profile") -> WireProfile:
    """A profile by name: custom ones from the config shadow the presets."""
    if config is not None and name in config.profiles:
        return profile_from_table(name, config.profiles[name], config.source)
    if name in PRESETS:
        return PRESETS[name]
    known = sorted(set(PRESETS) | set(config.profiles if config else ()))
    source = config.source if config is not None else "<arguments>"
    raise ConfigError(source, key, f"unknown wire profile {name!r} (known: {', '.join(known)})")

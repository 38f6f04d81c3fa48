"""Embed field roles for the drift catalog: which field carries the vectors, the dimension, the model, the texts.

Inferred from the data: a field counts as the vectors field because it holds vectors, as the dimension field
because its integer equals the vectors' length, as the model field because it echoes the requested model.
The profile only breaks ties (and fills in when nothing was observed). The catalog's six embed rows come
from here; the general findings after them from the shared structural diff.
"""

from __future__ import annotations

from typing import Any

from farm.probes.base import Profile
from farm.probes.embed.profile import EmbedProfile
from farm.wiredrift.norms import describe_norms, norm_class, same_scale
from farm.wiredrift.roles import DriftRoles, RoleFields, choose, url_row
from farm.wiredrift.rows import DriftRow
from farm.wiredrift.values import as_array, depth, is_number, is_vectors


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def vectors_path_of(flat: dict[str, Any], hint: str | None) -> str | None:
    paths = [p for p, v in flat.items() if is_vectors(v)]
    if hint in paths:
        return hint
    return paths[0] if paths else None


def _code(path: str | None) -> str:
    return f"`{path}`" if path is not None else "(none)"


def _embed(profile: Profile) -> EmbedProfile:
    assert isinstance(profile, EmbedProfile)
    return profile


def request_shape(state: dict[str, Any], profile: EmbedProfile, side: str, texts: str | None) -> list[str]:
    """Top-level request fields, texts first; `?` marks optional ones (not always sent, or the model)."""
    docs = state["facts"][side]["docs"]
    if docs == 0:
        return [profile.texts_field] + ([f"{profile.model_field}?"] if profile.model_field else [])
    seen: dict[str, int] = {}
    for path, st in state["request"]["paths"][side].items():
        top = path.split(".")[0].removesuffix("[]")
        seen[top] = max(seen.get(top, 0), st["seen"])
    if profile.model_field and profile.model_field not in seen:
        seen[profile.model_field] = 0  # sweeps without a forced model never send it; the API still takes it
    names = sorted(seen, key=lambda k: (k != texts, k))
    return [f"{k}?" if seen[k] < docs or k == profile.model_field else k for k in names]


def _norm_row(state: dict[str, Any]) -> DriftRow:
    ln, cn = state["norms"]["legacy"], state["norms"]["candidate"]
    return DriftRow("norm", "L2 normalization", describe_norms(ln), describe_norms(cn), same_scale(ln, cn),
                    {"legacy_norms": dict(ln), "candidate_norms": dict(cn),
                     "legacy_class": norm_class(ln), "candidate_class": norm_class(cn)})


class EmbedRoles(DriftRoles):
    fact_keys = ("vectors", "dim", "model", "texts")

    def observe_facts(self, facts: dict[str, Any], profile: Profile, request: Any, flat: dict[str, Any]) -> str | None:
        """Record one response's embed facts; returns the vectors path it used (None when it had no vectors)."""
        p_embed = _embed(profile)
        facts["docs"] += 1
        if isinstance(request, dict):
            for key, value in request.items():
                if isinstance(value, list) and value and all(isinstance(t, str) for t in value):
                    _bump(facts["texts"], str(key))
        for p, v in flat.items():
            if is_vectors(v):
                _bump(facts["vectors"], p)
        vpath = vectors_path_of(flat, p_embed.vectors_path)
        if vpath is None and p_embed.vectors_path in flat:
            vpath = p_embed.vectors_path  # short vectors (<= 16 numbers) are still the declared vectors
        if vpath is None:
            return None
        arr = as_array(flat[vpath])
        dim = int(arr.shape[1]) if arr is not None else None
        model = p_embed.model_of(request) if isinstance(request, dict) else None
        for p, v in flat.items():
            if depth(p) or p == vpath:
                continue
            if dim is not None and is_number(v) and isinstance(v, int) and v == dim:
                _bump(facts["dim"], p)
            if model is not None and isinstance(v, str) and v == model:
                _bump(facts["model"], p)
        return vpath

    def values_path(self, facts: dict[str, Any], profile: Profile) -> str | None:
        declared = _embed(profile).vectors_path
        return choose(facts, "vectors", declared, majority=False) or declared

    def fields(self, state: dict[str, Any], profile: Profile, side: str) -> RoleFields:
        p = _embed(profile)
        facts = state["facts"][side]
        seen = state["response"]["paths"][side]
        model = choose(facts, "model", p.model_path)
        if model is None and p.model_path in seen:
            model = p.model_path  # requests without a model give nothing to match; trust the declared field
        vectors = choose(facts, "vectors", p.vectors_path, majority=False)
        if vectors is None and p.vectors_path in seen:
            vectors = p.vectors_path  # too short to look like vectors (<= 16 numbers): trust the declared field
        return RoleFields(vectors=vectors, dim=choose(facts, "dim", p.dimension_path), model=model,
                          texts=choose(facts, "texts", p.texts_field))

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        lp, cp = _embed(legacy), _embed(candidate)
        lf, cf = self.fields(state, lp, "legacy"), self.fields(state, cp, "candidate")
        ls = request_shape(state, lp, "legacy", lf.texts)
        cs = request_shape(state, cp, "candidate", cf.texts)
        return [
            url_row(legacy, candidate),
            DriftRow("vectors", "Response: vectors field", _code(lf.vectors), _code(cf.vectors),
                     lf.vectors == cf.vectors, {"legacy_path": lf.vectors, "candidate_path": cf.vectors}),
            DriftRow("dim", "Response: dim field", _code(lf.dim), _code(cf.dim), lf.dim == cf.dim,
                     {"legacy_path": lf.dim, "candidate_path": cf.dim}),
            DriftRow("model", "Response: model field", _code(lf.model), _code(cf.model), lf.model == cf.model,
                     {"legacy_path": lf.model, "candidate_path": cf.model}),
            DriftRow("request", "Request shape", f"`{{{', '.join(ls)}}}`", f"`{{{', '.join(cs)}}}`",
                     sorted(ls) == sorted(cs),
                     {"legacy_fields": ls, "candidate_fields": cs, "legacy_texts": lf.texts,
                      "candidate_texts": cf.texts}),
            _norm_row(state),
        ]

"""Turn an observer's aggregated state into catalog rows: the six embed rows, then general findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from farm.profiles import WireProfile
from farm.wiredrift.embed import choose
from farm.wiredrift.norms import describe_norms, norm_class, same_scale
from farm.wiredrift.rows import DriftRow
from farm.wiredrift.structure import SIDES, renames

GENERAL_ORDER = ("method", "rename", "missing", "extra", "presence", "type", "value", "order", "scale")


@dataclass(frozen=True)
class EmbedFields:
    """One side's inferred embed fields (None: the side has no such field)."""

    vectors: str | None
    dim: str | None
    model: str | None
    texts: str | None

    def paths(self) -> set[str]:
        return {p for p in (self.vectors, self.dim, self.model) if p is not None}


def embed_fields(state: dict[str, Any], profile: WireProfile, side: str) -> EmbedFields:
    facts = state["facts"][side]
    seen = state["response"]["paths"][side]
    model = choose(facts, "model", profile.model_path)
    if model is None and profile.model_path in seen:
        model = profile.model_path  # requests without a model give nothing to match; trust the declared field
    vectors = choose(facts, "vectors", profile.vectors_path, majority=False)
    if vectors is None and profile.vectors_path in seen:
        vectors = profile.vectors_path  # too short to look like vectors (<= 16 numbers): trust the declared field
    return EmbedFields(
        vectors=vectors,
        dim=choose(facts, "dim", profile.dimension_path),
        model=model,
        texts=choose(facts, "texts", profile.texts_field),
    )


def _code(path: str | None) -> str:
    return f"`{path}`" if path is not None else "(none)"


def request_shape(state: dict[str, Any], profile: WireProfile, side: str, texts: str | None) -> list[str]:
    """Top-level request fields, texts first; `?` marks optional ones (not always sent, or the model)."""
    docs = state["facts"][side]["docs"]
    if docs == 0:
        fields = [profile.texts_field] + ([f"{profile.model_field}?"] if profile.model_field else [])
        return fields
    seen: dict[str, int] = {}
    for path, st in state["request"]["paths"][side].items():
        top = path.split(".")[0].removesuffix("[]")
        seen[top] = max(seen.get(top, 0), st["seen"])
    if profile.model_field and profile.model_field not in seen:
        seen[profile.model_field] = 0  # sweeps without a forced model never send it; the API still takes it
    names = sorted(seen, key=lambda k: (k != texts, k))
    return [f"{k}?" if seen[k] < docs or k == profile.model_field else k for k in names]


def _times(n: int, total: int, noun: str) -> str:
    return f"in {n} of {total} {noun}"


def _collapse(paths: set[str], universe: list[str]) -> dict[str, list[str]]:
    """Group leaf paths under their highest ancestor whose leaves all belong to `paths` (`usage` for its counts)."""
    groups: dict[str, list[str]] = {}
    for p in sorted(paths):
        parts = p.split(".")
        group = p
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            under = [q for q in universe if q.startswith(prefix + ".")]
            if under and all(q in paths for q in under):
                group = prefix
                break
        groups.setdefault(group.removesuffix("[]"), []).append(p)
    return groups


def _norm_row(state: dict[str, Any]) -> DriftRow:
    ln, cn = state["norms"]["legacy"], state["norms"]["candidate"]
    return DriftRow("norm", "L2 normalization", describe_norms(ln), describe_norms(cn), same_scale(ln, cn),
                    {"legacy_norms": dict(ln), "candidate_norms": dict(cn),
                     "legacy_class": norm_class(ln), "candidate_class": norm_class(cn)})


def embed_rows(state: dict[str, Any], legacy: WireProfile, candidate: WireProfile) -> list[DriftRow]:
    lf, cf = embed_fields(state, legacy, "legacy"), embed_fields(state, candidate, "candidate")
    ls = request_shape(state, legacy, "legacy", lf.texts)
    cs = request_shape(state, candidate, "candidate", cf.texts)
    return [
        DriftRow("url", "URL prefix", f"`{legacy.path}`", f"`{candidate.path}`", legacy.path == candidate.path,
                 {"legacy_path": legacy.path, "candidate_path": candidate.path,
                  "legacy_method": legacy.method, "candidate_method": candidate.method}),
        DriftRow("vectors", "Response: vectors field", _code(lf.vectors), _code(cf.vectors), lf.vectors == cf.vectors,
                 {"legacy_path": lf.vectors, "candidate_path": cf.vectors}),
        DriftRow("dim", "Response: dim field", _code(lf.dim), _code(cf.dim), lf.dim == cf.dim,
                 {"legacy_path": lf.dim, "candidate_path": cf.dim}),
        DriftRow("model", "Response: model field", _code(lf.model), _code(cf.model), lf.model == cf.model,
                 {"legacy_path": lf.model, "candidate_path": cf.model}),
        DriftRow("request", "Request shape", f"`{{{', '.join(ls)}}}`", f"`{{{', '.join(cs)}}}`",
                 sorted(ls) == sorted(cs),
                 {"legacy_fields": ls, "candidate_fields": cs, "legacy_texts": lf.texts, "candidate_texts": cf.texts}),
        _norm_row(state),
    ]


def scope_rows(
    state: dict[str, Any], scope_name: str, explained: dict[str, set[str]], *, structural: bool
) -> list[DriftRow]:
    """General findings of one scope; `structural` adds renamed / missing / extra / presence rows."""
    scope = state[scope_name]
    label = "Response" if scope_name == "response" else "Request"
    noun = "responses" if scope_name == "response" else "requests"
    docs = state["docs"]
    paths = {side: scope["paths"][side] for side in SIDES}
    rows: list[DriftRow] = []
    pairs = renames(scope)
    renamed = {"legacy": {lp for lp, _, _ in pairs}, "candidate": {cp for _, cp, _ in pairs}}
    if structural:
        for lp, cp, kind in pairs:
            if lp in explained["legacy"] or cp in explained["candidate"]:
                continue
            how = {"exact": "equal values", "normalised": "equal after L2 normalisation",
                   "multiset": "same items, other order", "string": "equal as text, other type"}[kind]
            rows.append(DriftRow("rename", f"{label}: renamed field", f"`{lp}`", f"`{cp}` ({how})", False,
                                 {"legacy_path": lp, "candidate_path": cp, "evidence": kind}))
            lt, ct = main_type(paths["legacy"][lp]), main_type(paths["candidate"][cp])
            if lt != ct:
                rows.append(DriftRow("type", f"{label}: type of `{lp}`", lt, ct, False,
                                     {"legacy_path": lp, "candidate_path": cp}))
        for side, kind, other in (("legacy", "missing", "candidate"), ("candidate", "extra", "legacy")):
            lonely = {p for p in paths[side] if p not in paths[other]
                      and p not in renamed[side] and p not in explained[side]}
            for group, leaves in _collapse(lonely, list(paths[side])).items():
                n = max(paths[side][p]["seen"] for p in leaves)
                cell = f"`{group}` ({_times(n, docs, noun)})"
                cells = (cell, "absent") if side == "legacy" else ("absent", cell)
                field_name = f"{label}: {'missing' if kind == 'missing' else 'extra'} field"
                rows.append(DriftRow(kind, field_name, *cells, False,
                                     {"path": group, "leaves": leaves, "seen": n, "docs": docs}))
        for p, entry in sorted(scope["both"].items()):
            ln, cn = paths["legacy"][p]["seen"], paths["candidate"][p]["seen"]
            if (ln != entry["n"] or cn != entry["n"]) and p not in explained["legacy"]:
                rows.append(DriftRow("presence", f"{label}: presence of `{p}`", _times(ln, docs, noun),
                                     _times(cn, docs, noun), False,
                                     {"path": p, "legacy_seen": ln, "candidate_seen": cn}))
    order_groups: dict[str, list[str]] = {}
    for p, entry in sorted(scope["both"].items()):
        n = entry["n"]
        if entry["type"]:
            rows.append(DriftRow("type", f"{label}: type of `{p}`", main_type(paths["legacy"][p]),
                                 main_type(paths["candidate"][p]) + f" ({entry['type']} of {n})", False,
                                 {"path": p, "count": entry["type"], "of": n, "example": entry["examples"]["type"]}))
        if entry["value"]:
            a, b = entry["examples"]["value"]
            rows.append(DriftRow("value", f"{label}: value of `{p}`", f"`{a}`",
                                 f"`{b}` (differs {entry['value']} of {n})", False,
                                 {"path": p, "count": entry["value"], "of": n, "example": [a, b]}))
        if entry["order"]:
            group = p.rsplit("[]", 1)[0] if "[]" in p else p
            order_groups.setdefault(group, []).append(p)
        if entry["scale"] and p not in explained["legacy"]:
            lo, hi = entry["ratio_min"], entry["ratio_max"]
            rows.append(DriftRow("scale", f"{label}: scale of `{p}`", "reference magnitude",
                                 f"×{lo:.3g}-{hi:.3g} ({entry['scale']} of {n})", False,
                                 {"path": p, "count": entry["scale"], "of": n, "ratio_min": lo, "ratio_max": hi}))
    for group, members in order_groups.items():
        n = max(scope["both"][p]["order"] for p in members)
        of = max(scope["both"][p]["n"] for p in members)
        rows.append(DriftRow("order", f"{label}: order of `{group}`", "reference order",
                             f"same items, other order ({n} of {of})", False,
                             {"path": group, "fields": members, "count": n, "of": of}))
    rank = {k: i for i, k in enumerate(GENERAL_ORDER)}
    return sorted(rows, key=lambda r: rank[r.kind])  # stable: path order kept within a kind


def main_type(st: dict[str, Any]) -> str:
    types: dict[str, int] = st["types"]
    return max(sorted(types), key=lambda t: types[t]) if types else "absent"


def build_catalog(state: dict[str, Any], legacy: WireProfile, candidate: WireProfile) -> list[DriftRow]:
    rows = embed_rows(state, legacy, candidate)
    explained = {
        "legacy": embed_fields(state, legacy, "legacy").paths(),
        "candidate": embed_fields(state, candidate, "candidate").paths(),
    }
    general: list[DriftRow] = []
    if legacy.method != candidate.method:
        general.append(DriftRow("method", "Request method", f"`{legacy.method}`", f"`{candidate.method}`", False,
                                {"legacy_method": legacy.method, "candidate_method": candidate.method}))
    general += scope_rows(state, "response", explained, structural=True)
    # Request field names and optionality are already in the "Request shape" row.
    general += scope_rows(state, "request", {"legacy": set(), "candidate": set()}, structural=False)
    return rows + general

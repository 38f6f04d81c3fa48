"""Turn an observer's aggregated state into catalog rows: the probe's own rows, then general findings."""

from __future__ import annotations

from typing import Any

from farm.probes.base import Profile
from farm.wiredrift.roles import DriftRoles
from farm.wiredrift.rows import DriftRow
from farm.wiredrift.structure import SIDES, renames

GENERAL_ORDER = ("method", "rename", "missing", "extra", "presence", "type", "value", "order", "scale")


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


def scope_rows(
    state: dict[str, Any], scope_name: str, explained: dict[str, set[str]], *, structural: bool,
    paired: dict[str, set[str]] | None = None,
) -> list[DriftRow]:
    """General findings of one scope; `structural` adds renamed / missing / extra / presence rows; `paired`
    fields (a probe row pairs them) are never missing or extra, but still found as renamed."""
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
                      and p not in renamed[side] and p not in explained[side] and p not in (paired or {}).get(side, ())}
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


def build_catalog(state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
    """The probe's own rows first (its roles), then the general findings of the structural diff."""
    roles = drift_roles(legacy)
    rows = roles.rows(state, legacy, candidate)
    explained = {
        "legacy": roles.fields(state, legacy, "legacy").paths(),
        "candidate": roles.fields(state, candidate, "candidate").paths(),
    }
    general: list[DriftRow] = []
    if legacy.method != candidate.method:
        general.append(DriftRow("method", "Request method", f"`{legacy.method}`", f"`{candidate.method}`", False,
                                {"legacy_method": legacy.method, "candidate_method": candidate.method}))
    paired = {side: set(roles.fields(state, p, side).paired) for side, p in (("legacy", legacy),
                                                                                ("candidate", candidate))}
    general += scope_rows(state, "response", explained, structural=True, paired=paired)
    # Request field names and optionality are already in the probe's "Request shape" row, where it has one.
    general += scope_rows(state, "request", {"legacy": set(), "candidate": set()}, structural=False)
    return rows + general


def drift_roles(profile: Profile) -> DriftRoles:
    """The field roles of the probe a profile belongs to."""
    from farm.probes import probe_of

    return probe_of(profile).drift_roles()

"""Structural diff of two flattened JSON documents, aggregated over a sweep as plain, mergeable counts.

One *scope* (the requests, or the responses) keeps:
- `paths[side][path]`: how often the path was seen, its element types, whether its value is constant
  (for adapters: a legacy field the candidate lacks can be filled in when it never varies), whether it
  is positional ([0..n-1], derivable) or sorted;
- `both[path]`: for paths present on both sides in the same batch, how the values compared;
- `pairs["legacy<TAB>candidate"]`: rename evidence between a legacy-only and a candidate-only path.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from farm.wiredrift.values import (
    UNIT_TOL,
    as_text,
    canonical,
    depth,
    equivalence,
    is_positional,
    is_sorted_scalars,
    json_type,
    path_matches,
    same_multiset,
    same_value,
    short,
    type_signature,
    vector_relation,
)

SIDES = ("legacy", "candidate")
VECTOR_TYPES = ("vector", "vectors")
PAIR_KINDS = ("exact", "normalised", "multiset", "string")
COMPARE_KINDS = ("equal", "type", "value", "order", "scale")
# Past this many legacy-only x candidate-only combinations in one batch, rename evidence is skipped (cost cap).
MAX_PAIRS = 4096
CONST_MAX_CHARS = 256


def pair_key(legacy_path: str, candidate_path: str) -> str:
    return f"{legacy_path}\t{candidate_path}"


def split_pair(key: str) -> tuple[str, str]:
    legacy_path, _, candidate_path = key.partition("\t")
    return legacy_path, candidate_path


def empty_scope() -> dict[str, Any]:
    return {"paths": {side: {} for side in SIDES}, "both": {}, "pairs": {}}


def _new_path_stat() -> dict[str, Any]:
    return {"seen": 0, "types": {}, "const": None, "varies": False, "positional": 0, "sorted": 0}


def _constant_of(value: Any, levels: int, top_type: str) -> tuple[str | None, bool]:
    """(canonical constant, varies): gathered paths are constant when every element is the same value."""
    if top_type in VECTOR_TYPES:
        return None, True
    if levels and isinstance(value, list):
        texts = {canonical(e) for e in value}
        if len(texts) != 1:
            return None, True
        text = texts.pop()
    else:
        text = canonical(value)
    return (None, True) if len(text) > CONST_MAX_CHARS else (text, False)


def _update_path(stats: dict[str, Any], path: str, value: Any, top_type: str) -> None:
    st = stats.setdefault(path, _new_path_stat())
    levels = depth(path)
    sig = type_signature(value, levels) if top_type not in VECTOR_TYPES or levels else top_type
    st["types"][sig] = st["types"].get(sig, 0) + 1
    const, varies = _constant_of(value, levels, top_type)
    if st["seen"] == 0:
        st["const"], st["varies"] = const, varies
    elif varies or const != st["const"]:
        st["const"], st["varies"] = None, True
    st["seen"] += 1
    if is_positional(value):
        st["positional"] += 1
    if is_sorted_scalars(value):
        st["sorted"] += 1


def _compare(entry: dict[str, Any], a: Any, b: Any, ta: str, tb: str, path: str, unordered: bool) -> None:
    entry["n"] += 1
    levels = depth(path)
    sig_a = type_signature(a, levels) if ta not in VECTOR_TYPES else ta
    sig_b = type_signature(b, levels) if tb not in VECTOR_TYPES else tb
    outcome = "equal"
    if sig_a != sig_b:
        outcome = "type"
    elif ta in VECTOR_TYPES:
        rel = vector_relation(a, b)
        if rel is None:
            outcome = "value"  # different shapes: a dimension or count drift
        elif abs(rel[1] - 1) > UNIT_TOL or abs(rel[2] - 1) > UNIT_TOL:
            outcome = "scale"
            lo, hi = entry.get("ratio_min"), entry.get("ratio_max")
            entry["ratio_min"] = rel[1] if lo is None else min(lo, rel[1])
            entry["ratio_max"] = rel[2] if hi is None else max(hi, rel[2])
    elif not same_value(a, b):
        if isinstance(a, list) and isinstance(b, list) and same_multiset(a, b):
            outcome = "equal" if unordered else "order"
        elif as_text(a) != as_text(b):
            outcome = "value"
    entry[outcome] += 1
    if outcome != "equal" and outcome not in entry["examples"]:
        entry["examples"][outcome] = [short(a), short(b)]


def observe_scope(
    scope: dict[str, Any], legacy: dict[str, Any], candidate: dict[str, Any], unordered: tuple[str, ...]
) -> None:
    """Fold one batch's pair of flattened documents into the scope's counts."""
    tops = {}
    for side, flat in zip(SIDES, (legacy, candidate), strict=True):
        top = {p: json_type(v) for p, v in flat.items()}
        tops[side] = top
        for p, v in flat.items():
            _update_path(scope["paths"][side], p, v, top[p])
    for p in legacy:
        if p in candidate:
            entry = scope["both"].setdefault(p, {"n": 0, **dict.fromkeys(COMPARE_KINDS, 0), "examples": {}})
            _compare(entry, legacy[p], candidate[p], tops["legacy"][p], tops["candidate"][p], p,
                     path_matches(p, unordered))
    legacy_only = [p for p in legacy if p not in candidate]
    candidate_only = [p for p in candidate if p not in legacy]
    if len(legacy_only) * len(candidate_only) > MAX_PAIRS:
        return
    for lp in legacy_only:
        for cp in candidate_only:
            entry = scope["pairs"].setdefault(pair_key(lp, cp), {"n": 0, **dict.fromkeys(PAIR_KINDS, 0)})
            entry["n"] += 1
            lt, ct = tops["legacy"][lp], tops["candidate"][cp]
            if (lt in VECTOR_TYPES) != (ct in VECTOR_TYPES):
                continue
            kind = equivalence(legacy[lp], candidate[cp],
                               unordered=path_matches(lp, unordered) or path_matches(cp, unordered))
            if kind is not None:
                entry[kind] += 1


def merge_scope(scope: dict[str, Any], other: dict[str, Any]) -> None:
    for side in SIDES:
        mine = scope["paths"][side]
        for p, st in other["paths"][side].items():
            if p not in mine or mine[p]["seen"] == 0:
                mine[p] = _copy(st)
                continue
            cur = mine[p]
            if st["seen"] and (st["varies"] or cur["varies"] or st["const"] != cur["const"]):
                cur["const"], cur["varies"] = None, True
            for key in ("seen", "positional", "sorted"):
                cur[key] += st[key]
            for t, n in st["types"].items():
                cur["types"][t] = cur["types"].get(t, 0) + n
    for p, entry in other["both"].items():
        if p not in scope["both"]:
            scope["both"][p] = _copy(entry)
            continue
        cur = scope["both"][p]
        for key in ("n", *COMPARE_KINDS):
            cur[key] += entry[key]
        for outcome, example in entry["examples"].items():
            cur["examples"].setdefault(outcome, list(example))
        for key, pick in (("ratio_min", min), ("ratio_max", max)):
            if entry.get(key) is not None:
                cur[key] = entry[key] if cur.get(key) is None else pick(cur[key], entry[key])
    for key, entry in other["pairs"].items():
        cur = scope["pairs"].setdefault(key, {"n": 0, **dict.fromkeys(PAIR_KINDS, 0)})
        for k in ("n", *PAIR_KINDS):
            cur[k] += entry[k]


def _copy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (_copy(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in d.items()}


def renames(scope: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(legacy path, candidate path, evidence kind) one-to-one, strongest and most consistent evidence first.

    A pair qualifies when its values agreed in at least half of the batches where both fields appeared;
    ties go to the pair whose names are most alike (`dimension` <-> `dimensions` over `dimension` <-> `count`).
    """
    scored: list[tuple[float, int, float, str, str, str]] = []
    for key, entry in scope["pairs"].items():
        support = sum(entry[k] for k in PAIR_KINDS)
        if entry["n"] == 0 or support * 2 < entry["n"]:
            continue
        kind = max(PAIR_KINDS, key=lambda k: (entry[k], -PAIR_KINDS.index(k)))
        strength = len(PAIR_KINDS) - PAIR_KINDS.index(kind)
        lp, cp = split_pair(key)
        alike = SequenceMatcher(None, lp, cp).ratio()
        scored.append((support / entry["n"], strength, alike, lp, cp, kind))
    scored.sort(key=lambda s: (-s[0], -s[1], -s[2], s[3], s[4]))
    taken_l: set[str] = set()
    taken_c: set[str] = set()
    out: list[tuple[str, str, str]] = []
    for _, _, _, lp, cp, kind in scored:
        if lp in taken_l or cp in taken_c:
            continue
        taken_l.add(lp)
        taken_c.add(cp)
        out.append((lp, cp, kind))
    return out


"""Embed-specific facts read off each batch: which field carries the vectors, the dimension, the model, the texts.

Inferred from the data: a field counts as the vectors field because it holds vectors, as the dimension field
because its integer equals the vectors' length, as the model field because it echoes the requested model.
The profile only breaks ties (and fills in when nothing was observed).
"""

from __future__ import annotations

from typing import Any

from farm.profiles import WireProfile
from farm.wiredrift.values import as_array, depth, is_number, is_vectors

FACTS = ("vectors", "dim", "model", "texts")


def empty_facts() -> dict[str, Any]:
    return {"docs": 0, **{k: {} for k in FACTS}}


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def vectors_path_of(flat: dict[str, Any], hint: str | None) -> str | None:
    paths = [p for p, v in flat.items() if is_vectors(v)]
    if hint in paths:
        return hint
    return paths[0] if paths else None


def observe_facts(facts: dict[str, Any], profile: WireProfile, request: Any, flat: dict[str, Any]) -> str | None:
    """Record one response's embed facts; returns the vectors path it used (None when it had no vectors)."""
    facts["docs"] += 1
    if isinstance(request, dict):
        for key, value in request.items():
            if isinstance(value, list) and value and all(isinstance(t, str) for t in value):
                _bump(facts["texts"], str(key))
    for p, v in flat.items():
        if is_vectors(v):
            _bump(facts["vectors"], p)
    vpath = vectors_path_of(flat, profile.vectors_path)
    if vpath is None and profile.vectors_path in flat:
        vpath = profile.vectors_path  # short vectors (<= 16 numbers) are still the declared vectors
    if vpath is None:
        return None
    arr = as_array(flat[vpath])
    dim = int(arr.shape[1]) if arr is not None else None
    model = profile.model_of(request) if isinstance(request, dict) else None
    for p, v in flat.items():
        if depth(p) or p == vpath:
            continue
        if dim is not None and is_number(v) and isinstance(v, int) and v == dim:
            _bump(facts["dim"], p)
        if model is not None and isinstance(v, str) and v == model:
            _bump(facts["model"], p)
    return vpath


def merge_facts(facts: dict[str, Any], other: dict[str, Any]) -> None:
    facts["docs"] += other["docs"]
    for key in FACTS:
        for p, n in other[key].items():
            facts[key][p] = facts[key].get(p, 0) + n


def choose(facts: dict[str, Any], key: str, hint: str | None, *, majority: bool = True) -> str | None:
    """The inferred path for `key`: the profile's when observed, else the most frequent; None when not seen.

    With `majority`, a field must have matched in at least half the batches (one coincidental 768 is no
    dimension field). With nothing observed at all, the profile's declaration stands.
    """
    if facts["docs"] == 0:
        return hint
    counts: dict[str, int] = facts[key]
    ok = {p: n for p, n in counts.items() if not majority or n * 2 >= facts["docs"]}
    if hint is not None and hint in ok:
        return hint
    if not ok:
        return None
    return max(sorted(ok), key=lambda p: ok[p])

"""Running L2-norm statistics of one gateway's vectors: mergeable, JSON-able, order independent."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from farm.wiredrift.values import UNIT_TOL


def empty_norms() -> dict[str, Any]:
    # No sums on purpose: min/max/counts merge exactly in any order, so merged state equals one-pass state.
    return {"n": 0, "unit": 0, "nonfinite": 0, "min": None, "max": None}


def update_norms(state: dict[str, Any], norms: npt.ArrayLike) -> None:
    arr = np.asarray(norms, dtype=np.float64).ravel()
    if arr.size == 0:
        return
    finite = np.isfinite(arr)
    state["nonfinite"] += int(arr.size - int(finite.sum()))
    arr = arr[finite]
    if arr.size == 0:
        return
    state["n"] += int(arr.size)
    state["unit"] += int((np.abs(arr - 1.0) <= UNIT_TOL).sum())
    lo, hi = float(arr.min()), float(arr.max())
    state["min"] = lo if state["min"] is None else min(state["min"], lo)
    state["max"] = hi if state["max"] is None else max(state["max"], hi)


def merge_norms(state: dict[str, Any], other: dict[str, Any]) -> None:
    for key in ("n", "unit", "nonfinite"):
        state[key] += other[key]
    for key, pick in (("min", min), ("max", max)):
        if other[key] is not None:
            state[key] = other[key] if state[key] is None else pick(state[key], other[key])


def norm_class(state: dict[str, Any]) -> str:
    """'unit', 'raw', 'mixed' or 'none' (nothing observed)."""
    if state["n"] == 0:
        return "none"
    if state["unit"] == state["n"]:
        return "unit"
    return "raw" if state["unit"] == 0 else "mixed"


def _fmt(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def norm_range(state: dict[str, Any]) -> str:
    lo, hi = _fmt(state["min"]), _fmt(state["max"])
    return lo if lo == hi else f"{lo}-{hi}"


def describe_norms(state: dict[str, Any]) -> str:
    cls = norm_class(state)
    if cls == "none":
        return "(not observed)"
    if cls == "unit":
        return "unit vectors (‖v‖ ≈ 1.0)"
    if cls == "raw":
        return f"raw output (‖v‖ ≈ {norm_range(state)})"
    return f"mixed: {state['unit']} of {state['n']} unit (‖v‖ ≈ {norm_range(state)})"


def same_scale(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Both unit, or both raw with overlapping ranges: no renormalisation needed between them."""
    ca, cb = norm_class(a), norm_class(b)
    if ca != cb:
        return False
    if ca in ("unit", "none"):
        return True
    return bool(a["min"] <= b["max"] and b["min"] <= a["max"])

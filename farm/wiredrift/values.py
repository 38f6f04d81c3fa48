"""JSON value helpers for drift inference: type names, vector detection, flattening, equivalence.

A *vector* is an array of more than 16 numbers; an array of vectors is a *matrix*. Both are leaves: the diff
never walks into them element by element, it compares them with numpy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

VECTOR_MIN_LEN = 17
UNIT_TOL = 1e-3
# Rename detection only needs "same direction"; parity (tau = 0.9999) is the sweep's job, not ours.
RENAME_MIN_COS = 0.99


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


_NUMBER_TYPES = frozenset({int, float})


def is_vector(x: Any) -> bool:
    # map(type) runs in C: this check runs on every vector of every diffed batch (bool is not int here).
    return isinstance(x, list) and len(x) >= VECTOR_MIN_LEN and set(map(type, x)) <= _NUMBER_TYPES


def is_matrix(x: Any) -> bool:
    return isinstance(x, list) and len(x) > 0 and all(is_vector(e) for e in x)


def is_vectors(x: Any) -> bool:
    return is_vector(x) or is_matrix(x)


def json_type(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, dict):
        return "object"
    if isinstance(x, list):
        if is_vector(x):
            return "vector"
        if is_matrix(x):
            return "vectors"
        return "array"
    return type(x).__name__


def depth(path: str) -> int:
    """How many `[]` steps a path has: its flattened value is a list gathered that many levels deep."""
    return path.count("[]")


def type_signature(value: Any, levels: int) -> str:
    """The JSON type of the elements `levels` deep (gathered paths); several types join with `|`."""
    found: set[str] = set()

    def visit(v: Any, k: int) -> None:
        if k > 0 and isinstance(v, list):
            for e in v:
                visit(e, k - 1)
        else:
            found.add(json_type(v))

    visit(value, levels)
    return "|".join(sorted(found)) if found else "array"


def canonical(x: Any) -> str:
    try:
        return orjson.dumps(x, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return repr(x)


def _strip(path: str) -> str:
    return path.replace("[]", "")


def path_matches(path: str, patterns: tuple[str, ...]) -> bool:
    """True when `path` is one of `patterns` or lies under one; `[]` markers are optional in patterns."""
    p = _strip(path)
    for pattern in patterns:
        q = _strip(pattern)
        if p == q or p.startswith(q + "."):
            return True
    return False


def join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def flatten(doc: Any, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leaf paths -> values, `get_path` style: under `name[]` the value is the list gathered over the items."""
    out: dict[str, Any] = {}
    _walk(doc, "", out, ignore)
    return out


def _walk(node: Any, prefix: str, out: dict[str, Any], ignore: tuple[str, ...]) -> None:
    if prefix and ignore and path_matches(prefix, ignore):
        return
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _walk(value, join(prefix, str(key)), out, ignore)
    elif isinstance(node, list) and node and all(isinstance(e, dict) for e in node):
        subs: list[dict[str, Any]] = []
        for item in node:
            sub: dict[str, Any] = {}
            _walk(item, prefix + "[]", sub, ignore)
            subs.append(sub)
        keys: dict[str, None] = {}
        for sub in subs:
            keys.update(dict.fromkeys(sub))
        for key in keys:
            out[key] = [sub.get(key) for sub in subs]
    else:
        out[prefix] = node


def as_array(x: Any) -> npt.NDArray[np.float64] | None:
    """A vector or matrix as a 2-D float array (one row per vector); None when it is not one."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim == 1 and arr.size:
        return arr.reshape(1, -1)
    if arr.ndim == 2 and arr.size:
        return arr
    return None


def vector_relation(a: Any, b: Any) -> tuple[float, float, float] | None:
    """(min cosine, min norm ratio b/a, max norm ratio b/a) over paired rows; None when shapes differ."""
    x, y = as_array(a), as_array(b)
    if x is None or y is None or x.shape != y.shape:
        return None
    nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
    ok = (nx > 0) & (ny > 0)
    if not ok.all():
        return None
    cos = np.einsum("ij,ij->i", x, y) / (nx * ny)
    ratio = ny / nx
    return float(cos.min()), float(ratio.min()), float(ratio.max())


def same_value(a: Any, b: Any) -> bool:
    """Deep equality with float tolerance; int 1 and float 1.0 are equal here (types are compared apart)."""
    if is_number(a) and is_number(b):
        return a == b or math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return bool(type(a) is type(b) and a == b)


def same_multiset(a: Any, b: Any) -> bool:
    if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
        return False
    return sorted(canonical(e) for e in a) == sorted(canonical(e) for e in b)


def as_text(x: Any) -> Any:
    """Scalars as the text a JSON producer would print; lists map elementwise. Used to spot "768" vs 768."""
    if isinstance(x, list):
        return [as_text(e) for e in x]
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if isinstance(x, int | float):
        return repr(x)
    if isinstance(x, str):
        return x.strip()
    return canonical(x)


def equivalence(a: Any, b: Any, *, unordered: bool = False) -> str | None:
    """How two values of possibly renamed fields agree: exact, normalised, multiset, string; None when not."""
    if is_vectors(a) and is_vectors(b):
        rel = vector_relation(a, b)
        if rel is None or rel[0] < RENAME_MIN_COS:
            return None
        return "exact" if abs(rel[1] - 1) < 1e-6 and abs(rel[2] - 1) < 1e-6 else "normalised"
    if is_vectors(a) or is_vectors(b):
        return None
    if same_value(a, b) and json_type(a) == json_type(b):
        return "exact"
    if isinstance(a, list) and isinstance(b, list) and same_multiset(a, b):
        return "exact" if unordered else "multiset"
    if not isinstance(a, dict) and not isinstance(b, dict) and as_text(a) == as_text(b):
        return "string"
    return None


def is_positional(x: Any) -> bool:
    """[0, 1, ..., n-1]: an index field that can be derived from array positions."""
    return isinstance(x, list) and len(x) > 0 and all(
        isinstance(e, int) and not isinstance(e, bool) and e == i for i, e in enumerate(x)
    )


def is_sorted_scalars(x: Any) -> bool:
    if not isinstance(x, list) or len(x) < 2:
        return False
    if all(is_number(e) for e in x) or all(isinstance(e, str) for e in x):
        return all(x[i] <= x[i + 1] for i in range(len(x) - 1))
    return False


def short(x: Any, limit: int = 48) -> str:
    """A value for a table cell: vectors as their shape, everything else as truncated JSON."""
    arr = as_array(x) if is_vectors(x) else None
    if arr is not None:
        return f"{arr.shape[0]}×{arr.shape[1]} vectors" if is_matrix(x) else f"vector[{arr.shape[1]}]"
    text = canonical(x)
    return text if len(text) <= limit else text[: limit - 1] + "…"

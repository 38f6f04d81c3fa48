"""One statement's two results compared: columns, declared types, rows (a multiset, or in order under a top-level
ORDER BY except among rows tied on its keys), values by type with tolerances, and the class of a difference.

Classes (what differs): `error_one_side`, `columns`, `row_count`, `null_ordering`, `order`, `type`, `value`;
`nondeterministic` for a LIMIT without ORDER BY (reported, never counted). A value difference is explained by
the SQL feature of the statement that matches the values (integer division, rounding, LIKE case...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

import orjson

from farm.probes.sql.statements import Statement, analyse

NUMERIC_TYPES = ("INT", "REAL", "DOUBLE", "FLOAT", "NUMERIC", "DECIMAL", "NUMBER")


@dataclass(frozen=True)
class Tolerance:
    rel: float = 1e-9          # floats equal within this relative difference
    abs: float = 1e-12         # ... or this absolute one (values near zero)
    strict_types: bool = False  # 3 vs 3.0, true vs 1, "3" vs 3 differ


@dataclass
class Outcome:
    """A statement's comparison: agreed (None: not judged), its class and explaining feature, the drift seen."""

    agreed: bool | None
    diff_class: str | None = None
    feature: str | None = None
    type_drift: bool = False        # declared types differ while values agree
    numbers_as_strings: int = 0     # numeric-typed values one side sent as JSON strings
    example: str | None = None      # both results' first rows, for the report
    notes: list[str] = field(default_factory=list)


def is_numeric_type(declared: str | None) -> bool:
    return declared is not None and any(t in declared.upper() for t in NUMERIC_TYPES)


def _timestamp(text: str) -> datetime | date | None:
    """An ISO date or timestamp as UTC (naive ones are taken as UTC); None for any other text."""
    if len(text) < 10 or not (text[:4].isdigit() and text[4] == "-" and text[7] == "-"):
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def canonical(value: Any, declared: str | None, tol: Tolerance) -> tuple[Any, bool]:
    """A value as the comparison sees it, and whether it was a number sent as a string (drift)."""
    if isinstance(value, bool):
        return (value if tol.strict_types else int(value)), False
    if isinstance(value, str):
        if is_numeric_type(declared):
            try:
                number = float(value)
            except ValueError:
                return value, False
            if not tol.strict_types:
                return (int(value) if value.lstrip("-").isdigit() else number), True
            return value, True
        ts = _timestamp(value)
        return (ts if ts is not None else value), False
    return value, False


def values_equal(a: Any, b: Any, tol: Tolerance) -> bool:
    if a is None or b is None:
        return a is None and b is None
    num_a = isinstance(a, int | float) and not isinstance(a, bool)
    num_b = isinstance(b, int | float) and not isinstance(b, bool)
    if num_a and num_b:
        if tol.strict_types and isinstance(a, int) != isinstance(b, int):
            return False
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return abs(fa - fb) <= max(tol.abs, tol.rel * max(abs(fa), abs(fb)))
    if type(a) is not type(b):
        return False
    return bool(a == b)


def _sort_key(value: Any) -> tuple[int, Any]:
    """A total order over canonical values; numbers quantised so values equal within tolerance sort together."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        f = float(value)
        return (1, 0.0 if f == 0 or math.isnan(f) else float(f"{f:.8g}"))
    if isinstance(value, datetime | date):
        return (2, value.isoformat())
    return (3, str(value))


def _row_key(row: list[Any]) -> tuple[tuple[int, Any], ...]:
    return tuple(_sort_key(v) for v in row)


def rows_equal(a: list[list[Any]], b: list[list[Any]], tol: Tolerance) -> bool:
    return len(a) == len(b) and all(
        len(x) == len(y) and all(values_equal(u, v, tol) for u, v in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True))


def multiset_equal(a: list[list[Any]], b: list[list[Any]], tol: Tolerance) -> bool:
    return rows_equal(sorted(a, key=_row_key), sorted(b, key=_row_key), tol)


def _groups(rows: list[list[Any]], keys: list[int]) -> list[tuple[tuple[Any, ...], list[list[Any]]]]:
    """Consecutive rows tied on the ORDER BY keys, with their (sortable) key."""
    return [(k, list(g)) for k, g in groupby(rows, key=lambda r: tuple(_sort_key(r[i]) for i in keys))]


def ordered_equal(a: list[list[Any]], b: list[list[Any]], st: Statement, tol: Tolerance, cut: bool) -> bool:
    """Equal in order, rows tied on the sort keys compared as multisets; with `cut` (a LIMIT, or truncation) the
    last tied group may hold other rows of the same key."""
    keys = [k.column for k in st.order_keys]
    if any(k is None for k in keys):
        return multiset_equal(a, b, tol)  # a key outside the output: order cannot be checked, content can
    ga, gb = _groups(a, [k for k in keys if k is not None]), _groups(b, [k for k in keys if k is not None])
    if len(ga) != len(gb):
        return False
    for i, ((ka, ra), (kb, rb)) in enumerate(zip(ga, gb, strict=True)):
        if ka != kb or len(ra) != len(rb):
            return False
        last = i == len(ga) - 1
        if not (cut and last) and not multiset_equal(ra, rb, tol):
            return False
    return True


def _null_ordering(a: list[list[Any]], b: list[list[Any]], st: Statement, tol: Tolerance) -> bool:
    """The rows agree once the NULLs of the first sort key move to the other end: engines' NULL placement."""
    first = st.order_keys[0].column if st.order_keys else None
    if first is None:
        return False

    def moved(rows: list[list[Any]]) -> list[list[Any]]:
        nulls = [r for r in rows if r[first] is None]
        rest = [r for r in rows if r[first] is not None]
        return rest + nulls if rows and rows[0][first] is None else nulls + rest

    return bool(any(r[first] is None for r in a)) and ordered_equal(moved(a), b, st, tol, False)


def _nulls_at_other_end(a: list[list[Any]], b: list[list[Any]], st: Statement) -> bool:
    """One side starts with NULL in the first sort key where the other does not (a LIMIT then keeps other rows)."""
    first = st.order_keys[0].column if st.order_keys else None
    if first is None or not a or not b:
        return False
    return (a[0][first] is None) != (b[0][first] is None)


def _explain(a: Any, b: Any, st: Statement) -> tuple[str, str | None]:
    """(class, feature) of the first differing value pair."""
    feats = st.features
    num = (int, float)
    if a is None or b is None:
        other = b if a is None else a
        if other == "":
            return "value", "NULL vs empty string"
        return "value", "aggregates" if "aggregates" in feats else "NULL handling"
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if "integer division" in feats and (isinstance(a, int) != isinstance(b, int)
                                            or float(a).is_integer() != float(b).is_integer()):
            return "value", "integer division"
        if "rounding" in feats:
            return "value", "rounding"
        if "LIKE case sensitivity" in feats:
            return "value", "LIKE case sensitivity"
        if "window functions" in feats:
            return "value", "window functions"
        if "aggregates" in feats:
            return "value", "aggregates"
        return "value", "float arithmetic" if isinstance(a, float) or isinstance(b, float) else None
    if isinstance(a, bool) or isinstance(b, bool):
        return ("value", "LIKE case sensitivity") if "LIKE case sensitivity" in feats else ("type", "booleans")
    if type(a) is not type(b):
        if isinstance(a, datetime | date) or isinstance(b, datetime | date):
            return "value", "dates and timestamps"
        return "type", None
    if isinstance(a, datetime | date):
        return "value", "dates and timestamps"
    if isinstance(a, str):
        if "string functions" in feats:
            return "value", "string functions" + (" (unicode)" if not (a + b).isascii() else "")
        return "value", "unicode text" if not (a + b).isascii() else None
    return "value", None


def _first_difference(a: list[list[Any]], b: list[list[Any]], tol: Tolerance) -> tuple[Any, Any] | None:
    for x, y in zip(sorted(a, key=_row_key), sorted(b, key=_row_key), strict=False):
        for u, v in zip(x, y, strict=False):
            if not values_equal(u, v, tol):
                return u, v
    return None


def _example(legacy: dict[str, Any], candidate: dict[str, Any], limit: int = 480) -> str:
    """Both results' first rows (or errors) as one JSON line for the report."""
    def head(side: dict[str, Any]) -> Any:
        if "error" in side:
            return {"error": side.get("status"), "message": str(side.get("message"))[:120]}
        return {"columns": side["columns"], "rows": side["rows"][:3], "row_count": side["row_count"]}
    text = orjson.dumps({"legacy": head(legacy), "candidate": head(candidate)}, default=str).decode()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def compare_results(sql: str, legacy: dict[str, Any], candidate: dict[str, Any], tol: Tolerance) -> Outcome:
    """Compare one statement's two results (each {columns, types, rows, ...} or {error, status, message})."""
    st = analyse(sql)
    lerr, cerr = "error" in legacy, "error" in candidate
    if lerr or cerr:
        if lerr and cerr:
            return Outcome(True)  # both engines refuse the statement: the same answer
        return Outcome(False, "error_one_side", "legacy" if lerr else "candidate", example=_example(legacy, candidate))
    out = Outcome(None)
    if legacy["columns"] != candidate["columns"]:
        out.agreed, out.diff_class, out.example = False, "columns", _example(legacy, candidate)
        return out
    lt, ct = legacy["types"], candidate["types"]
    la: list[list[Any]] = []
    ca: list[list[Any]] = []
    for rows, types, acc in ((legacy["rows"], lt, la), (candidate["rows"], ct, ca)):
        for row in rows:
            converted = []
            for v, t in zip(row, types, strict=False):
                c, as_string = canonical(v, t, tol)
                out.numbers_as_strings += as_string
                converted.append(c)
            acc.append(converted)
    out.type_drift = [str(t).upper() if t else t for t in lt] != [str(t).upper() if t else t for t in ct]
    if st.limited and not st.ordered:
        out.diff_class = "nondeterministic"  # which rows a bare LIMIT returns is the engine's choice
        return out
    if legacy["row_count"] != candidate["row_count"]:
        out.agreed, out.diff_class, out.example = False, "row_count", _example(legacy, candidate)
        return out
    cut = st.limited or legacy["truncated"] or candidate["truncated"]
    if st.ordered:
        same = ordered_equal(la, ca, st, tol, cut)
    elif legacy["truncated"] or candidate["truncated"]:
        out.agreed, out.diff_class = True, None
        out.notes.append("truncated without ORDER BY: row counts compared only")
        return out
    else:
        same = multiset_equal(la, ca, tol)
    if same:
        out.agreed = True
        return out
    out.agreed, out.example = False, _example(legacy, candidate)
    if st.ordered and (_nulls_at_other_end(la, ca, st) or multiset_equal(la, ca, tol)):
        out.diff_class = "null_ordering" if _null_ordering(la, ca, st, tol) or _nulls_at_other_end(la, ca, st) \
            else "order"
        out.feature = "ORDER BY with NULLs" if out.diff_class == "null_ordering" else "ORDER BY"
        return out
    pair = _first_difference(la, ca, tol)
    out.diff_class, out.feature = _explain(*pair, st) if pair else ("value", None)
    return out

"""One statement's two results compared: columns, declared types, rows (a multiset, or in order under a top-level
ORDER BY except among rows tied on its keys), values by type with tolerances, and the class of a difference.

Classes (what differs, counted as disagreements): `error_one_side`, `columns`, `row_count`, `null_ordering`,
`order`, `type`, `value`. Not counted: `nondeterministic` (a LIMIT without ORDER BY: not judged),
`order_unverifiable` (ORDER BY only by something outside the select list: content compared as a multiset, order
not checked; with a LIMIT, not judged when the rows differ), `duplicate_columns` (row objects cannot carry two
columns of one name: the other columns compared, not judged when none is left). A value difference is
explained by the SQL feature that matches the values (`classes.py`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from farm.probes.sql.classes import explain_order, explain_values
from farm.probes.sql.rows import RowsMatch, SortKey, match_multiset, match_ordered
from farm.probes.sql.statements import DEFAULT_DIALECT, Statement, analyse
from farm.probes.sql.values import Tolerance, canonical, exact_key, is_numeric_type, values_equal

__all__ = ["NOT_COUNTED", "Outcome", "Tolerance", "compare_results", "is_numeric_type"]

UNVERIFIABLE = "ORDER BY a key outside the select list"
NOT_COUNTED = ("nondeterministic", "order_unverifiable", "duplicate_columns")  # reported, never disagreements


@dataclass
class Outcome:
    """A statement's comparison: agreed (None: not judged), its class and explaining feature, the drift seen."""

    agreed: bool | None
    diff_class: str | None = None
    feature: str | None = None
    type_drift: bool = False        # declared types differ while values agree
    numbers_as_strings: int = 0     # numeric-typed values one side sent as JSON strings
    example: str | None = None      # the statement's differing rows on both sides, for the report
    notes: list[str] = field(default_factory=list)


def _example(legacy: dict[str, Any], candidate: dict[str, Any], match: RowsMatch | None = None,
             limit: int = 480) -> str:
    """Both results' differing rows (or first rows, or errors) as one JSON line for the report: the rows each side
    sent, as it sent them (row objects under the names they carried)."""
    def head(side: dict[str, Any], idx: list[int] | None) -> Any:
        if "error" in side:
            return {"error": side.get("status"), "message": str(side.get("message"))[:120]}
        rows = side["rows"]
        shown = rows[:3] if idx is None else [rows[i] for i in idx[:3] if i < len(rows)]
        out: dict[str, Any] = {"columns": side.get("row_columns") or side["columns"], "rows": shown,
                               "row_count": side["row_count"]}
        if match is not None:
            out["rows_shown"] = f"from row {match.at + 1}" if match.at is not None else "unpaired"
        return out
    # The standard json module: integers beyond 64 bits are values here, and it writes them.
    text = json.dumps({"legacy": head(legacy, match.legacy_rows if match else None),
                       "candidate": head(candidate, match.candidate_rows if match else None)},
                      default=str, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _readable(legacy: dict[str, Any], candidate: dict[str, Any]) -> tuple[list[int], list[str]]:
    """Positions of the columns both sides' rows carry, and the names duplicated where a side sent row objects
    (one value per name: which column it belongs to is unknown)."""
    columns = legacy["columns"]
    if not any("row_columns" in side for side in (legacy, candidate)):
        return list(range(len(columns))), []
    counts = Counter(columns)
    return [j for j, c in enumerate(columns) if counts[c] == 1], sorted(c for c, n in counts.items() if n > 1)


def _rows(side: dict[str, Any], keep: list[str], out: Outcome, tol: Tolerance) -> list[list[Any]]:
    """A side's rows over the kept column names, canonical."""
    names = side.get("row_columns") or side["columns"]
    pos = [names.index(c) for c in keep]
    types = dict(zip(side["columns"], side["types"], strict=False))
    rows = []
    for row in side["rows"]:
        converted = []
        for j, c in zip(pos, keep, strict=True):
            value, as_string = canonical(row[j], types.get(c), tol)
            out.numbers_as_strings += as_string
            converted.append(value)
        rows.append(converted)
    return rows


def _first_pair(la: list[list[Any]], ca: list[list[Any]], match: RowsMatch, tol: Tolerance) -> tuple[Any, Any] | None:
    """The first differing value pair of the shown rows: at the position where ordered results part, else between
    the unpaired rows most alike (most equal columns)."""
    if not match.legacy_rows or not match.candidate_rows:
        return None
    x = la[match.legacy_rows[0]]
    if match.at is not None:
        y = ca[match.candidate_rows[0]]
    else:
        loose = Tolerance(tol.rel, tol.abs)  # alike as written: "3" beside 3 under --strict-types
        y = max((ca[k] for k in match.candidate_rows),
                key=lambda r: sum(values_equal(u, v, loose) or str(u) == str(v) for u, v in zip(x, r, strict=False)))
    return next(((u, v) for u, v in zip(x, y, strict=False) if not values_equal(u, v, tol)), None)


def _null_ordering(la: list[list[Any]], ca: list[list[Any]], keys: list[SortKey], tol: Tolerance,
                   cut_start: bool, cut_end: bool) -> bool:
    """The results part over where NULLs of the first sort key go: a side starts with them where the other does
    not (a LIMIT then keeps other rows), or the rows agree once they move to the other end."""
    first = keys[0].column
    if not la or not ca or not any(r[first] is None for r in (*la, *ca)):
        return False
    if (la[0][first] is None) != (ca[0][first] is None) and (cut_end or cut_start):
        return True

    def moved(rows: list[list[Any]]) -> list[list[Any]]:
        nulls = [r for r in rows if r[first] is None]
        rest = [r for r in rows if r[first] is not None]
        return rest + nulls if rows[0][first] is None else nulls + rest

    return match_ordered(moved(la), ca, keys, tol, cut_start=cut_start, cut_end=cut_end).equal


def compare_results(sql: str, legacy: dict[str, Any], candidate: dict[str, Any], tol: Tolerance,
                    dialect: str = DEFAULT_DIALECT) -> Outcome:
    """Compare one statement's two results (each {columns, types, rows, ...} or {error, status, message}; a side
    that sent row objects with duplicate names also has `row_columns`, the names its rows carry)."""
    st = analyse(sql, dialect)
    lerr, cerr = "error" in legacy, "error" in candidate
    if lerr or cerr:
        if lerr and cerr:
            return Outcome(True)  # both engines refuse the statement: the same answer
        return Outcome(False, "error_one_side", "legacy" if lerr else "candidate", example=_example(legacy, candidate))
    out = Outcome(None)
    if len(legacy["columns"]) != len(candidate["columns"]):
        out.agreed, out.diff_class, out.example = False, "columns", _example(legacy, candidate)
        return out
    names_differ = legacy["columns"] != candidate["columns"]  # values still compared by position (`7/2`)
    if names_differ and ("row_columns" in legacy or "row_columns" in candidate):
        out.agreed, out.diff_class, out.example = False, "columns", _example(legacy, candidate)
        return out
    sent = candidate  # the example shows the candidate's own names
    if names_differ:
        candidate = {**candidate, "columns": legacy["columns"]}
    kept, duplicated = _readable(legacy, candidate)
    lossy = " and ".join(n for n, side in (("legacy", legacy), ("candidate", candidate)) if "row_columns" in side)
    dup_feature = f"{lossy} row objects: {', '.join(duplicated)}"
    keep = [legacy["columns"][j] for j in kept]
    la, ca = _rows(legacy, keep, out, tol), _rows(candidate, keep, out, tol)
    out.type_drift = [str(t).upper() if t else t for t in legacy["types"]] != \
        [str(t).upper() if t else t for t in candidate["types"]]
    if st.limited and not st.ordered:
        out.diff_class = "nondeterministic"  # which rows a bare LIMIT returns is the engine's choice
        return out
    if legacy["row_count"] != candidate["row_count"]:
        out.agreed, out.diff_class = False, "row_count"
        out.example = _example(legacy, sent, match_multiset(la, ca, tol))
        return out
    new_pos = {j: i for i, j in enumerate(kept)}
    keys = [SortKey(new_pos[k.column], k.collated) for k in _checkable(st, new_pos, legacy["columns"])]
    unverifiable = st.ordered and not keys
    cut_end = st.limited or bool(legacy["truncated"] or candidate["truncated"])
    if keys:
        match = match_ordered(la, ca, keys, tol, cut_start=st.offset, cut_end=cut_end)
    elif legacy["truncated"] or candidate["truncated"]:
        out.agreed = True
        out.notes.append("truncated without a checkable ORDER BY: row counts compared only")
        return out
    else:
        match = match_multiset(la, ca, tol)
    if match.equal and duplicated and not kept:
        out.diff_class, out.feature = "duplicate_columns", dup_feature
        return out  # nothing left to compare: not judged
    if match.equal:
        out.agreed = not names_differ
        out.example = _example(legacy, sent) if names_differ else None
        out.diff_class = ("columns" if names_differ else "duplicate_columns" if duplicated
                          else "order_unverifiable" if unverifiable else None)
        out.feature = (dup_feature if out.diff_class == "duplicate_columns"
                       else UNVERIFIABLE if unverifiable else None)
        return out
    out.example = _example(legacy, sent, match)
    if unverifiable and st.limited:  # which rows the LIMIT keeps depends on an order the farm cannot see
        out.diff_class, out.feature = "order_unverifiable", UNVERIFIABLE
        return out
    out.agreed = False
    nulls = bool(keys) and _null_ordering(la, ca, keys, tol, st.offset, cut_end)
    reordered = bool(keys) and (match_multiset(la, ca, tol).equal
                                or ((cut_end or st.offset) and _common_keys_reordered(la, ca, keys[0].column)))
    if keys and (nulls or reordered):
        if nulls:
            out.diff_class, out.feature = "null_ordering", "ORDER BY with NULLs"
        else:
            first = keys[0].column
            out.diff_class = "order"
            out.feature = explain_order([r[first] for r in la], [r[first] for r in ca], st)
        return out
    pair = _first_pair(la, ca, match, tol)
    out.diff_class, out.feature = explain_values(*pair, st, tol) if pair else ("value", None)
    return out


def _common_keys_reordered(la: list[list[Any]], ca: list[list[Any]], first: int) -> bool:
    """Under a LIMIT or OFFSET other rows are kept when the engines order differently (a collation): the first
    sort key's values both sides hold come in another order."""
    lk, ck = [exact_key(r[first]) for r in la], [exact_key(r[first]) for r in ca]
    common = Counter(lk) & Counter(ck)

    def kept(keys: list[Any]) -> list[Any]:
        seen: Counter[Any] = Counter()
        out = []
        for k in keys:
            if seen[k] < common[k]:
                seen[k] += 1
                out.append(k)
        return list(dict.fromkeys(out))  # each distinct key once, in the side's order

    return kept(lk) != kept(ck)


def _checkable(st: Statement, new_pos: dict[int, int], columns: list[str]) -> list[Any]:
    """The ORDER BY keys the comparison checks: the leading ones sorting an output column both sides carry."""
    out = []
    for key in st.checked_keys(columns):
        if key.column not in new_pos:
            break
        out.append(key)
    return out

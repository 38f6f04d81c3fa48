"""The class and the SQL feature of a difference: what differs (a value, a type, the order) and which feature of
the statement explains it (integer division, CAST, float-to-text formatting, collation, group_concat order...).

Read from the statement's features (sqlglot) and the two differing values: a feature is named only when the
values look like what it does (3 against 3.5 under a division, '1.0' against '1' as texts of equal numbers).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from farm.probes.sql.statements import Statement
from farm.probes.sql.values import Tolerance, folded, is_number, numbers_equal

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SEPARATORS = (",", ", ", ";", "|", " ", "\n")


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numbers_in(text: str) -> tuple[str, list[float]]:
    """A text with its numbers taken out, and the numbers."""
    return _NUMBER.sub("#", text), [float(m) for m in _NUMBER.findall(text)]


def float_text(a: str, b: str, tol: Tolerance) -> bool:
    """Two texts that differ only in how equal numbers are written ('1.0' and '1', '0.1' and '0.10000000000000001')."""
    (ta, na), (tb, nb) = _numbers_in(a), _numbers_in(b)
    return ta == tb and len(na) == len(nb) and bool(na) and all(
        numbers_equal(x, y, Tolerance(rel=max(tol.rel, 1e-6))) for x, y in zip(na, nb, strict=True))


def same_items(a: Any, b: Any) -> bool:
    """Two aggregated values holding the same items in another order (group_concat, string_agg, array_agg)."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(repr, a)) == sorted(map(repr, b))
    if isinstance(a, str) and isinstance(b, str):
        return any(sep in a and sorted(a.split(sep)) == sorted(b.split(sep)) for sep in _SEPARATORS)
    return False


def explain_values(a: Any, b: Any, st: Statement, tol: Tolerance) -> tuple[str, str | None]:
    """(class, feature) of the first differing value pair."""
    feats = st.features
    if a is None or b is None:
        other = b if a is None else a
        if other == "":
            return "value", "NULL vs empty string"
        return "value", "aggregates" if "aggregates" in feats else "CAST" if "CAST" in feats else "NULL handling"
    if "aggregate order" in feats and same_items(a, b):
        return "value", "aggregate order (group_concat / string_agg / array_agg)"
    if is_number(a) and is_number(b):
        if "integer division" in feats and (isinstance(a, int) != isinstance(b, int)
                                            or float(a).is_integer() != float(b).is_integer()):
            return "value", "integer division"
        for feature in ("rounding", "CAST", "LIKE case sensitivity", "window functions", "aggregates"):
            if feature in feats:
                return "value", feature
        return "value", "float arithmetic" if isinstance(a, float) or isinstance(b, float) else None
    if isinstance(a, bool) or isinstance(b, bool):
        return ("value", "LIKE case sensitivity") if "LIKE case sensitivity" in feats else ("type", "booleans")
    if type(a) is not type(b):
        text, number = (a, b) if isinstance(a, str) else (b, a)
        parsed = _as_number(text) if isinstance(text, str) and is_number(number) else None
        if parsed is not None and numbers_equal(parsed, number, Tolerance(tol.rel, tol.abs)):
            return "type", "type affinity (a number as text)"  # the same number, sent as text
        if "CAST" in feats:
            return "value", "CAST"
        if isinstance(a, datetime | date) or isinstance(b, datetime | date):
            return "value", "dates and timestamps"
        if isinstance(text, str) and is_number(number):
            return "value", "typeof / type affinity" if "typeof" in feats else "type affinity"
        return "type", None
    if isinstance(a, datetime | date):
        return "value", "CAST" if "CAST" in feats else "dates and timestamps"
    if isinstance(a, str):
        if "typeof" in feats:
            return "value", "typeof"
        if float_text(a, b, tol):
            return "value", "float-to-text formatting"
        if "CAST" in feats:
            return "value", "CAST"
        if "string functions" in feats:
            return "value", "string functions" + (" (unicode)" if not (a + b).isascii() else "")
        if folded(a) == folded(b):
            return "value", "case folding"
        return "value", "unicode text" if not (a + b).isascii() else None
    return "value", None


def explain_order(legacy_keys: list[Any], candidate_keys: list[Any], st: Statement) -> str:
    """The feature of an order difference over the same rows: collation (texts ordered by another rule: case,
    accents, locale) when the first sort key holds texts, else the ORDER BY itself."""
    texts = [v for v in (*legacy_keys, *candidate_keys) if isinstance(v, str)]
    if not texts:
        return "ORDER BY"
    if [folded(v) for v in legacy_keys] == [folded(v) for v in candidate_keys]:
        return "collation (case folding)"
    return "collation"

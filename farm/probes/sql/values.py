"""One result value as the sql comparison sees it: canonical form (numbers sent as strings read back, ISO
timestamps in UTC), equality by type with a float tolerance, and an exact total order for sorting rows.

Integers stay Python integers (any size: ids above 2^53, epoch seconds and milliseconds compare exactly); only
floats are compared within the tolerance, never through a rounded sort key.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

NUMERIC_TYPES = ("INT", "REAL", "DOUBLE", "FLOAT", "NUMERIC", "DECIMAL", "NUMBER")


@dataclass(frozen=True)
class Tolerance:
    rel: float = 1e-9          # floats equal within this relative difference
    abs: float = 1e-12         # ... or this absolute one (values near zero)
    strict_types: bool = False  # 3 vs 3.0, true vs 1, "3" vs 3 differ


@functools.lru_cache(maxsize=1024)  # asked per value: a result has a few declared types
def is_numeric_type(declared: str | None) -> bool:
    return declared is not None and any(t in declared.upper() for t in NUMERIC_TYPES)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
                digits = value.strip()
                return (int(digits) if digits.lstrip("+-").isdigit() else number), True
            return value, True
        ts = _timestamp(value)
        return (ts if ts is not None else value), False
    return value, False


def numbers_equal(a: int | float, b: int | float, tol: Tolerance) -> bool:
    if tol.strict_types and isinstance(a, int) != isinstance(b, int):
        return False
    if isinstance(a, int) and isinstance(b, int):
        return a == b  # exact, at any size
    try:
        fa, fb = float(a), float(b)
    except OverflowError:  # an integer beyond any float: equal only to itself
        return False
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    if math.isinf(fa) or math.isinf(fb):
        return fa == fb
    return abs(fa - fb) <= max(tol.abs, tol.rel * max(abs(fa), abs(fb)))


def values_equal(a: Any, b: Any, tol: Tolerance) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if is_number(a) and is_number(b):
        return numbers_equal(a, b, tol)
    if type(a) is not type(b):
        return False
    return bool(a == b)


def folded(value: Any) -> Any:
    """A text as a case- and accent-insensitive collation sees it (ties under `COLLATE NOCASE` and the like)."""
    if not isinstance(value, str):
        return value
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def exact_key(value: Any) -> tuple[Any, ...]:
    """A total, exact order over canonical values (and a hashable identity): NULL, booleans, numbers (ints and
    floats compared exactly by Python, NaN last), timestamps, texts, anything else by its JSON."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (3,) if isinstance(value, float) and math.isnan(value) else (2, value)
    if isinstance(value, datetime | date):
        return (4, value.isoformat())
    if isinstance(value, str):
        return (5, value)
    try:
        return (6, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())
    except TypeError:
        return (7, repr(value))


def is_finite_number(value: Any) -> bool:
    return is_number(value) and not (isinstance(value, float) and not math.isfinite(value))

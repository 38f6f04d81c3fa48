"""Two results' rows compared: as a multiset, or in order under ORDER BY keys except among tied rows.

Multiset: rows are bucketed by the exact values of their columns that hold no float (ints of any size, texts,
timestamps, NULLs); within a bucket the float columns pair within the tolerance, first by an exact sort of both
sides (optimal for one float column), and when that leaves rows unpaired by a maximum bipartite matching
(scipy) over the pairs the tolerance allows. So a pairing never depends on where a rounded sort key breaks.

Ordered: the sort keys must agree position by position (within the tolerance; folded for a collated key); rows
tied on them (on either side) form a run compared as a multiset. A LIMIT (or a result cut at --max-rows) may
end inside a run, an OFFSET start inside one: those runs' keys are checked, their other columns are not.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from farm.probes.sql.values import Tolerance, exact_key, folded, is_finite_number, is_number, values_equal

Row = list[Any]
MAX_EDGES = 2_000_000  # the matching's pairs within tolerance; beyond, the sorted pairing's answer stands
_FINITE = ("#",)       # a float column's finite number in a row's exact signature: paired by tolerance instead


@dataclass
class RowsMatch:
    """Whether two row lists agree, and the rows to show when they do not (indexes into each side)."""

    equal: bool
    legacy_rows: list[int] = field(default_factory=list)
    candidate_rows: list[int] = field(default_factory=list)
    at: int | None = None  # ordered: the first position where the results part


def float_columns(a: Sequence[Row], b: Sequence[Row]) -> list[int]:
    """Columns holding a float on either side: compared within the tolerance (ints in them too)."""
    width = max((len(r) for r in (*a, *b)), default=0)
    return [j for j in range(width)
            if any(j < len(r) and isinstance(r[j], float) for r in (*a, *b))]


def _signature(row: Row, tolerant: set[int]) -> tuple[Any, ...]:
    return tuple(_FINITE if j in tolerant and is_finite_number(v) else exact_key(v) for j, v in enumerate(row))


def _rows_equal(x: Row, y: Row, cols: Sequence[int], tol: Tolerance) -> bool:
    return all(values_equal(x[j], y[j], tol) for j in cols)


def _window(v: float, tol: Tolerance) -> float:
    """How far a value within tolerance of `v` can be (the tolerance grows with the larger magnitude)."""
    if tol.rel >= 1:
        return math.inf
    return max(tol.abs, tol.rel * abs(v) / (1 - tol.rel)) * (1 + 1e-12)


def _float(v: Any) -> float | None:
    """A number as a float for the window, None for anything else (and integers beyond any float)."""
    if not is_number(v):
        return None
    try:
        return float(v)
    except OverflowError:
        return None


def _match_bucket(a: list[Row], b: list[Row], cols: list[int], tol: Tolerance) -> tuple[list[int], list[int]]:
    """The rows of one bucket (equal exact parts) left unpaired on each side, floats paired within tolerance."""
    def key(r: Row) -> tuple[Any, ...]:
        return tuple(exact_key(r[j]) for j in cols)

    ia, ib = sorted(range(len(a)), key=lambda i: key(a[i])), sorted(range(len(b)), key=lambda i: key(b[i]))
    if len(a) == len(b) and all(_rows_equal(a[i], b[k], cols, tol) for i, k in zip(ia, ib, strict=True)):
        return [], []
    # The sorted pairing failed: a maximum matching over the pairs within tolerance, found through a window on
    # the float column with the most distinct values.
    axis = max(cols, key=lambda j: len({a[i][j] for i in range(len(a))}))
    order = sorted((f, k) for k in range(len(b)) if (f := _float(b[k][axis])) is not None)
    values = [v for v, _ in order]
    others = [k for k in range(len(b)) if _float(b[k][axis]) is None]
    rows, cols_, edges = [], [], 0
    for i, r in enumerate(a):
        fv = _float(r[axis])
        if fv is not None:
            w = _window(fv, tol)
            lo, hi = bisect.bisect_left(values, fv - w), bisect.bisect_right(values, fv + w)
            near = [order[p][1] for p in range(lo, hi)]
        else:
            near = others
        for k in near:
            if _rows_equal(r, b[k], cols, tol):
                rows.append(i)
                cols_.append(k)
                edges += 1
        if edges > MAX_EDGES:
            return _unpaired_sorted(a, b, ia, ib, cols, tol)
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    graph = csr_matrix(([1] * len(rows), (rows, cols_)), shape=(len(a), len(b)))
    partner = maximum_bipartite_matching(graph, perm_type="column")
    paired_b = {int(k) for k in partner if k >= 0}
    return [i for i in range(len(a)) if partner[i] < 0], [k for k in range(len(b)) if k not in paired_b]


def _unpaired_sorted(a: list[Row], b: list[Row], ia: list[int], ib: list[int], cols: list[int],
                     tol: Tolerance) -> tuple[list[int], list[int]]:
    bad = [(i, k) for i, k in zip(ia, ib, strict=False) if not _rows_equal(a[i], b[k], cols, tol)]
    return [i for i, _ in bad] + ia[len(ib):], [k for _, k in bad] + ib[len(ia):]


def match_multiset(a: Sequence[Row], b: Sequence[Row], tol: Tolerance,
                   tolerant: list[int] | None = None) -> RowsMatch:
    """Multiset equality of rows with typed values, floats within the tolerance; the unpaired rows if not.
    `tolerant`: the float columns when the caller knows them (a run of a larger result)."""
    if len(a) == len(b) and all(len(x) == len(y) and _rows_equal(x, y, range(len(x)), tol)
                                for x, y in zip(a, b, strict=True)):
        return RowsMatch(True)  # the same rows in the same order: the common case, no sorting
    tolerant = float_columns(a, b) if tolerant is None else tolerant
    tset = set(tolerant)
    buckets: dict[tuple[Any, ...], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for side, rows in ((0, a), (1, b)):
        for i, r in enumerate(rows):
            buckets[_signature(r, tset)][side].append(i)
    left: list[int] = []
    right: list[int] = []
    for ia, ib in buckets.values():
        if not tolerant or not ia or not ib:
            n = min(len(ia), len(ib))
            left += ia[n:]
            right += ib[n:]
            continue
        ua, ub = _match_bucket([list(a[i]) for i in ia], [list(b[k]) for k in ib], tolerant, tol)
        left += [ia[i] for i in ua]
        right += [ib[k] for k in ub]
    return RowsMatch(not left and not right, sorted(left), sorted(right))


@dataclass(frozen=True)
class SortKey:
    column: int
    collated: bool = False


def _key_equal(x: Any, y: Any, collated: bool, tol: Tolerance) -> bool:
    if collated and isinstance(x, str) and isinstance(y, str):
        return bool(folded(x) == folded(y))
    return values_equal(x, y, tol)


def _tied(x: Row, y: Row, keys: Sequence[SortKey], tol: Tolerance) -> bool:
    return all(_key_equal(x[k.column], y[k.column], k.collated, tol) for k in keys)


def match_ordered(a: Sequence[Row], b: Sequence[Row], keys: Sequence[SortKey], tol: Tolerance, *,
                  cut_start: bool, cut_end: bool) -> RowsMatch:
    """Equal in order on `keys`, runs of tied rows compared as multisets; with `cut_start` (an OFFSET) the first
    run and with `cut_end` (a LIMIT, a cut result) the last may hold other rows of the same keys."""
    n = min(len(a), len(b))
    for i in range(n):
        if not _tied(a[i], b[i], keys, tol):
            return RowsMatch(False, list(range(i, min(i + 3, len(a)))), list(range(i, min(i + 3, len(b)))), i)
    if len(a) != len(b):
        return RowsMatch(False, list(range(n, min(n + 3, len(a)))), list(range(n, min(n + 3, len(b)))), n)
    starts = [0] + [i for i in range(1, n) if not (_tied(a[i - 1], a[i], keys, tol)
                                                 or _tied(b[i - 1], b[i], keys, tol))]
    bounds = list(zip(starts, [*starts[1:], n], strict=True))
    tolerant = float_columns(a, b)
    for r, (s, e) in enumerate(bounds):
        if (cut_start and r == 0) or (cut_end and r == len(bounds) - 1):
            continue
        run = match_multiset(a[s:e], b[s:e], tol, tolerant)
        if not run.equal:
            return RowsMatch(False, [s + i for i in run.legacy_rows[:3]], [s + k for k in run.candidate_rows[:3]], s)
    return RowsMatch(True)

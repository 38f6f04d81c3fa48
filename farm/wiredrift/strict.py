"""Strict wire parity: do two response documents read the same to a client, field by field?

Used by `farm sweep --strict-wire` on top of the probe's comparison. The documents are compared after the
profiles' `ignore_fields`; arrays listed in `unordered_arrays` are compared as multisets; numbers compare
equal when integers are equal, or floats are within `REL_TOL` relative (or `ABS_TOL` absolute, for values near
zero): a normalisation done by an adapter rounds in another order than the legacy gateway. Types count: `1`
and `"1"` differ, as do `1` and `true`. A difference is named by its field path (`[]` for any array
element), as the drift catalog names fields.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from farm.wire import Profile, SideResult
from farm.wiredrift.values import join, path_matches

REL_TOL = 1e-9
ABS_TOL = 1e-12
MAX_PATHS = 64  # paths named per document pair: a document of vectors differs in one place, not a million


def differences(legacy: Any, candidate: Any, ignore: tuple[str, ...] = (),
                unordered: tuple[str, ...] = ()) -> list[str]:
    """The field paths where the documents differ (sorted, each once; empty: the same to a client)."""
    out: dict[str, None] = {}
    _diff(legacy, candidate, "", ignore, unordered, out)
    return sorted(out)


def _kind(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return type(v).__name__
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def _same_number(a: float, b: float) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL) or (math.isnan(a) and math.isnan(b))


def _diff(a: Any, b: Any, path: str, ignore: tuple[str, ...], unordered: tuple[str, ...],
          out: dict[str, None]) -> None:
    if len(out) >= MAX_PATHS or (path and ignore and path_matches(path, ignore)):
        return
    here = path or "(document)"
    if _kind(a) != _kind(b):
        out[here] = None
    elif isinstance(a, dict):
        for key in dict.fromkeys([*a, *b]):
            sub = join(path, str(key))
            if key not in a or key not in b:
                if not (ignore and path_matches(sub, ignore)):
                    out[sub] = None
            else:
                _diff(a[key], b[key], sub, ignore, unordered, out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out[here] = None
            return
        if unordered and path and path_matches(path, unordered):
            a, b = sorted(a, key=_canon), sorted(b, key=_canon)
        for x, y in zip(a, b, strict=True):
            _diff(x, y, path + "[]" if path else "[]", ignore, unordered, out)
    elif _kind(a) == "number":
        if not _same_number(a, b):
            out[here] = None
    elif a != b:
        out[here] = None


def _canon(v: Any) -> bytes:
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS)


STRICT_OPTION = "strict_wire"  # the sweep option (stored with the probe's options; compare_sides reads it)
ADAPTER_OPTION = "adapter_sha256"  # the map the candidate (an adapter proxy) said it serves, at sweep start
SHARED_OPTIONS = (STRICT_OPTION, ADAPTER_OPTION)
MISMATCH = "wire_mismatch"     # the candidate's error class on a sample whose documents differ


def side_differences(lr: SideResult, cr: SideResult, legacy: Profile | None,
                     candidate: Profile | None) -> list[tuple[int, list[str]]]:
    """(sample, differing paths) for every sample both sides have a document for: each input's own document
    when each had its own request, else the batch's one document for every sample of the batch."""
    ignore = tuple(dict.fromkeys((*(legacy.ignore_fields if legacy else ()),
                                  *(candidate.ignore_fields if candidate else ()))))
    unordered = tuple(dict.fromkeys((*(legacy.unordered_arrays if legacy else ()),
                                     *(candidate.unordered_arrays if candidate else ()))))
    if lr.exchanges is not None and cr.exchanges is not None:
        return [(i, differences(le[1], ce[1], ignore, unordered))
                for i, (le, ce) in enumerate(zip(lr.exchanges, cr.exchanges, strict=False))
                if le is not None and ce is not None and not le[2] and not ce[2]]
    if lr.response is None or cr.response is None:
        return []
    paths = differences(lr.response, cr.response, ignore, unordered)
    return [(i, paths) for i in range(len(cr.errors))]

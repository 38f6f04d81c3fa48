"""One input's two answers compared: an object's bytes (hash and size), HEAD, ranged reads (206 / 416 parity),
a listing's keys, counts, sizes and ETags, a missing key's status. Header differences (ETag quoting, Content-Type,
Last-Modified, user metadata), listing order and page size are drift: recorded, and counted only with
`--strict-headers`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from farm.gateway.errors import NOT_FOUND


@dataclass
class Outcome:
    agreed: bool
    diff_class: str | None = None
    drift: list[str] = field(default_factory=list)   # header / listing differences (not the verdict's)


def etag(value: Any) -> str | None:
    """An ETag without its quotes or weak marker: `"abc"`, `abc` and `W/"abc"` are one ETag."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    return v[2:].strip('"') if v.startswith("W/") else v.strip('"')


def _modified(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return value


def header_drift(a: dict[str, str], b: dict[str, str]) -> list[str]:
    out = []
    if a.get("etag") != b.get("etag"):
        out.append("etag quoting" if etag(a.get("etag")) == etag(b.get("etag")) else "etag value")
    if (a.get("content-type") or "").lower() != (b.get("content-type") or "").lower():
        out.append("content-type")
    if _modified(a.get("last-modified")) != _modified(b.get("last-modified")):
        out.append("last-modified")
    meta_a = {k: v for k, v in a.items() if k.startswith("x-meta-")}
    meta_b = {k: v for k, v in b.items() if k.startswith("x-meta-")}
    if meta_a != meta_b:
        out.append("user metadata")
    return out


def compare_object(a: dict[str, Any], b: dict[str, Any]) -> Outcome:
    ga, gb = a["get"], b["get"]
    if ga["status"] != gb["status"]:
        return Outcome(False, "status")
    if ga["status"] < 300 and (ga["size"] != gb["size"]):
        return Outcome(False, "size")
    if ga["status"] < 300 and ga["sha256"] != gb["sha256"]:
        return Outcome(False, "body")
    ha, hb = a["head"], b["head"]
    if ha["status"] != hb["status"] or (ha["status"] < 300 and ha["headers"].get("content-length")
                                        != hb["headers"].get("content-length")):
        return Outcome(False, "head")
    for ra, rb in zip(a["ranges"], b["ranges"], strict=True):
        if ra["status"] != rb["status"] or ra["sha256"] != rb["sha256"]:
            return Outcome(False, "range")
    if "write" in a or "write" in b:
        wa, wb = a.get("write") or {}, b.get("write") or {}
        if wa != wb or not wa.get("same"):
            return Outcome(False, "write")
    drift = header_drift(ga["headers"], gb["headers"])
    if etag(ga["headers"].get("etag")) != etag(gb["headers"].get("etag")):
        return Outcome(False, "etag", drift)  # the same bytes under another ETag: a client cache would miss
    return Outcome(True, None, drift)


def compare_listing(a: dict[str, Any], b: dict[str, Any]) -> Outcome:
    if a["status"] != b["status"]:
        return Outcome(False, "status")
    if not a["exhausted"] or not b["exhausted"]:
        return Outcome(False, "list_unfinished")
    if len(a["keys"]) != len(b["keys"]):
        return Outcome(False, "list_count")
    if set(a["keys"]) != set(b["keys"]):
        return Outcome(False, "list_keys")
    ea = {k: (s, etag(e)) for k, s, e in zip(a["keys"], a["sizes"], a["etags"], strict=True)}
    eb = {k: (s, etag(e)) for k, s, e in zip(b["keys"], b["sizes"], b["etags"], strict=True)}
    if ea != eb:
        return Outcome(False, "list_entries")
    drift = []
    if a["keys"] != b["keys"]:
        drift.append("list order")
    if a["pages"] != b["pages"]:
        drift.append("list page size")
    if a["etags"] != b["etags"]:
        drift.append("etag quoting")
    return Outcome(True, None, drift)


def error_shape(doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return [type(doc).__name__]
    out = []
    for k, v in sorted(doc.items()):
        out += [f"{k}.{s}" for s in error_shape(v)] if isinstance(v, dict) else [k]
    return out


def compare_missing(a: dict[str, Any], b: dict[str, Any]) -> Outcome:
    if a["status"] != b["status"]:
        return Outcome(False, "missing_status")
    return Outcome(True, None, ["error body shape"] if error_shape(a["error"]) != error_shape(b["error"]) else [])


def compare_item(a: dict[str, Any], b: dict[str, Any], strict_headers: bool) -> Outcome:
    op = a.get("op")
    out = (compare_listing(a, b) if op == "list" else compare_missing(a, b) if op == "missing"
           else compare_object(a, b))
    if out.agreed and strict_headers and out.drift:
        return Outcome(False, "headers", out.drift)
    return out


def mark_unserved(ops: Sequence[str | None], legacy_errors: list[str | None]) -> list[str | None]:
    """Legacy's errors for a batch, with its listings and missing keys `not_found` too when legacy answered every
    object input of the batch with `not_found`: an empty store or a wrong bucket, where empty listings and 404s
    agree without saying anything about the store (the health check then stops the sweep, exit 4)."""
    objects = [i for i, op in enumerate(ops) if op == "object"]
    if not objects or any(legacy_errors[i] != NOT_FOUND for i in objects):
        return legacy_errors
    return [e if e is not None else NOT_FOUND for e in legacy_errors]


def objects_unserved(ops: Sequence[str | None], legacy_errors: Sequence[str | None]) -> tuple[int, str | None]:
    """(object inputs, legacy's most common error class) when legacy served none of a sweep's object inputs,
    else (0, None): such a sweep must not PASS on its listings and missing keys."""
    failed = [e for op, e in zip(ops, legacy_errors, strict=True) if op == "object"]
    if not failed or any(e is None for e in failed):
        return 0, None
    return len(failed), Counter(failed).most_common(1)[0][0]

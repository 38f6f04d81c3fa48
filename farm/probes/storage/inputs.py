"""The storage probe's inputs from a corpus: an object key, or `{op: object|missing, key, ranges?}` or
`{op: list, prefix, page_size}` (in JSONL, the value under `--field`), checked before any request is sent."""

from __future__ import annotations

import re
from typing import Any

from farm.probes.base import MalformedBody

OPS = ("object", "missing", "list")
_RANGE = re.compile(r"bytes=(?:(\d+)-(\d*)|-(\d+))")


def check_range(value: Any) -> str:
    """One range as the probe sends it: `bytes=a-b` (a <= b), `bytes=a-` or `bytes=-n`, integers."""
    m = _RANGE.fullmatch(value) if isinstance(value, str) else None
    if m is None or (m.group(2) and int(m.group(1)) > int(m.group(2))):
        raise MalformedBody(f"range {value!r} is not `bytes=a-b` (a <= b), `bytes=a-` or `bytes=-n`")
    return str(value)


def item(value: Any, *, from_json: bool = False) -> dict[str, Any]:
    """One input; `from_json`: the value under a JSONL field, where a bare op name is a misplaced `--field`."""
    if isinstance(value, str) and value:
        if from_json and value in OPS:  # `--field op` over whole-line inputs: every key would be "object"
            raise MalformedBody(f"{value!r} is an op, not a key: put the whole input under one field, e.g. "
                                '{"req": {"op": "object", "key": "a/b.txt"}} with --field req')
        return {"op": "object", "key": value}
    if isinstance(value, dict) and value.get("op") in ("object", "missing") and isinstance(value.get("key"), str) \
            and value["key"]:
        ranges = value.get("ranges")
        if ranges is not None and not isinstance(ranges, list):
            raise MalformedBody("ranges must be a list of `bytes=a-b` / `bytes=a-` / `bytes=-n` strings")
        checked = [check_range(r) for r in ranges or []]
        return {"op": value["op"], "key": value["key"], **({"ranges": checked} if checked else {})}
    if isinstance(value, dict) and value.get("op") == "list":
        size = value.get("page_size", 1000)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise MalformedBody("a listing's page_size must be a positive integer")
        return {"op": "list", "prefix": str(value.get("prefix") or ""), "page_size": size}
    raise MalformedBody("expected an object key, or {op: object|missing, key, ranges?} or "
                        "{op: list, prefix, page_size}")

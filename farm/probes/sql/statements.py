"""What a statement is, read with a real SQL parser (sqlglot), never a regex: read-only or not, its top-level
ORDER BY keys and LIMIT, and the SQL features that may explain a difference between engines."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from farm.errors import UsageError

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its "falling back to a Command" warnings are ours to say

_READS = (exp.Select, exp.SetOperation, exp.Values, exp.Describe, exp.Show)
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge, exp.Command,
           exp.Pragma, exp.Attach, exp.Detach, exp.Copy, exp.Set, exp.Use, exp.TruncateTable)


@dataclass(frozen=True)
class OrderKey:
    """One top-level ORDER BY key: the output column it sorts (None: an expression not in the output)."""

    column: int | None
    desc: bool


@dataclass(frozen=True)
class Statement:
    sql: str
    read_only: bool
    kind: str                       # the parsed root, e.g. "Select", "Insert", "Drop", or "unparsed"
    ordered: bool                   # a top-level ORDER BY
    order_keys: tuple[OrderKey, ...]
    limited: bool                   # a top-level LIMIT
    features: tuple[str, ...]


def split_statements(text: str) -> list[str]:
    """The `;`-separated statements of one line or request, each as written: split on the tokenizer's `;`
    tokens, so a `;` inside a string or a comment never splits."""
    try:
        tokens = sqlglot.tokenize(text, read="sqlite")
    except sqlglot.errors.TokenError:
        return [text.strip()] if text.strip() else []
    pieces, start = [], 0
    for tok in tokens:
        if tok.token_type == sqlglot.TokenType.SEMICOLON:
            pieces.append(text[start:tok.start].strip())
            start = tok.end + 1
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


@functools.lru_cache(maxsize=1 << 16)  # one parse per statement and process: the check, then the comparison
def analyse(sql: str) -> Statement:
    try:
        parsed = [e for e in sqlglot.parse(sql, read="sqlite") if e is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return Statement(sql, False, "unparsed", False, (), False, ())
    if len(parsed) != 1:
        kinds = ", ".join(type(e).__name__ for e in parsed) or "nothing"
        return Statement(sql, False, f"{len(parsed)} statements ({kinds})", False, (), False, ())
    root = parsed[0]
    read_only = isinstance(root, _READS) and root.find(*_WRITES) is None
    order = root.args.get("order")
    keys: list[OrderKey] = []
    if isinstance(order, exp.Order):
        outputs: list[Any] = list(root.selects) if isinstance(root, exp.Query) else []
        for ordered in order.expressions:
            keys.append(OrderKey(_output_index(ordered.this, outputs), bool(ordered.args.get("desc"))))
    return Statement(sql, read_only, type(root).__name__, bool(keys), tuple(keys),
                     root.args.get("limit") is not None, _features(root))  # type: ignore[arg-type]


def _output_index(key: exp.Expression, outputs: list[exp.Expression]) -> int | None:
    """Which output column an ORDER BY key sorts: a position, an alias or column name, or the same expression."""
    if isinstance(key, exp.Literal) and key.is_int:
        pos = int(key.this) - 1
        return pos if 0 <= pos < len(outputs) else None
    if isinstance(key, exp.Column) and not key.table:
        for i, out in enumerate(outputs):
            if out.alias_or_name.lower() == key.name.lower():
                return i
    for i, out in enumerate(outputs):
        if out.unalias() == key:
            return i
    return None


_FEATURES: tuple[tuple[str, tuple[type[exp.Expression], ...]], ...] = (
    ("integer division", (exp.Div, exp.IntDiv, exp.Mod)),
    ("rounding", (exp.Round, exp.Floor, exp.Ceil)),
    ("LIKE case sensitivity", (exp.Like, exp.ILike)),
    ("window functions", (exp.Window,)),
    ("joins", (exp.Join,)),
    ("dates and timestamps", (exp.Cast, exp.TimeToStr, exp.StrToTime, exp.DateAdd, exp.Date, exp.CurrentDate,
                              exp.CurrentTimestamp)),
    ("string functions", (exp.Upper, exp.Lower, exp.Length, exp.Substring, exp.Concat, exp.DPipe, exp.Trim,
                          exp.Replace)),
    ("aggregates", (exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Count, exp.GroupConcat)),
    ("NULL handling", (exp.Coalesce, exp.Is, exp.Null)),
    ("set operations", (exp.Union, exp.Intersect, exp.Except)),
    ("DISTINCT", (exp.Distinct,)),
)


def _features(root: exp.Expression) -> tuple[str, ...]:
    found = [name for name, kinds in _FEATURES if root.find(*kinds) is not None]
    if any(isinstance(s, exp.Literal) and s.is_string and not s.this.isascii() for s in root.find_all(exp.Literal)):
        found.append("unicode text")
    return tuple(found)


def refuse_writes(sql: str, allow_writes: bool, where: str) -> None:
    """UsageError naming the first statement that writes or changes schema (or does not parse)."""
    if allow_writes:
        return
    st = analyse(sql)
    if not st.read_only:
        what = "does not parse as SQL" if st.kind == "unparsed" else f"is not read-only ({st.kind})"
        short = sql if len(sql) <= 80 else sql[:77] + "..."
        raise UsageError(f"{where}: statement {short!r} {what}; refused (pass --allow-writes to send it)")

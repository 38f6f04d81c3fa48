"""What a statement is, read with a real SQL parser (sqlglot), never a regex: read-only or not, its top-level
ORDER BY keys and LIMIT, and the SQL features that may explain a difference between engines."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from farm.errors import UsageError

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its "falling back to a Command" warnings are ours to say

DEFAULT_DIALECT = "sqlite"  # the legacy demo engine's; a profile's `dialect` or `--dialect` sets another


@dataclass(frozen=True)
class OrderKey:
    """One top-level ORDER BY key: the output column it sorts (None: an expression not in the output), and
    whether it sorts under a collation (`COLLATE NOCASE`: values equal but for case or accents tie)."""

    column: int | None
    desc: bool
    collated: bool = False
    name: str | None = None  # a plain column key's name: under `SELECT *` the result's columns say where it is


@dataclass(frozen=True)
class Statement:
    sql: str
    read_only: bool
    kind: str                       # the parsed root, e.g. "Select", "Insert", "Drop", or "unparsed"
    ordered: bool                   # a top-level ORDER BY
    order_keys: tuple[OrderKey, ...]
    limited: bool                   # a top-level LIMIT (or FETCH)
    features: tuple[str, ...]
    offset: bool = False            # a top-level OFFSET: the first rows' tie group may be cut too
    refusal: str | None = None      # why the write gate refuses it, in words (None: read-only)

    def checked_keys(self, columns: list[str] | None = None) -> tuple[OrderKey, ...]:
        """The ORDER BY keys whose order the comparison can check: those before the first key that sorts by
        something outside the output (rows tied on the checked keys are compared as a multiset). `columns`: the
        result's names, where a key under `SELECT *` is found."""
        out = []
        for key in self.order_keys:
            if key.column is None and key.name is not None and columns is not None:
                found = [i for i, c in enumerate(columns) if c.lower() == key.name.lower()]
                key = OrderKey(found[0], key.desc, key.collated) if len(found) == 1 else key
            if key.column is None:
                break
            out.append(key)
        return tuple(out)


def check_dialect(name: str, where: str = "--dialect") -> str:
    """`name` if sqlglot knows the dialect, else UsageError (one line listing the known ones)."""
    from farm.probes.sql.gate import SQL_DIALECTS

    if name.lower() not in SQL_DIALECTS:
        raise UsageError(f"{where} {name!r}: not an SQL dialect sqlglot reads (known: {', '.join(SQL_DIALECTS)})")
    return name.lower()


def split_statements(text: str) -> list[str]:
    """The `;`-separated statements of one line or request, each as written: split on the tokenizer's `;`
    tokens, so a `;` inside a string or a comment never splits."""
    done, tail = _terminated(text)
    return done + ([tail.strip()] if tail.strip() else [])


# A line whose first token is one of these starts a new statement when the text before it is already one. Not
# VALUES, SET or REPLACE: they also continue statements (INSERT ... / VALUES, UPDATE ... / SET, a replace() column).
_STARTS = frozenset({
    sqlglot.TokenType.SELECT, sqlglot.TokenType.WITH, sqlglot.TokenType.INSERT, sqlglot.TokenType.UPDATE,
    sqlglot.TokenType.DELETE, sqlglot.TokenType.CREATE, sqlglot.TokenType.DROP, sqlglot.TokenType.ALTER,
    sqlglot.TokenType.PRAGMA, sqlglot.TokenType.ATTACH, sqlglot.TokenType.DETACH, sqlglot.TokenType.MERGE,
    sqlglot.TokenType.COPY, sqlglot.TokenType.USE, sqlglot.TokenType.TRUNCATE, sqlglot.TokenType.SHOW,
    sqlglot.TokenType.DESCRIBE, sqlglot.TokenType.BEGIN, sqlglot.TokenType.COMMIT, sqlglot.TokenType.ROLLBACK,
    sqlglot.TokenType.ANALYZE, sqlglot.TokenType.COMMAND})


def _starts_statement(line: str) -> bool:
    try:
        tokens = sqlglot.tokenize(line, read="sqlite")
    except sqlglot.errors.TokenError:
        return False
    return bool(tokens) and tokens[0].token_type in _STARTS


# Splitting a file happens before a sweep's dialect is known: the lines so far are one statement when a common
# dialect reads them as one (DuckDB's `7 // 2` is not SQLite).
_SPLIT_DIALECTS = (DEFAULT_DIALECT, "duckdb", "postgres", "mysql", "tsql")


def _parses(text: str) -> bool:
    return any(analyse(text, d).kind != "unparsed" for d in _SPLIT_DIALECTS)


def _open(text: str) -> bool:
    """Whether `text` ends inside a string or a block comment."""
    try:
        sqlglot.tokenize(text, read="sqlite")
    except sqlglot.errors.TokenError:
        return True
    return False


def _terminated(text: str) -> tuple[list[str], str]:
    """The statements of `text` ended by a `;` token, and what follows the last one (an open string or comment:
    nothing is ended yet). Comments alone are no statement: they are dropped."""
    try:
        tokens = sqlglot.tokenize(text, read="sqlite")
    except sqlglot.errors.TokenError:
        return [], text
    pieces, start, seen = [], 0, False
    for tok in tokens:
        if tok.token_type == sqlglot.TokenType.SEMICOLON:
            if seen:
                pieces.append(text[start:tok.start].strip())
            start, seen = tok.end + 1, False
        else:
            seen = True
    return pieces, text[start:] if seen else ""


def statements_of_lines(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """The statements of a text file as (first line number, statement). A statement ends at a `;` (outside
    strings and comments), at a blank line, at the end of the file, or before a line that starts a statement
    (SELECT, WITH, INSERT, ...) when the lines so far already parse as one. So one statement per line,
    `;`-separated statements, and statements formatted over several lines all read as written."""
    buf: list[str] = []
    start = 0

    def flush() -> Iterator[tuple[int, str]]:
        text = "\n".join(buf).strip()
        buf.clear()
        for piece in split_statements(text):
            yield start, piece

    for lineno, line in lines:
        if not line.strip():
            if buf and _open("\n".join(buf)):
                buf.append(line)  # a blank line inside a string or comment belongs to it
            else:
                yield from flush()
            continue
        if buf and _starts_statement(line) and _parses("\n".join(buf).strip()):
            yield from flush()
        if not buf:
            start = lineno
        buf.append(line)
        if ";" in line:
            done, tail = _terminated("\n".join(buf))
            if done:
                for piece in done:
                    yield start, piece
                buf[:] = [tail] if tail.strip() else []
                start = lineno
    yield from flush()


@functools.lru_cache(maxsize=1 << 16)  # one parse per statement and process: the check, then the comparison
def analyse(sql: str, dialect: str = DEFAULT_DIALECT) -> Statement:
    from farm.probes.sql.gate import why_not_read_only

    try:
        parsed = [e for e in sqlglot.parse(sql, read=dialect) if e is not None]
    except Exception as exc:  # ParseError, TokenError, and any parser bug: the statement is unread
        return Statement(sql, False, "unparsed", False, (), False, (),
                         refusal=f"does not parse as {dialect} SQL ({_where(exc)}; --dialect names another)")
    refusal = why_not_read_only(parsed, sql, dialect)
    if len(parsed) != 1:
        return Statement(sql, False, f"{len(parsed)} statements", False, (), False, (), refusal=refusal)
    root = parsed[0]
    order = root.args.get("order")
    keys: list[OrderKey] = []
    if isinstance(order, exp.Order):
        outputs: list[Any] = list(root.selects) if isinstance(root, exp.Query) else []
        for ordered in order.expressions:
            key, collated = ordered.this, False
            if isinstance(key, exp.Collate):
                key, collated = key.this, True
            name = key.name if isinstance(key, exp.Column) else None
            column = _output_index(key, outputs)
            keys.append(OrderKey(column, bool(ordered.args.get("desc")), collated,
                                 name if column is None and any(o.is_star for o in outputs) else None))
    limit = root.args.get("limit")
    skip = root.args.get("offset") or (limit.args.get("offset") if isinstance(limit, exp.Limit) else None)
    skipped = skip.expression if isinstance(skip, exp.Offset) else skip
    offset = skip is not None and not (isinstance(skipped, exp.Literal) and skipped.this == "0")  # OFFSET 0 cuts none
    return Statement(sql, refusal is None, type(root).__name__, bool(keys), tuple(keys),
                     root.args.get("limit") is not None, _features(root), offset, refusal)


def _where(exc: Exception) -> str:
    """Where the parser stopped, in words (its messages name its own classes)."""
    errors = getattr(exc, "errors", None)
    if isinstance(exc, sqlglot.errors.TokenError):
        return "an unterminated string, identifier or comment"
    if errors:
        e = errors[0]
        return f"line {e.get('line')}, column {e.get('col')}, at {e.get('highlight')!r}"
    return "the parser gave up"


def _output_index(key: exp.Expr, outputs: list[exp.Expr]) -> int | None:
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
    if isinstance(key, exp.Column) and key.table:  # `ORDER BY o.id` sorting the output `id` (one output by the name)
        plain = [(i, out.unalias()) for i, out in enumerate(outputs)]
        named = [i for i, col in plain if isinstance(col, exp.Column) and col.name.lower() == key.name.lower()
                 and col.table.lower() in ("", key.table.lower())]
        if len(named) == 1:
            return named[0]
    return None


_FEATURES: tuple[tuple[str, tuple[type[exp.Expr], ...]], ...] = (
    ("integer division", (exp.Div, exp.IntDiv, exp.Mod)),
    ("rounding", (exp.Round, exp.Floor, exp.Ceil)),
    ("LIKE case sensitivity", (exp.Like, exp.ILike)),
    ("window functions", (exp.Window,)),
    ("joins", (exp.Join,)),
    ("CAST", (exp.Cast, exp.TryCast)),
    ("typeof", (exp.Typeof,)),
    ("aggregate order", (exp.GroupConcat, exp.ArrayAgg)),
    ("dates and timestamps", (exp.TimeToStr, exp.StrToTime, exp.DateAdd, exp.Date, exp.CurrentDate,
                              exp.CurrentTimestamp)),
    ("string functions", (exp.Upper, exp.Lower, exp.Length, exp.Substring, exp.Concat, exp.DPipe, exp.Trim,
                          exp.Replace)),
    ("aggregates", (exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Count, exp.GroupConcat)),
    ("NULL handling", (exp.Coalesce, exp.Is, exp.Null)),
    ("set operations", (exp.Union, exp.Intersect, exp.Except)),
    ("DISTINCT", (exp.Distinct,)),
    ("collation", (exp.Collate,)),
)


def _features(root: exp.Expr) -> tuple[str, ...]:
    found = [name for name, kinds in _FEATURES if root.find(*kinds) is not None]
    if any(isinstance(s, exp.Literal) and s.is_string and not s.this.isascii() for s in root.find_all(exp.Literal)):
        found.append("unicode text")
    return tuple(found)


def refuse_writes(sql: str, allow_writes: bool, where: str, dialect: str = DEFAULT_DIALECT) -> None:
    """UsageError naming the first statement that writes or changes schema (or does not parse), and what it does."""
    if allow_writes:
        return
    st = analyse(sql, dialect)
    if not st.read_only:
        what = st.refusal if st.kind == "unparsed" else f"is not read-only: {st.refusal}"
        short = sql if len(sql) <= 80 else sql[:77] + "..."
        raise UsageError(f"{where}: statement {short!r} {what}; refused (pass --allow-writes to send it)")

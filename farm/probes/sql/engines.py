"""The demo gateways' SQL engines: real SQLite and real DuckDB over the same demo dataset.

Each answers a statement with (columns, declared types, rows of JSON values) or raises `SqlError`. SQLite
declares no types for expressions, so its gateway reports each column's storage class from the first non-NULL
value, as the legacy gateway does; DuckDB reports its own type names.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from farm.probes.sql.dataset import NULL, SCHEMA, csv_dir, read_csv

_INT64 = 2**63


class SqlError(Exception):
    """The engine refused or failed the statement (HTTP 400 on the wire)."""


class Engine(Protocol):
    name: str

    def execute(self, sql: str) -> tuple[list[str], list[str], list[list[Any]]]: ...


def _json_value(v: Any) -> Any:
    """A result value as a JSON gateway sends it (orjson takes datetimes; 128-bit integers and decimals do not)."""
    if isinstance(v, bool) or v is None or isinstance(v, str | float):
        return v
    if isinstance(v, int):
        return v if -_INT64 <= v < _INT64 else float(v)
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return str(v)
    return str(v)


class SqliteEngine:
    name = "sqlite"

    def __init__(self, rows: int, seed: int, *, timeout_ms: float = 5000.0, reverse_unordered: bool = False) -> None:
        src = csv_dir(rows, seed)
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        for table, cols in SCHEMA.items():
            pk = cols[0][0]
            defs = ", ".join(f"{c} {sq}" + (" PRIMARY KEY" if c == pk else "") for c, _, sq in cols)
            self._db.execute(f"CREATE TABLE {table} ({defs})")
            marks = ", ".join("?" * len(cols))
            self._db.executemany(f"INSERT INTO {table} VALUES ({marks})", read_csv(src, table))
        self._db.execute("CREATE INDEX orders_customer ON orders (customer_id)")
        self._db.commit()
        if reverse_unordered:  # a real SQLite switch: unordered scans run backwards (what a parallel engine does)
            self._db.execute("PRAGMA reverse_unordered_selects = ON")
        self._timeout = timeout_ms / 1000.0
        self._lock = threading.Lock()

    def execute(self, sql: str) -> tuple[list[str], list[str], list[list[Any]]]:
        deadline = time.monotonic() + self._timeout
        with self._lock:
            self._db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            try:
                cur = self._db.execute(sql)
                rows = cur.fetchall()
            except (sqlite3.Error, OverflowError, ValueError) as exc:
                raise SqlError(str(exc)) from None
            finally:
                self._db.set_progress_handler(None, 0)
        columns = [d[0] for d in cur.description or []]
        types = []
        for i in range(len(columns)):
            first = next((r[i] for r in rows if r[i] is not None), None)
            types.append({int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB"}.get(type(first), "NULL"))
        return columns, types, [[_json_value(v) for v in r] for r in rows]


class DuckdbEngine:
    name = "duckdb"

    def __init__(self, rows: int, seed: int) -> None:
        import duckdb

        src: Path = csv_dir(rows, seed)
        self._db = duckdb.connect(":memory:", config={"threads": 1})
        for table, cols in SCHEMA.items():
            types = "{" + ", ".join(f"'{c}': '{duck}'" for c, duck, _ in cols) + "}"
            self._db.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{src / (table + '.csv')}', "
                             f"header = true, columns = {types}, nullstr = '{NULL}', allow_quoted_nulls = false)")
        self._lock = threading.Lock()
        self._error = duckdb.Error

    def execute(self, sql: str) -> tuple[list[str], list[str], list[list[Any]]]:
        with self._lock:
            try:
                cur = self._db.cursor()
                cur.execute(sql)
                rows = cur.fetchall()
                desc = cur.description or []
            except self._error as exc:
                raise SqlError(str(exc).splitlines()[0]) from None
        return [d[0] for d in desc], [str(d[1]) for d in desc], [[_json_value(v) for v in r] for r in rows]


def make_engine(name: str, rows: int, seed: int, *, reverse_unordered: bool = False) -> Engine:
    if name == "sqlite":
        return SqliteEngine(rows, seed, reverse_unordered=reverse_unordered)
    if name == "duckdb":
        return DuckdbEngine(rows, seed)
    raise ValueError(f"unknown engine {name!r} (sqlite or duckdb)")

"""The demo dataset both demo engines load: the same seeded rows, written once as CSV files (a cache keyed by
size and seed), read by SQLite through the csv module and by DuckDB with `read_csv`.

Four tables with what engines disagree on: NULLs beside empty strings, floats, timestamps, unicode and
mixed-case text, an empty table for aggregates over empty sets; `orders` holds `rows` rows (default 200,000).
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

NULL = "\\N"
VERSION = 1
# (table, [(column, duckdb type, sqlite type)]); the first column is the primary key.
SCHEMA: dict[str, list[tuple[str, str, str]]] = {
    "customers": [("id", "INTEGER", "INTEGER"), ("name", "VARCHAR", "TEXT"), ("city", "VARCHAR", "TEXT"),
                  ("tier", "INTEGER", "INTEGER"), ("score", "DOUBLE", "REAL"), ("signup_at", "TIMESTAMP", "TEXT")],
    "products": [("id", "INTEGER", "INTEGER"), ("name", "VARCHAR", "TEXT"), ("category", "VARCHAR", "TEXT"),
                 ("price", "DOUBLE", "REAL")],
    "orders": [("id", "INTEGER", "INTEGER"), ("customer_id", "INTEGER", "INTEGER"),
               ("product_id", "INTEGER", "INTEGER"), ("quantity", "INTEGER", "INTEGER"),
               ("amount", "DOUBLE", "REAL"), ("discount", "DOUBLE", "REAL"), ("status", "VARCHAR", "TEXT"),
               ("created_at", "TIMESTAMP", "TEXT"), ("note", "VARCHAR", "TEXT")],
    "empty_events": [("id", "INTEGER", "INTEGER"), ("value", "DOUBLE", "REAL")],
}
CUSTOMERS, PRODUCTS = 5_000, 500
_CITIES = ["Berlin", "berlin", "München", "Zürich", "São Paulo", "東京", "Kraków", "Paris", "paris", "Oslo", ""]
_NAMES = ["anna", "Ángel", "Émile", "zoë", "Øystein", "Ærin", "Bob", "bob", "Chloé", "Dmitrij", "李雷", "Ólafur",
          "ßabine", "Łukasz", "Mia", "mia", "İlkay", "Ümit", "Zoe", "Åsa"]
_PRODUCTS = ["Widget", "widget", "Gadget", "Straße-Kit", "Éclair", "ångström", "Tee", "Thé", "Café", "cafe",
             "Ünit", "Zebra", "apple", "Apple", "Ω-Meter", "日本茶"]
_STATUS = ["new", "paid", "shipped", "returned", "cancelled"]
_T0 = datetime(2024, 1, 1)


def _ts(rng: random.Random) -> str:
    return (_T0 + timedelta(seconds=rng.randrange(0, 366 * 86400))).strftime("%Y-%m-%d %H:%M:%S")


def generate(rows: int, seed: int) -> dict[str, list[list[Any]]]:
    rng = random.Random(f"farm-sql-demo:{seed}")
    customers = [[i, f"{rng.choice(_NAMES)} {i}", None if rng.random() < 0.1 else rng.choice(_CITIES),
                  None if rng.random() < 0.2 else rng.randint(1, 5),
                  None if rng.random() < 0.15 else round(rng.uniform(0, 100), 3), _ts(rng)]
                 for i in range(1, CUSTOMERS + 1)]
    products = [[i, f"{rng.choice(_PRODUCTS)} {i % 37}", None if rng.random() < 0.1 else rng.choice(
        ["tools", "Tools", "food", "Food", "", "électronique"]), round(rng.uniform(0.5, 500), 2)]
                for i in range(1, PRODUCTS + 1)]
    orders = []
    for i in range(1, rows + 1):
        quantity = rng.randint(1, 9)
        note = None if rng.random() < 0.6 else rng.choice(["", "gift", "Geschenk 🎁", "rush", "RUSH", "ok"])
        orders.append([i, rng.randint(1, CUSTOMERS), rng.randint(1, PRODUCTS), quantity,
                       round(rng.uniform(1, 1000), 2) * quantity / 3,
                       None if rng.random() < 0.3 else round(rng.choice([0.05, 0.1, 0.15, 0.25, 0.125]), 3),
                       rng.choice(_STATUS), _ts(rng), note])
    return {"customers": customers, "products": products, "orders": orders, "empty_events": []}


def _cell(value: Any) -> str:
    return NULL if value is None else repr(value) if isinstance(value, float) else str(value)


def csv_dir(rows: int, seed: int) -> Path:
    """The dataset's CSV files, generated on first use (atomically: concurrent gateways may ask at once)."""
    root = Path(os.environ.get("FARM_CACHE_DIR") or Path(tempfile.gettempdir()) / "farm-cache")
    target = root / f"sql-demo-v{VERSION}-{rows}-{seed}"
    if (target / "done").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root, prefix=".sql-demo-"))
    for table, data in generate(rows, seed).items():
        with open(work / f"{table}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([c for c, _, _ in SCHEMA[table]])
            writer.writerows([[_cell(v) for v in row] for row in data])
    (work / "done").write_text("ok")
    with contextlib.suppress(OSError):  # another process won the race: its copy is the same data
        os.replace(work, target)
    return target if (target / "done").exists() else work


def read_csv(path: Path, table: str) -> list[tuple[Any, ...]]:
    """A table's rows typed for SQLite (NULL marker to None, numbers parsed)."""
    kinds = [sq for _, _, sq in SCHEMA[table]]
    out = []
    with open(path / f"{table}.csv", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            out.append(tuple(None if v == NULL else int(v) if k == "INTEGER" else float(v) if k == "REAL" else v
                             for v, k in zip(row, kinds, strict=True)))
    return out

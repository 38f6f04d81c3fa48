"""The built-in corpus: read-only statements over the demo dataset, one template per thing engines differ on
(integer division, aggregates over empty sets and NULLs, NULL ordering, ties, LIMIT without ORDER BY, string
functions and collation, LIKE case, rounding, dates, joins, window functions, unicode), seeded per index so
every machine sends the same statements. Filters on primary-key ranges keep each statement cheap."""

from __future__ import annotations

import random
from collections.abc import Callable

Template = Callable[[random.Random, int], str]


def _span(rng: random.Random, width: int, top: int = 5_000) -> tuple[int, int]:
    a = rng.randint(1, top - width)
    return a, a + width


TEMPLATES: tuple[tuple[str, Template], ...] = (
    ("integer division", lambda r, i: "SELECT id, quantity / 2 AS half, quantity % 4 AS rest FROM orders "
     "WHERE id BETWEEN {} AND {} ORDER BY id".format(*_span(r, 9))),
    ("integer division", lambda r, i: f"SELECT {r.randint(1, 999)} / {r.randint(2, 9)} AS q, "
     f"{r.randint(1, 99)} * 1.0 / 3 AS third"),
    ("float arithmetic", lambda r, i: "SELECT id, amount * 1.1 AS gross, amount + 0.1 AS plus, amount / 7 AS part "
     "FROM orders WHERE id BETWEEN {} AND {} ORDER BY id".format(*_span(r, 9))),
    ("aggregates over empty sets", lambda r, i: f"SELECT count(*) AS n, sum(value) AS total, avg(value) AS mean, "
     f"min(value) AS lo FROM empty_events WHERE id > {r.randint(0, 99)}"),
    ("aggregates with NULLs", lambda r, i: "SELECT count(discount) AS n, sum(discount) AS total, "
     "avg(discount) AS mean, count(*) AS rows_seen FROM orders WHERE id BETWEEN {} AND {}".format(*_span(r, 99))),
    ("NULL ordering", lambda r, i: "SELECT id, discount FROM orders WHERE id BETWEEN {} AND {} "
     "ORDER BY discount, id".format(*_span(r, 14))),
    ("NULL ordering", lambda r, i: "SELECT id, score FROM customers WHERE id BETWEEN {} AND {} "
     "ORDER BY score DESC, id".format(*_span(r, 14))),
    ("ORDER BY with ties", lambda r, i: "SELECT status, quantity FROM orders WHERE id BETWEEN {} AND {} "
     "ORDER BY status".format(*_span(r, 19))),
    ("LIMIT without ORDER BY", lambda r, i: f"SELECT id, status FROM orders WHERE quantity = {r.randint(1, 9)} "
     f"AND id > {r.randint(1, 4000)} LIMIT 5"),
    ("string functions", lambda r, i: "SELECT id, upper(name) AS up, lower(name) AS low, length(name) AS len, "
     "substr(name, 2, 3) AS part FROM customers WHERE id BETWEEN {} AND {} ORDER BY id".format(*_span(r, 9))),
    ("LIKE case sensitivity", lambda r, i: f"SELECT count(*) AS n FROM products WHERE name LIKE "
     f"'{r.choice(['widget', 'apple', 'café', 'Tee', 'é'])}%' AND id > {r.randint(0, 50)}"),
    ("rounding", lambda r, i: "SELECT id, round(amount, 1) AS r1, round(amount) AS r0 FROM orders "
     "WHERE id BETWEEN {} AND {} ORDER BY id".format(*_span(r, 9))),
    ("rounding", lambda r, i: f"SELECT round({r.randint(-50, 50)}.5) AS half, round({r.randint(0, 99)}.125, 2) AS q"),
    ("dates and timestamps", lambda r, i: "SELECT id, created_at, CAST(created_at AS DATE) AS day FROM orders "
     "WHERE id BETWEEN {} AND {} ORDER BY id".format(*_span(r, 4))),
    ("dates and timestamps", lambda r, i: f"SELECT count(*) AS n FROM orders WHERE created_at >= "
     f"'2024-{r.randint(1, 12):02d}-01' AND id BETWEEN {r.randint(1, 1000)} AND 2000"),
    ("joins", lambda r, i: "SELECT o.id AS order_id, c.name AS customer, c.city AS city FROM orders o "
     "JOIN customers c ON c.id = o.customer_id WHERE o.id BETWEEN {} AND {} ORDER BY o.id".format(*_span(r, 9))),
    ("joins", lambda r, i: "SELECT c.id AS id, count(o.id) AS orders_n FROM customers c LEFT JOIN orders o "
     "ON o.customer_id = c.id WHERE c.id BETWEEN {} AND {} GROUP BY c.id ORDER BY c.id".format(*_span(r, 4))),
    ("window functions", lambda r, i: "SELECT id, sum(amount) OVER (ORDER BY id) AS running, "
     "row_number() OVER (ORDER BY quantity DESC, id) AS rk FROM orders WHERE id BETWEEN {} AND {} "
     "ORDER BY id".format(*_span(r, 9))),
    ("unicode text", lambda r, i: "SELECT name, length(name) AS len FROM products WHERE id BETWEEN {} AND {} "
     "ORDER BY name, id".format(*_span(r, 9, 500))),
    ("collation", lambda r, i: "SELECT city, count(*) AS n FROM customers WHERE id BETWEEN {} AND {} "
     "GROUP BY city ORDER BY city".format(*_span(r, 199))),
    ("NULL vs empty string", lambda r, i: "SELECT id, coalesce(note, '') AS note, note IS NULL AS missing "
     "FROM orders WHERE id BETWEEN {} AND {} ORDER BY id".format(*_span(r, 9))),
    ("CASE", lambda r, i: "SELECT id, CASE WHEN discount IS NULL THEN 'none' WHEN discount > 0.1 THEN 'big' "
     "ELSE 'small' END AS kind FROM orders WHERE id BETWEEN {} AND {} ORDER BY id".format(*_span(r, 9))),
    ("DISTINCT", lambda r, i: "SELECT DISTINCT status FROM orders WHERE id BETWEEN {} AND {}".format(
        *_span(r, 49))),
    ("aggregates", lambda r, i: f"SELECT customer_id, avg(quantity) AS mean, sum(quantity) AS total, "
     f"count(*) AS n FROM orders WHERE customer_id = {r.randint(1, 5000)} GROUP BY customer_id"),
    ("set operations", lambda r, i: "SELECT id FROM orders WHERE id BETWEEN {} AND {} UNION "
     "SELECT id FROM orders WHERE id BETWEEN {} AND {} ORDER BY 1".format(*_span(r, 5), *_span(r, 5))),
    ("division by zero", lambda r, i: f"SELECT {r.randint(1, 9)} / 0 AS z"),
    ("string concatenation", lambda r, i: "SELECT 'order-' || id AS label FROM orders WHERE id BETWEEN "
     "{} AND {} ORDER BY id".format(*_span(r, 4))),
    ("engine-specific functions", lambda r, i: f"SELECT date('2024-01-31', '+{r.randint(1, 11)} month') AS d"),
)


def statement(seed: int, idx: int) -> str:
    """Statement `idx` of the built-in corpus `seed`: the templates in turn, their constants seeded per index."""
    rng = random.Random(f"farm-sql-corpus:{seed}:{idx}")
    return TEMPLATES[idx % len(TEMPLATES)][1](rng, idx)

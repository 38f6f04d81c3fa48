"""The drift catalog of a probe that sends a request per input reads every input's answer, not the first of each
batch: the type-name row lists every type the engines declared, and error bodies both engines sent for a
statement they refused get rows of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn

STATEMENTS = [
    "SELECT id, name FROM customers ORDER BY id LIMIT 2",
    "SELECT count(*) AS n FROM orders",
    "SELECT 7 / 2 AS half",
    "SELECT 1.5 AS x, 'a' AS t",
    "SELECT sum(amount) AS total FROM orders",
    "SELECT avg(score) AS mean FROM customers",
    "SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY city",
    "SELECT max(signup_at) AS last FROM customers",
    "SELECT nope FROM customers",  # refused by both engines: an error body each
    "SELECT * FROM no_such_table",
]


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    with spawn("lakehouse-legacy", "--rows", "500", probe="sql") as legacy, \
            spawn("lakehouse-candidate", "--engine", "duckdb", "--rows", "500", probe="sql") as duckdb:
        yield legacy, duckdb


def test_every_statement_feeds_the_catalog(engines: tuple[GatewayProcess, GatewayProcess], tmp_path: Path) -> None:
    legacy, duckdb = engines
    corpus = tmp_path / "statements.sql"
    corpus.write_text("".join(s + ";\n" for s in STATEMENTS), encoding="utf-8")
    result = CliRunner().invoke(main_group, [
        "sweep", "sql", "--json", "--quiet", "--no-report", "--legacy", legacy.url, "--candidate", duckdb.url,
        "--corpus", str(corpus), "--batch-size", "4"],
        env={"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}, catch_exceptions=False)
    out = json.loads(result.stdout)
    # What the engines declared, asked directly.
    declared: dict[str, set[str]] = {"legacy": set(), "candidate": set()}
    for sql in STATEMENTS:
        a = httpx.post(legacy.url + "/query", json={"sql": sql}).json()
        b = httpx.post(duckdb.url + "/v1/sql", json={"query": sql}).json()
        declared["legacy"].update(a.get("types") or [])
        declared["candidate"].update(c["type"] for c in b.get("schema") or [])
    assert len(declared["candidate"]) > 3  # more than three batches' first answers could show
    types = next(r for r in out["drift_catalog"] if r["kind"] == "types")
    assert set(types["legacy_types"]) == declared["legacy"] and set(types["candidate_types"]) == declared["candidate"]
    # Both engines refused the last two statements, each in its own words: the error bodies' row says so.
    errors = {r["field"]: r for r in out["drift_catalog"] if r["field"].startswith("Error body")}
    assert errors["Error body: value of `error`"]["of"] == 2, errors

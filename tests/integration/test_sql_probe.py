"""The sql probe over real HTTP: demo gateways on two real engines (SQLite, DuckDB) over one seeded dataset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn

ROWS = "20000"  # a small `orders` table keeps the tests fast; the benchmark uses the full size


@pytest.fixture(scope="module")
def gateways() -> Iterator[dict[str, GatewayProcess]]:
    data = ("--rows", ROWS)
    with spawn("lakehouse-legacy", *data, probe="sql") as legacy, \
            spawn("lakehouse-candidate", *data, probe="sql") as sqlite, \
            spawn("lakehouse-candidate", "--engine", "duckdb", *data, probe="sql") as duckdb, \
            spawn("lakehouse-candidate", "--reverse-unordered", "--numbers-as-strings", *data, probe="sql") as odd:
        yield {"legacy": legacy, "sqlite": sqlite, "duckdb": duckdb, "odd": odd}


def sweep(tmp_path: Path, *args: str) -> tuple[int, dict]:
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    result = CliRunner().invoke(main_group, ["sweep", "sql", "--json", "--quiet", *args], env=env,
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else {"out": result.output}


def test_sqlite_against_sqlite_passes(gateways: dict[str, GatewayProcess], tmp_path: Path) -> None:
    code, out = sweep(tmp_path, "--legacy", gateways["legacy"].url, "--candidate", gateways["sqlite"].url,
                      "--samples", "420", "--p-max", "0.01", "--no-report")
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    st = out["statistics"]
    assert out["disagreements"] == 0 and st["classes"] == {} and st["nondeterministic"] == 15  # 420 / 28 templates
    assert out["n"] == 405
    kinds = {r["kind"]: r for r in out["drift_catalog"]}
    assert kinds["rows"]["legacy"].startswith("`rows`: row arrays") and "row objects" in kinds["rows"]["candidate"]
    assert kinds["request"]["legacy"] == "`{sql}`" and kinds["request"]["candidate"] == "`{query}`"
    assert any(r["kind"] == "rename" and r["legacy"] == "`columns`" for r in out["drift_catalog"])
    # The adapter map turns the candidate's answer into the legacy one: schema into columns and types, row
    # objects into row arrays in column order; no per-column drops, nothing unknown.
    amap = out["adapter_map"]
    assert amap["unknown"] == [] and not any(op["op"] == "drop" and op["path"].startswith("data[]")
                                             for op in amap["ops"]), amap
    from farm.wiredrift.adapter import apply_adapter

    for sql in ("SELECT id, name, email FROM customers ORDER BY id LIMIT 3", "SELECT 7 / 2 AS half, 'é' AS u",
                "SELECT id FROM customers WHERE 1 = 0"):
        legacy_doc = httpx.post(gateways["legacy"].url + "/query", json={"sql": sql}).json()
        candidate_doc = httpx.post(gateways["sqlite"].url + "/v1/sql", json={"query": sql}).json()
        assert apply_adapter(amap, candidate_doc) == legacy_doc, sql


def test_sqlite_against_duckdb_fails_with_the_engines_real_differences(gateways: dict[str, GatewayProcess],
                                                                     tmp_path: Path) -> None:
    code, out = sweep(tmp_path, "--legacy", gateways["legacy"].url, "--candidate", gateways["duckdb"].url,
                      "--samples", "280", "--reports-dir", str(tmp_path))
    assert code == 1 and out["verdict"] == "FAIL", out["reason"]
    st = out["statistics"]
    assert {"null_ordering", "value", "error_one_side"} <= set(st["classes"]), st["classes"]
    assert st["features"].get("value: integer division", 0) >= 10 and st["features"]["value: LIKE case sensitivity"]
    assert st["nondeterministic"] == 10 and st["type_drift"] > 200  # INTEGER vs BIGINT...: drift, not disagreement
    types = next(r for r in out["drift_catalog"] if r["kind"] == "types")
    assert "`REAL`" in types["legacy"] and "`DOUBLE`" in types["candidate"]
    report = Path(out["report"]).read_text()
    assert "## Disagreements by class" in report and "| null_ordering | ORDER BY with NULLs |" in report
    assert '"sql": "SELECT' in report  # the statement and both results' first rows
    assert (tmp_path / "cutover" / Path(out["report"]).name.replace(".md", "_row_counts.png")).exists() or \
        "row_count" not in st["classes"]


def test_order_by_ties_and_a_bare_limit_are_not_disagreements(gateways: dict[str, GatewayProcess],
                                                              tmp_path: Path) -> None:
    ties = [f"SELECT status, id FROM orders WHERE id BETWEEN {a} AND {a + 30} ORDER BY status"
            for a in range(1, 3001, 100)]
    limits = [f"SELECT id, status FROM orders WHERE quantity = {q} LIMIT 5" for q in range(1, 10)]
    legacy, duckdb, odd = gateways["legacy"], gateways["duckdb"], gateways["odd"]

    def rows(gw: GatewayProcess, sql: str) -> list[list[str]]:
        if gw is legacy:
            return [[str(v) for v in r] for r in httpx.post(gw.url + "/query", json={"sql": sql}).json()["rows"]]
        data = httpx.post(gw.url + "/v1/sql", json={"query": sql}).json()["data"]
        return [[str(v) for v in r.values()] for r in data]

    # The candidates really answer otherwise: DuckDB orders tied rows its own way; SQLite with
    # reverse_unordered_selects scans backwards, so a bare LIMIT keeps other rows.
    assert rows(legacy, ties[0]) != rows(duckdb, ties[0]) and sorted(rows(legacy, ties[0])) == sorted(rows(duckdb,
                                                                                                        ties[0]))
    assert rows(legacy, limits[0]) != rows(odd, limits[0])
    corpus = tmp_path / "ties.sql"
    corpus.write_text("\n".join(ties) + "\n")
    code, out = sweep(tmp_path, "--legacy", legacy.url, "--candidate", duckdb.url, "--corpus", str(corpus),
                      "--p-max", "0.1", "--no-report")
    assert code == 0 and out["verdict"] == "PASS" and out["disagreements"] == 0 and out["n"] == len(ties), out
    corpus.write_text("\n".join(ties + limits) + "\n")
    code, out = sweep(tmp_path, "--legacy", legacy.url, "--candidate", odd.url, "--corpus", str(corpus),
                      "--p-max", "0.1", "--no-report")
    assert code == 0 and out["verdict"] == "PASS" and out["disagreements"] == 0, out["reason"]
    assert out["n"] == len(ties) and out["statistics"]["nondeterministic"] == len(limits)


def test_numbers_as_strings_are_drift_not_disagreement(gateways: dict[str, GatewayProcess], tmp_path: Path) -> None:
    args = ("--legacy", gateways["legacy"].url, "--candidate", gateways["odd"].url, "--samples", "112", "--no-report")
    code, out = sweep(tmp_path, *args, "--p-max", "0.03")
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    numbers = next(r for r in out["drift_catalog"] if r["kind"] == "numbers")
    assert numbers["legacy"] == "JSON numbers" and numbers["candidate"].startswith("JSON strings (")
    assert out["statistics"]["numbers_as_strings"] > 50
    assert "cast them back" in out["adapter_map"]["probe"]["numbers_as_strings"]
    code, out = sweep(tmp_path, *args, "--strict-types")
    assert code == 1 and out["statistics"]["classes"].get("type", 0) > 50, out["statistics"]["classes"]


def test_a_write_statement_is_refused_without_allow_writes(gateways: dict[str, GatewayProcess],
                                                           tmp_path: Path) -> None:
    corpus = tmp_path / "writes.sql"
    corpus.write_text("SELECT 1 AS one\nSELECT 2 AS two; DELETE FROM empty_events\n")
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    base = ["sweep", "sql", "--legacy", gateways["legacy"].url, "--candidate", gateways["sqlite"].url, "--corpus",
            str(corpus), "--no-report", "--quiet"]
    result = CliRunner().invoke(main_group, base, env=env)
    assert result.exit_code == 2, result.output
    assert "DELETE FROM empty_events" in result.output and "--allow-writes" in result.output
    assert f"{corpus}:2: statement" in result.output  # the file and line it is on
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    # `;`-separated statements on one line are separate inputs; with --allow-writes they are sent.
    result = CliRunner().invoke(main_group, [*base, "--allow-writes", "--json"], env=env)
    assert result.exit_code in (0, 3) and json.loads(result.stdout)["n"] == 3, result.output


@pytest.mark.services
@pytest.mark.slow
def test_sql_runs_distributed(gateways: dict[str, GatewayProcess], tmp_path: Path, pg_url: str,
                              broker_url: str) -> None:
    import os

    from farm.store.db import upgrade
    from tests.integration.cluster import Cluster
    from tests.integration.test_distributed import samples_of

    upgrade(pg_url)
    env = {"FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url, "FARM_CONFIG": "",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cluster = Cluster(tmp_path, {**os.environ, **env})
    try:
        cluster.sweep_workers()
        result = CliRunner().invoke(main_group, ["sweep", "sql", "--json", "--quiet", "--legacy",
                                                 gateways["legacy"].url, "--candidate", gateways["duckdb"].url,
                                                 "--samples", "280", "--distributed", "--no-report",
                                                 "--stall-timeout", "60"], env=env, catch_exceptions=False)
        out = json.loads(result.stdout)
    finally:
        cluster.stop()
    assert result.exit_code == 1 and out["mode"] == "distributed" and out["verdict"] == "FAIL", out.get("reason")
    assert {"null_ordering", "value"} <= set(out["statistics"]["classes"])
    assert samples_of(pg_url, out["sweep_id"]) == (280, 280, 0, 279)

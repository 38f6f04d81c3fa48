"""The sql probe over real HTTP: demo gateways on two real engines (SQLite, DuckDB) over one seeded dataset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
            spawn("lakehouse-candidate", "--reverse-unordered", "--numbers-as-strings", *data, probe="sql") as odd, \
            spawn("lakehouse-candidate", "--reverse-unordered", *data, probe="sql") as reversed_, \
            spawn("lakehouse-legacy", "--engine", "duckdb", *data, probe="sql") as duck_legacy:
        yield {"legacy": legacy, "sqlite": sqlite, "duckdb": duckdb, "odd": odd, "reversed": reversed_,
               "duck_legacy": duck_legacy}


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


def rows_of(gw: GatewayProcess, sql: str) -> list[list[Any]]:
    """A gateway's rows as it sends them (row objects read as their values)."""
    if gw.profile == "lakehouse-legacy":
        return list(httpx.post(gw.url + "/query", json={"sql": sql}).json()["rows"])
    return [list(r.values()) for r in httpx.post(gw.url + "/v1/sql", json={"query": sql}).json()["data"]]


def test_reversed_scans_with_integers_above_1e9_and_epochs_agree(gateways: dict[str, GatewayProcess],
                                                                 tmp_path: Path) -> None:
    # Issue 20, 1: the same engine with unordered scans reversed (SQLite's reverse_unordered_selects), results
    # holding ids above 1e9, integers beyond 2^53, epoch seconds and milliseconds, and large floats.
    statements = []
    for a in range(1, 2001, 200):
        span = f"FROM orders WHERE id BETWEEN {a} AND {a + 60}"
        statements += [
            f"SELECT id + 1000000000 AS big, status {span}",
            f"SELECT id + 9007199254740993 AS beyond, CAST(strftime('%s', created_at) AS INTEGER) AS epoch {span}",
            f"SELECT CAST(strftime('%s', created_at) AS INTEGER) * 1000 + id AS epoch_ms, amount * 1000000 AS micro "
            f"{span}",
        ]
    legacy, reversed_ = gateways["legacy"], gateways["reversed"]
    for sql in statements:  # really another order, the same rows
        mine, theirs = rows_of(legacy, sql), rows_of(reversed_, sql)
        assert mine != theirs and mine == theirs[::-1], sql
    corpus = tmp_path / "big.sql"
    corpus.write_text("\n".join(statements) + "\n")
    code, out = sweep(tmp_path, "--legacy", legacy.url, "--candidate", reversed_.url, "--corpus", str(corpus),
                      "--p-max", "0.1", "--no-report")
    assert code == 0 and out["verdict"] == "PASS" and out["disagreements"] == 0, out.get("statistics", out)
    assert out["n"] == len(statements)
    # A changed value among them is still found: the candidate drifts on some statements.
    code, out = sweep(tmp_path, "--legacy", legacy.url, "--candidate", gateways["odd"].url, "--corpus", str(corpus),
                      "--p-max", "0.1", "--no-report", "--strict-types")
    assert code == 1 and out["statistics"]["classes"] == {"type": len(statements)}, out["statistics"]["classes"]


def test_offset_cutting_a_tie_group_at_the_start_is_not_a_disagreement(gateways: dict[str, GatewayProcess],
                                                                      tmp_path: Path) -> None:
    # Issue 20, 2: DuckDB orders rows tied on `quantity` its own way; OFFSET 3 and LIMIT 10 cut the tie groups
    # at both ends, so each side keeps other ids of the first and the last quantity.
    statements = [f"SELECT quantity, id FROM orders WHERE id BETWEEN {a} AND {a + 100} ORDER BY quantity "
                  f"LIMIT 10 OFFSET 3" for a in range(1, 4001, 200)]
    legacy, duckdb = gateways["legacy"], gateways["duckdb"]
    first_runs_differ = 0
    for sql in statements:
        mine, theirs = rows_of(legacy, sql), rows_of(duckdb, sql)
        assert [r[0] for r in mine] == [r[0] for r in theirs], sql  # the same quantities in order
        first = mine[0][0]
        first_runs_differ += sorted(r[1] for r in mine if r[0] == first) != sorted(r[1] for r in theirs
                                                                                  if r[0] == first)
    assert first_runs_differ >= 5  # the case really happens: other rows in the group the OFFSET cuts
    corpus = tmp_path / "offset.sql"
    corpus.write_text("\n".join(statements) + "\n")
    code, out = sweep(tmp_path, "--legacy", legacy.url, "--candidate", duckdb.url, "--corpus", str(corpus),
                      "--p-max", "0.2", "--no-report")
    assert code == 0 and out["verdict"] == "PASS" and out["disagreements"] == 0, out.get("statistics", out)


def test_order_by_outside_the_select_list_is_reported_as_order_unverifiable(gateways: dict[str, GatewayProcess],
                                                                           tmp_path: Path) -> None:
    # Issue 20, 3: ORDER BY a column the result does not carry: content compared, order reported as not checked.
    unverifiable = [f"SELECT id, status FROM orders WHERE id BETWEEN {a} AND {a + 30} ORDER BY created_at"
                    for a in range(1, 2001, 100)]
    checked = [f"SELECT o.id AS order_id, o.status FROM orders o WHERE o.id BETWEEN {a} AND {a + 30} "
               f"ORDER BY o.id DESC" for a in range(1, 501, 100)]
    corpus = tmp_path / "order.sql"
    corpus.write_text("\n".join(unverifiable + checked) + "\n")
    code, out = sweep(tmp_path, "--legacy", gateways["legacy"].url, "--candidate", gateways["reversed"].url,
                      "--corpus", str(corpus), "--p-max", "0.2", "--reports-dir", str(tmp_path))
    assert code == 0 and out["disagreements"] == 0, out["reason"]
    st = out["statistics"]
    assert st["order_unverifiable"] == len(unverifiable) and st["classes"] == {}, st
    assert any("ORDER BY a key outside the select list" in f for f in st["findings"])
    report = Path(out["report"]).read_text()
    assert "| order_unverifiable | ORDER BY a key outside the select list | 20 | no (content judged" in report
    assert "order not checkable (ORDER BY a key outside the select list) in 20" in report


def test_duplicate_column_names_are_drift_and_a_warning_not_a_value_fail(gateways: dict[str, GatewayProcess],
                                                                         tmp_path: Path) -> None:
    # Issue 20, 4: the candidate's row objects hold one value per name.
    statements = ["SELECT 1 AS a, 2 AS a",
                  "SELECT id AS a, quantity AS a, status FROM orders WHERE id BETWEEN 1 AND 5 ORDER BY status"]
    assert rows_of(gateways["sqlite"], statements[0]) == [[2]]  # what the candidate really sends
    corpus = tmp_path / "dup.sql"
    corpus.write_text("\n".join(statements) + "\n")
    code, out = sweep(tmp_path, "--legacy", gateways["legacy"].url, "--candidate", gateways["sqlite"].url,
                      "--corpus", str(corpus), "--reports-dir", str(tmp_path))
    assert code != 1 and out["disagreements"] == 0, out["reason"]
    st = out["statistics"]
    assert st["duplicate_columns"] == 2 and st["classes"] == {}
    assert out["n"] == 1  # the statement with nothing else to compare is not judged
    assert any("row objects cannot carry duplicate names" in f for f in st["findings"])
    row = next(r for r in out["drift_catalog"] if r["kind"] == "duplicate_columns")
    assert row["candidate"].startswith("row objects cannot carry duplicate names (2 statements")
    assert row["legacy"] == "duplicate names kept (row arrays)"
    report = Path(out["report"]).read_text()
    assert "row objects cannot carry duplicate names" in report and "[2,2]" not in report


def farm_toml(tmp_path: Path, text: str) -> dict[str, str]:
    (tmp_path / "farm.toml").write_text(text)
    return {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": str(tmp_path / "farm.toml")}


def test_the_statement_gate_reads_the_legacy_dialect(gateways: dict[str, GatewayProcess], tmp_path: Path) -> None:
    # Issue 20, 5: valid DuckDB refused under the default dialect, sent under --dialect duckdb or a profile's.
    corpus = tmp_path / "duck.sql"
    corpus.write_text("SELECT 7 // 2 AS q\nSELECT 2 ** 3 AS p\n"
                      "SELECT id // 3 AS third FROM orders WHERE id BETWEEN 1 AND 9 ORDER BY id\n")
    legacy, candidate = gateways["duck_legacy"].url, gateways["duckdb"].url
    base = ["--legacy", legacy, "--candidate", candidate, "--corpus", str(corpus), "--no-report"]
    code, out = sweep(tmp_path, *base)
    assert code == 2 and "duck.sql:1: statement 'SELECT 7 // 2 AS q' does not parse as sqlite SQL" in out["out"], out
    assert "--dialect" in out["out"] and len(out["out"].strip().splitlines()) == 1
    code, out = sweep(tmp_path, *base, "--dialect", "duckdb", "--p-max", "0.7")
    assert code == 0 and out["n"] == 3 and out["disagreements"] == 0, out.get("reason", out)
    assert out["parameters"]["probe_options"]["dialect"] == "duckdb"
    code, out = sweep(tmp_path, *base, "--dialect", "duckdbx")
    assert code == 2 and "--dialect 'duckdbx': not an SQL dialect" in out["out"]
    assert len(out["out"].strip().splitlines()) == 1
    # The legacy gateway's profile says its dialect (farm.toml), so no option is needed.
    env = farm_toml(tmp_path, f"""
[gateways.duck]
url = "{legacy}"
profile = "duck-legacy"

[profiles.duck-legacy]
probe = "sql"
base = "lakehouse-legacy"
dialect = "duckdb"
""")
    result = CliRunner().invoke(main_group, ["sweep", "sql", "--json", "--quiet", "--legacy", "duck", "--candidate",
                                             candidate, "--corpus", str(corpus), "--no-report", "--p-max", "0.7"],
                                env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parameters"]["probe_options"]["dialect"] == "duckdb"
    env = farm_toml(tmp_path, (tmp_path / "farm.toml").read_text().replace('"duckdb"', '"duck"'))
    result = CliRunner().invoke(main_group, ["sweep", "sql", "--legacy", "duck", "--candidate", candidate,
                                             "--corpus", str(corpus), "--no-report"], env=env)
    assert result.exit_code == 2 and "profiles.duck-legacy: dialect 'duck': not an SQL dialect" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    corpus.write_text("SELECT * INTO newt FROM customers\n")
    code, out = sweep(tmp_path, *base, "--dialect", "postgres")
    assert code == 2 and "is not read-only: SELECT ... INTO creates a table; refused" in out["out"], out


def test_classes_name_the_engines_differences_and_latency_counts_statements(gateways: dict[str, GatewayProcess],
                                                                            tmp_path: Path) -> None:
    # Issue 20, 6: SQLite against DuckDB (and against itself with reversed scans for group_concat's order).
    corpus = tmp_path / "classes.sql"
    duck_statements = [
        "SELECT 7/2",
        "SELECT CAST(amount AS TEXT) AS t FROM orders WHERE id BETWEEN 1 AND 5",
        "SELECT CAST(created_at AS DATE) AS d FROM orders WHERE id BETWEEN 1 AND 3",
        "SELECT typeof(quantity) AS t FROM orders WHERE id = 1",
        "SELECT name FROM products WHERE id < 80 ORDER BY name COLLATE NOCASE",
        *[f"SELECT id, round(amount, 1) AS r FROM orders WHERE id BETWEEN {a} AND {a + 40} ORDER BY id"
          for a in range(1, 200, 40)],
    ]
    corpus.write_text("\n".join(duck_statements) + "\n")
    code, out = sweep(tmp_path, "--legacy", gateways["legacy"].url, "--candidate", gateways["duckdb"].url,
                      "--corpus", str(corpus), "--reports-dir", str(tmp_path), "--batch-size", "4")
    assert code == 1, out["reason"]
    features = out["statistics"]["features"]
    assert features.get("value: integer division") == 1  # SELECT 7/2: its values, not only its column names
    assert features.get("value: float-to-text formatting") == 1 and features.get("value: CAST") == 1, features
    assert features.get("value: typeof") == 1 and features.get("order: collation") == 1, features
    latency = out["statistics"]["latency"]
    assert latency["legacy"]["n"] == len(duck_statements) == latency["candidate"]["n"]  # requests, not batches
    report = Path(out["report"]).read_text()
    assert f"{len(duck_statements)} legacy and {len(duck_statements)} candidate requests" in report
    assert '"columns":["(7 / 2)"],"rows":[[3.5]]' in report
    corpus.write_text("SELECT group_concat(status) AS g FROM orders WHERE id BETWEEN 1 AND 30\n")
    code, out = sweep(tmp_path, "--legacy", gateways["legacy"].url, "--candidate", gateways["reversed"].url,
                      "--corpus", str(corpus), "--no-report")
    assert out["statistics"]["features"] == {
        "value: aggregate order (group_concat / string_agg / array_agg)": 1}, out["statistics"]


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

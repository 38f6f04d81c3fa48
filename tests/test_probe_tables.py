"""A probe's own sample table evolves: a column a newer version of the probe declares is added on first use
(SQLite and Postgres), and a schema error is never taken for an outage (no 120 s of reconnect retries: one line,
exit 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from farm.cli import main_group
from farm.errors import outage, user_error
from farm.gateway.process import GatewayProcess, spawn
from farm.store.db import get_engine, upgrade


@pytest.fixture(scope="module")
def sql_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    with spawn("lakehouse-legacy", "--rows", "200", probe="sql") as legacy, \
            spawn("lakehouse-candidate", "--rows", "200", probe="sql") as candidate:
        yield legacy, candidate


def _old_table(url: str) -> None:
    """`sql_samples` as an older sql probe left it: two of today's eight columns."""
    upgrade(url)
    with get_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE sql_samples (sweep_id VARCHAR(40) NOT NULL, idx INTEGER NOT NULL, "
                          "diff_class VARCHAR(512), feature VARCHAR(512), PRIMARY KEY (sweep_id, idx))"))


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_a_newly_declared_column_is_added_on_first_use(db: str, sql_pair: tuple[GatewayProcess, GatewayProcess],
                                                      request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    _old_table(url)
    legacy, candidate = sql_pair
    result = CliRunner().invoke(main_group, [
        "sweep", "sql", "--json", "--quiet", "--no-report", "--legacy", legacy.url, "--candidate", candidate.url,
        "--samples", "40"], env={"FARM_DATABASE_URL": url, "FARM_CONFIG": "", "FARM_RECONNECT_WAIT": "5"},
        catch_exceptions=False)
    assert result.exit_code in (0, 3), result.output
    out = json.loads(result.stdout)
    engine = get_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("sql_samples")}
    assert {"type_drift", "rows_legacy", "rows_candidate", "example"} <= columns
    with engine.connect() as conn:
        filled = conn.execute(text("SELECT count(*), count(rows_legacy) FROM sql_samples WHERE sweep_id = :s"),
                              {"s": out["sweep_id"]}).one()
    assert filled[0] == 40 and filled[1] > 0  # the new columns hold this sweep's values


def test_a_schema_error_is_no_outage(tmp_path: Path) -> None:
    """What SQLite raised for a table without a declared column: an OperationalError, once taken for a lost
    database ("database unreachable: ... retrying for up to 120s")."""
    url = f"sqlite:///{tmp_path}/farm.db"
    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE rerank_samples (sweep_id TEXT, idx INTEGER)"))
    with pytest.raises(Exception) as caught, engine.begin() as conn:
        conn.execute(text("INSERT INTO rerank_samples (sweep_id, idx, margin) VALUES ('s', 1, 0.5)"))
    assert outage(caught.value) is None
    assert user_error(caught.value) == "database: table rerank_samples has no column named margin"

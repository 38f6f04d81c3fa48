from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from farm.store.db import SCHEMA_HEAD, current_revision, ensure_schema, get_engine, head_revision, upgrade
from farm.store.models import Base


def test_schema_head_constant_matches_alembic() -> None:
    assert head_revision() == SCHEMA_HEAD


def test_sqlite_is_migrated_on_first_use_and_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/farm.db"
    engine = ensure_schema(url)
    assert current_revision(engine) == SCHEMA_HEAD
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert upgrade(url) == SCHEMA_HEAD  # idempotent


def test_postgres_upgrade_matches_the_models(pg_url: str) -> None:
    assert upgrade(pg_url) == SCHEMA_HEAD
    engine = get_engine(pg_url)
    assert current_revision(engine) == SCHEMA_HEAD
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_a_probe_table_made_before_the_probe_gained_a_column_gets_it(tmp_path: Path) -> None:
    """chat_samples made by an older farm (no `messages` column) is brought up to the probe's columns."""
    from sqlalchemy import text

    from farm.probes import get_probe
    from farm.store.probe_tables import ready_table

    url = f"sqlite:///{tmp_path}/old.db"
    ensure_schema(url)
    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE chat_samples (sweep_id VARCHAR(40) NOT NULL, idx INTEGER NOT NULL, "
                          "margin FLOAT, PRIMARY KEY (sweep_id, idx))"))
        conn.execute(text("INSERT INTO chat_samples (sweep_id, idx, margin) VALUES ('old', 0, 0.1)"))
    with engine.begin() as conn:
        ready_table(conn, get_probe("chat"))
    with engine.begin() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("chat_samples")}
        row = conn.execute(text("SELECT margin, messages FROM chat_samples")).one()
    assert {"messages", "text_candidate", "prompt_legacy"} <= columns and tuple(row) == (0.1, None)

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

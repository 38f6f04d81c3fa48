"""Per-probe sample tables: `<probe>_samples`, one row per sample with the columns the probe declares.

Kept apart from `samples` so the shared table stays the same for every probe, and typed columns (not a JSON
document per row) keep the embed hot path cheap. Embed's table comes from an Alembic migration (`MIGRATED`);
every other probe's, built-in or plug-in, is created on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Column, Connection, Float, ForeignKey, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.schema import CreateColumn

from farm.probes.base import Probe
from farm.store.models import NAMING_CONVENTION, Sweep

_KINDS: dict[str, Any] = {"float": Float, "int": Integer, "text": String(512)}
_TABLES: dict[str, Table] = {}
_CREATED: set[tuple[str, str]] = set()
_LOCK = threading.Lock()
MIGRATED = ("embed",)  # probes whose table an Alembic migration creates
# Apart from the models' metadata, which is exactly what the migrations create; the foreign key names the
# sweeps table's column itself, so it resolves across the two.
PROBE_METADATA = MetaData(naming_convention=NAMING_CONVENTION)


def probe_table(probe: Probe) -> Table | None:
    """The probe's own sample table (None for a probe that keeps nothing besides the shared columns)."""
    if not probe.columns:
        return None
    with _LOCK:
        table = _TABLES.get(probe.name)
        if table is None:
            name = f"{probe.name}_samples"
            table = PROBE_METADATA.tables.get(name)
            if table is None:
                table = Table(
                    name, PROBE_METADATA,
                    Column("sweep_id", String(40), ForeignKey(Sweep.__table__.c.id, ondelete="CASCADE"),
                           primary_key=True),
                    Column("idx", Integer, primary_key=True),
                    *(Column(c.name, _KINDS[c.kind]) for c in probe.columns),
                )
            _TABLES[probe.name] = table
        return table


def ready_table(conn: Connection, probe: Probe) -> Table | None:
    """`probe_table`, created in this database first if no migration made it."""
    table = probe_table(probe)
    if table is None or probe.name in MIGRATED:
        return table
    key = (str(conn.engine.url), probe.name)
    if key not in _CREATED:
        table.create(conn, checkfirst=True)
        add_missing_columns(conn, table)
        _CREATED.add(key)
    return table


def add_missing_columns(conn: Connection, table: Table) -> None:
    """A probe that gained a column since its table was made in this database: the column is added (nullable,
    so older rows read as None), as a migration would for a migrated table."""
    have = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name not in have:
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {conn.dialect.identifier_preparer.quote(table.name)} ADD COLUMN {ddl}"))

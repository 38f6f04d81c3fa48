"""Reads and writes of sweeps and their samples. Writes are idempotent: a redelivered batch changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Connection, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from farm.errors import UsageError
from farm.store.db import transaction
from farm.store.models import Base, DriftFinding, Gateway, NoiseSample, Sample, Sweep, Verdict


def insert_ignore(session: Session | Connection, model: type[Base], rows: Sequence[dict[str, Any]]) -> int:
    """Bulk INSERT that skips rows whose primary key exists (ON CONFLICT DO NOTHING on both dialects).

    Returns how many rows were inserted for a single row (what exactly-once claims need), else -1.
    """
    if len(rows) == 1:
        return len(claim(session, model, rows))
    if rows:
        session.execute(_insert_ignoring(session, model), rows)  # executemany: drivers report no row count
    return -1 if rows else 0


def claim(session: Session | Connection, model: type[Base], rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """INSERT the rows whose primary key is new, in one statement; returns the keys inserted (the claims won).

    Rows go in primary-key order, so two transactions claiming overlapping sets wait on each other in the same
    order and never deadlock; the loser of a key waits for the winner's commit, then skips it.
    """
    if not rows:
        return []
    keys = [c.name for c in cast(Table, model.__table__).primary_key.columns]
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in keys))
    stmt = _insert_ignoring(session, model).values(ordered)
    return [tuple(r) for r in session.execute(stmt.returning(*cast(Table, model.__table__).primary_key.columns))]


def _insert_ignoring(session: Session | Connection, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    dialect = (session.get_bind() if isinstance(session, Session) else session).dialect.name
    table = cast(Table, model.__table__)  # Core insert: the ORM bulk path reports no row count
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise UsageError(f"unsupported database dialect {dialect}")  # pragma: no cover - only the two above


def create_sweep(url: str, sweep: dict[str, Any], gateways: Sequence[dict[str, Any]]) -> None:
    with transaction(url) as s:
        for gw in gateways:
            s.merge(Gateway(**gw, updated_at=datetime.now(UTC)))
        s.add(Sweep(**sweep))


def insert_new(conn: Connection, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Bulk INSERT of rows the caller knows are new (it holds their claim): COPY on Postgres, the fastest path
    by far for many small rows; executemany elsewhere."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    names = [c.name for c in table.columns]
    raw = conn.connection.driver_connection  # the psycopg connection, inside this transaction
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name) for name in names])


def write_samples(url: str, rows: Sequence[dict[str, Any]], noise: Sequence[dict[str, Any]] = ()) -> None:
    with transaction(url) as s:
        insert_ignore(s, Sample, rows)
        insert_ignore(s, NoiseSample, noise)


def get_sweep(url: str, sweep_id: str) -> Sweep:
    with transaction(url) as s:
        sweep = s.get(Sweep, sweep_id)
        if sweep is None:
            matches = s.scalars(select(Sweep).where(Sweep.id.startswith(sweep_id)).limit(2)).all()
            if len(matches) == 1:
                return matches[0]
            raise UsageError(f"no sweep {sweep_id!r} in this database")
        return sweep


def set_status(url: str, sweep_id: str, status: str, **values: Any) -> None:
    with transaction(url) as s:
        if status in ("done", "cancelled", "failed"):
            values.setdefault("finished_at", datetime.now(UTC))
        s.execute(update(Sweep).where(Sweep.id == sweep_id).values(status=status, **values))


def sample_count(url: str, sweep_id: str) -> int:
    with transaction(url) as s:
        return int(s.scalar(select(func.count()).select_from(Sample).where(Sample.sweep_id == sweep_id)) or 0)


_FLOAT_COLUMNS = ("cosine", "latency_legacy_ms", "latency_candidate_ms", "norm_legacy", "norm_candidate")
_INT_COLUMNS = ("batch_no", "dim_legacy", "dim_candidate")
_TEXT_COLUMNS = ("legacy_error", "candidate_error")
LOAD_CHUNK = 50_000  # rows converted to arrays at a time: memory stays ~O(columns), not O(rows x objects)


def load_embed_arrays(url: str, sweep_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Column arrays of a sweep's samples (ordered by index) and of its A/A noise samples by side.

    Rows are streamed (a server-side cursor on Postgres) and converted a chunk at a time: holding a
    200,000-sample sweep as row objects cost the aggregation worker ~450 MB.
    """
    names = (*_FLOAT_COLUMNS, *_INT_COLUMNS, *_TEXT_COLUMNS)
    chunks: dict[str, list[Any]] = {name: [] for name in names}
    with transaction(url) as s:
        result = s.execute(select(*(getattr(Sample, n) for n in names)).where(Sample.sweep_id == sweep_id)
                           .order_by(Sample.idx).execution_options(yield_per=LOAD_CHUNK))
        for part in result.partitions():
            for name, column in zip(names, zip(*part, strict=True), strict=True):
                if name in _FLOAT_COLUMNS:
                    chunks[name].append(np.array([np.nan if v is None else v for v in column], dtype=np.float64))
                elif name in _INT_COLUMNS:
                    chunks[name].append(np.array([-1 if v is None else v for v in column], dtype=np.int64))
                else:
                    chunks[name].extend(column)
        noise = s.execute(select(NoiseSample.side, NoiseSample.cosine).where(NoiseSample.sweep_id == sweep_id)).all()
    arrays: dict[str, Any] = {name: chunks[name] for name in _TEXT_COLUMNS}
    for name in _FLOAT_COLUMNS:
        arrays[name] = np.concatenate(chunks[name]) if chunks[name] else np.empty(0, dtype=np.float64)
    for name in _INT_COLUMNS:
        arrays[name] = np.concatenate(chunks[name]) if chunks[name] else np.empty(0, dtype=np.int64)
    by_side: dict[str, list[float]] = {"legacy": [], "candidate": []}
    for side, cos in noise:
        if cos is not None:
            by_side.setdefault(side, []).append(cos)
    return arrays, {k: np.array(v, dtype=np.float64) for k, v in by_side.items()}


def save_outcome(url: str, sweep_id: str, verdict: dict[str, Any], findings: Sequence[dict[str, Any]],
                 status: str = "done") -> None:
    """Store the verdict and the drift catalog, replacing any earlier ones (re-finalising is harmless)."""
    with transaction(url) as s:
        existing = s.get(Verdict, sweep_id)
        if existing is not None:
            s.delete(existing)
            s.flush()
        s.add(Verdict(sweep_id=sweep_id, **verdict))
        s.query(DriftFinding).filter(DriftFinding.sweep_id == sweep_id).delete()
        s.add_all(DriftFinding(sweep_id=sweep_id, **f) for f in findings)
        s.execute(update(Sweep).where(Sweep.id == sweep_id).values(status=status, finished_at=datetime.now(UTC)))


def load_outcome(url: str, sweep_id: str) -> tuple[Verdict | None, list[DriftFinding]]:
    with transaction(url) as s:
        verdict = s.get(Verdict, sweep_id)
        findings = list(s.scalars(select(DriftFinding).where(DriftFinding.sweep_id == sweep_id)
                                  .order_by(DriftFinding.id)))
        return verdict, findings


def recent_sweeps(url: str, limit: int = 20) -> list[Sweep]:
    with transaction(url) as s:
        return list(s.scalars(select(Sweep).order_by(Sweep.created_at.desc()).limit(limit)))


def worst_samples(url: str, sweep_id: str, k: int = 10) -> tuple[list[Sample], list[Sample]]:
    """The `k` lowest-cosine compared samples, and the first `k` samples with an error on either side."""
    with transaction(url) as s:
        lowest = list(s.scalars(select(Sample).where(Sample.sweep_id == sweep_id, Sample.cosine.is_not(None))
                                .order_by(Sample.cosine, Sample.idx).limit(k)))
        failed = list(s.scalars(select(Sample).where(
            Sample.sweep_id == sweep_id,
            (Sample.legacy_error.is_not(None)) | (Sample.candidate_error.is_not(None)),
        ).order_by(Sample.idx).limit(k)))
        return lowest, failed

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
from farm.probes.base import Probe
from farm.store.db import transaction
from farm.store.models import Base, DriftFinding, Gateway, NoiseSample, Sample, Sweep, Verdict
from farm.store.probe_tables import MIGRATED, probe_table, ready_table


def insert_ignore(session: Session | Connection, model: type[Base] | Table, rows: Sequence[dict[str, Any]]) -> int:
    """Bulk INSERT that skips rows whose primary key exists (ON CONFLICT DO NOTHING on both dialects).

    Returns how many rows were inserted for a single row (what exactly-once claims need), else -1.
    """
    if len(rows) == 1:
        return len(claim(session, model, rows))
    if rows:
        session.execute(_insert_ignoring(session, model), rows)  # executemany: drivers report no row count
    return -1 if rows else 0


def _table(model: type[Base] | Table) -> Table:
    return model if isinstance(model, Table) else cast(Table, model.__table__)


def claim(session: Session | Connection, model: type[Base] | Table,
          rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """INSERT the rows whose primary key is new, in one statement; returns the keys inserted (the claims won).

    Rows go in primary-key order, so two transactions claiming overlapping sets wait on each other in the same
    order and never deadlock; the loser of a key waits for the winner's commit, then skips it.
    """
    if not rows:
        return []
    table = _table(model)
    keys = [c.name for c in table.primary_key.columns]
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in keys))
    stmt = _insert_ignoring(session, model).values(ordered)
    return [tuple(r) for r in session.execute(stmt.returning(*table.primary_key.columns))]


def _insert_ignoring(session: Session | Connection, model: type[Base] | Table) -> postgresql.Insert | sqlite.Insert:
    dialect = (session.get_bind() if isinstance(session, Session) else session).dialect.name
    table = _table(model)  # Core insert: the ORM bulk path reports no row count
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


def insert_new(conn: Connection, model: type[Base] | Table, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk INSERT of rows the caller knows are new (it holds their claim): COPY on Postgres, the fastest path
    by far for many small rows; executemany elsewhere."""
    if not rows:
        return
    table = _table(model)
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    names = [c.name for c in table.columns]
    raw = conn.connection.driver_connection  # the psycopg connection, inside this transaction
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name) for name in names])


def write_samples(url: str, rows: Sequence[dict[str, Any]], noise: Sequence[dict[str, Any]] = (),
                  probe: Probe | None = None, extra: Sequence[dict[str, Any]] = ()) -> None:
    """Samples (the shared columns), the probe's own columns of the same samples, and A/A noise rows."""
    with transaction(url) as s:
        insert_ignore(s, Sample, rows)
        if probe is not None and extra:
            table = ready_table(s.connection(), probe)
            if table is not None:
                insert_ignore(s, table, extra)
        insert_ignore(s, NoiseSample, noise)


def get_sweep(url: str, sweep_id: str) -> Sweep:
    with transaction(url) as s:
        sweep = s.get(Sweep, sweep_id)
        if sweep is None:
            # A unique prefix names a sweep; `_` and `%` in it are literal characters, not wildcards.
            matches = s.scalars(select(Sweep).where(Sweep.id.startswith(sweep_id, autoescape=True))
                                .order_by(Sweep.id).limit(4)).all()
            if len(matches) == 1:
                return matches[0]
            if matches:
                shown = ", ".join(m.id for m in matches[:3]) + (", ..." if len(matches) > 3 else "")
                raise UsageError(f"sweep id prefix {sweep_id!r} is ambiguous: it matches {shown}; give more of it")
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


def stored_indices(url: str, sweep_id: str) -> set[int]:
    """The sample indices a sweep has stored (what a continued sweep does not ask again)."""
    with transaction(url) as s:
        return set(s.scalars(select(Sample.idx).where(Sample.sweep_id == sweep_id)).all())


def side_errors(url: str, sweep_id: str) -> tuple[int, dict[str, dict[str, int]]]:
    """The sweep's stored samples, and per side the count of each error class among them."""
    counts: dict[str, dict[str, int]] = {"legacy": {}, "candidate": {}}
    total = 0
    with transaction(url) as s:
        rows = s.execute(select(Sample.legacy_error, Sample.candidate_error, func.count())
                         .where(Sample.sweep_id == sweep_id)
                         .group_by(Sample.legacy_error, Sample.candidate_error)).all()
    for legacy, candidate, n in rows:
        total += n
        for side, err in (("legacy", legacy), ("candidate", candidate)):
            if err is not None:
                counts[side][err] = counts[side].get(err, 0) + n
    return total, counts


_FLOAT_COLUMNS = ("score", "latency_legacy_ms", "latency_candidate_ms")
_INT_COLUMNS = ("batch_no",)
_TEXT_COLUMNS = ("legacy_error", "candidate_error")
LOAD_CHUNK = 50_000  # rows converted to arrays at a time: memory stays ~O(columns), not O(rows x objects)


def _stream_columns(s: Session, query: Any, kinds: dict[str, str]) -> dict[str, Any]:
    """A query's columns (named and typed by `kinds`, in order) as arrays (text columns as lists), streamed a
    chunk at a time (a server-side cursor on Postgres)."""
    chunks: dict[str, list[Any]] = {name: [] for name in kinds}
    result = s.execute(query.execution_options(yield_per=LOAD_CHUNK))
    for part in result.partitions():
        for name, column in zip(kinds, zip(*part, strict=True), strict=True):
            kind = kinds[name]
            if kind == "float":
                chunks[name].append(np.array([np.nan if v is None else v for v in column], dtype=np.float64))
            elif kind == "int":
                chunks[name].append(np.array([-1 if v is None else v for v in column], dtype=np.int64))
            else:
                chunks[name].extend(column)
    out: dict[str, Any] = {}
    for name, kind in kinds.items():
        if kind == "text":
            out[name] = chunks[name]
        else:
            dtype = np.float64 if kind == "float" else np.int64
            out[name] = np.concatenate(chunks[name]) if chunks[name] else np.empty(0, dtype=dtype)
    return out


def load_sample_arrays(url: str, sweep_id: str, probe: Probe) -> tuple[dict[str, Any], dict[str, list[Any]],
                                                                         dict[str, Any]]:
    """Column arrays of a sweep's samples ordered by index (the shared ones, then the probe's own), their error
    and text columns as lists, and the A/A noise scores by side.

    Rows are streamed and converted a chunk at a time: holding a 200,000-sample sweep as row objects cost the
    aggregation worker ~450 MB. The probe's table is read on its own, in index order, and aligned here: a
    join of two freshly filled tables got a nested loop from the planner (no statistics yet), quadratic in
    the sweep's size.
    """
    kinds = {"idx": "int", **dict.fromkeys(_FLOAT_COLUMNS, "float"), **dict.fromkeys(_INT_COLUMNS, "int"),
             **dict.fromkeys(_TEXT_COLUMNS, "text")}
    table = probe_table(probe)
    with transaction(url) as s:
        shared = _stream_columns(s, select(*(getattr(Sample, n) for n in kinds)).where(Sample.sweep_id == sweep_id)
                                 .order_by(Sample.idx), kinds)
        own: dict[str, Any] = {}
        if table is not None:
            if probe.name not in MIGRATED:
                ready_table(s.connection(), probe)
            own_kinds = {"idx": "int", **{c.name: c.kind for c in probe.columns}}
            own = _stream_columns(s, select(*(table.c[n] for n in own_kinds)).where(table.c.sweep_id == sweep_id)
                                  .order_by(table.c.idx), own_kinds)
        noise = s.execute(select(NoiseSample.side, NoiseSample.score).where(NoiseSample.sweep_id == sweep_id)).all()
    idx = shared.pop("idx")
    arrays: dict[str, Any] = {k: v for k, v in shared.items() if not isinstance(v, list)}
    texts: dict[str, list[Any]] = {k: v for k, v in shared.items() if isinstance(v, list)}
    if table is not None:
        where = np.searchsorted(idx, own["idx"])
        found = (where < idx.size) & (idx[np.minimum(where, max(idx.size - 1, 0))] == own["idx"]) if idx.size \
            else np.zeros(0, dtype=bool)
        for c in probe.columns:
            values = own[c.name]
            if c.kind == "text":
                column: list[Any] = [None] * idx.size
                for pos, value, ok in zip(where.tolist(), values, found.tolist(), strict=True):
                    if ok:
                        column[pos] = value
                texts[c.name] = column
            else:
                fill = np.full(idx.size, np.nan if c.kind == "float" else -1,
                               dtype=np.float64 if c.kind == "float" else np.int64)
                fill[where[found]] = np.asarray(values)[found]
                arrays[c.name] = fill
    by_side: dict[str, list[float]] = {"legacy": [], "candidate": []}
    for side, score in noise:
        if score is not None:
            by_side.setdefault(side, []).append(score)
    return arrays, texts, {k: np.array(v, dtype=np.float64) for k, v in by_side.items()}


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


def worst_samples(url: str, sweep_id: str, probe: Probe, k: int = 10) -> tuple[list[dict[str, Any]],
                                                                              list[dict[str, Any]]]:
    """The `k` lowest-score compared samples, and the first `k` samples with an error on either side, as
    dicts of the shared columns and the probe's own (looked up by index for those rows only)."""
    table = probe_table(probe)
    query = select(_table(Sample))
    with transaction(url) as s:
        lowest = [dict(r) for r in s.execute(query.where(Sample.sweep_id == sweep_id, Sample.score.is_not(None))
                                             .order_by(Sample.score, Sample.idx).limit(k)).mappings()]
        failed = [dict(r) for r in s.execute(query.where(
            Sample.sweep_id == sweep_id,
            (Sample.legacy_error.is_not(None)) | (Sample.candidate_error.is_not(None)),
        ).order_by(Sample.idx).limit(k)).mappings()]
        if table is not None:
            if probe.name not in MIGRATED:
                ready_table(s.connection(), probe)
            wanted = sorted({r["idx"] for r in lowest + failed})
            names = [c.name for c in probe.columns]
            own = {r["idx"]: dict(r) for r in s.execute(select(table.c.idx, *(table.c[n] for n in names)).where(
                table.c.sweep_id == sweep_id, table.c.idx.in_(wanted))).mappings()} if wanted else {}
            for row in lowest + failed:
                extra = own.get(row["idx"], {})
                row.update({n: extra.get(n) for n in names})
        return lowest, failed

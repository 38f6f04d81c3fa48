"""The schema. Migrations under `alembic/` create exactly this; constraint names come from the convention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, MetaData, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Gateway(Base):
    """A gateway as last seen by a sweep. `token_env` is the *name* of a variable, never a secret."""

    __tablename__ = "gateways"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(512))
    profile: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(128))
    token_env: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Sweep(Base):
    """One probe run over a corpus between two gateways."""

    __tablename__ = "sweeps"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    probe: Mapped[str] = mapped_column(String(32))
    legacy: Mapped[str] = mapped_column(String(64))
    candidate: Mapped[str] = mapped_column(String(64))
    legacy_url: Mapped[str] = mapped_column(String(512))
    candidate_url: Mapped[str] = mapped_column(String(512))
    legacy_profile: Mapped[str] = mapped_column(String(64))
    candidate_profile: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    corpus: Mapped[str] = mapped_column(String(512))
    mode: Mapped[str] = mapped_column(String(16), default="embedded")
    status: Mapped[str] = mapped_column(String(16), default="running")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    planned: Mapped[int | None] = mapped_column(Integer)
    batches_total: Mapped[int | None] = mapped_column(Integer)
    batches_done: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Sample(Base):
    """One input sent to both gateways and their comparison: what every probe has. `(sweep_id, idx)` makes
    writes idempotent; what a probe keeps besides lives in its own table (`farm.store.probe_tables`)."""

    __tablename__ = "samples"
    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer)
    input_sha: Mapped[str] = mapped_column(String(16))
    legacy_error: Mapped[str | None] = mapped_column(String(32))
    candidate_error: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    agreed: Mapped[bool | None] = mapped_column(Boolean)
    latency_legacy_ms: Mapped[float | None] = mapped_column(Float)
    latency_candidate_ms: Mapped[float | None] = mapped_column(Float)


class NoiseSample(Base):
    """A/A: an input asked twice of the same gateway (or of two legacy replicas); `score` is it against itself."""

    __tablename__ = "noise_samples"
    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(16), primary_key=True)
    score: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(32))


class Verdict(Base):
    __tablename__ = "verdicts"
    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    n: Mapped[int] = mapped_column(Integer)
    disagreements: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DriftFinding(Base):
    """One row of the wire-drift catalog: a difference an adapter must remap."""

    __tablename__ = "drift_findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    field: Mapped[str] = mapped_column(String(256))
    legacy: Mapped[str] = mapped_column(Text)
    candidate: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditBaseline(Base):
    """A baseline-log envelope mirrored from `audit_baselines.jsonl`; `line` keeps the exact bytes written."""

    __tablename__ = "audit_baselines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    log_path: Mapped[str] = mapped_column(String(1024), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    host: Mapped[str | None] = mapped_column(String(256))
    root: Mapped[str | None] = mapped_column(String(1024))
    implementation: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    line: Mapped[str] = mapped_column(Text)


class ScheduledRun(Base):
    """A beat fire, keyed by a deterministic run id, so a duplicate fire (two beats, a retry) is a no-op."""

    __tablename__ = "scheduled_runs"
    run_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="dispatched")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SideResult(Base):
    """One gateway's packed answer to one batch of a distributed sweep, kept until its twin arrives."""

    __tablename__ = "side_results"
    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(16), primary_key=True)
    worker: Mapped[str | None] = mapped_column(String(256))
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class PairedBatch(Base):
    """A batch whose two sides were compared and written; its primary key makes pairing exactly-once."""

    __tablename__ = "paired_batches"
    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    drift_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)

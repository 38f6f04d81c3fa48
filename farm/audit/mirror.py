"""The database mirror of baseline logs (table `audit_baselines`): every line of a log, its exact text in
`line`, ordered by `seq`, so `import_log` then `export_log` gives the file back byte for byte."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from farm.audit.baselines import BaselineEntry, load_log
from farm.errors import UsageError
from farm.store.db import transaction
from farm.store.models import AuditBaseline


def _row(log_path: str, entry: BaselineEntry) -> AuditBaseline:
    try:
        text = entry.raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{log_path}: line {entry.seq + 1} is not UTF-8 text") from None
    return AuditBaseline(
        log_path=log_path, seq=entry.seq, run_id=entry.run_id, host=entry.host, root=entry.root,
        implementation=entry.implementation, recorded_at=entry.recorded_at, metrics=entry.metrics, line=text,
    )


def mirror_entry(database_url: str, log_path: str, entry: BaselineEntry) -> bool:
    """Insert one appended entry; a run id already mirrored is left alone (returns False)."""
    with transaction(database_url) as session:
        if entry.run_id is not None and session.scalar(
            select(AuditBaseline.id).where(AuditBaseline.run_id == entry.run_id)
        ) is not None:
            return False
        session.add(_row(log_path, entry))
    return True


def import_log(database_url: str, file: str | Path, log_path: str | None = None) -> int:
    """Mirror every line of `file` under `log_path` (default: the file's absolute path), replacing what was
    mirrored there before. Returns the number of lines. A torn final line is not imported."""
    if not Path(file).is_file():
        raise UsageError(f"baseline log {str(file)!r} not found")
    log = load_log(file)
    key = log_path or str(Path(file).resolve())
    rows = [_row(key, e) for e in log.entries]
    run_ids = [r.run_id for r in rows if r.run_id is not None]
    if len(set(run_ids)) != len(run_ids):
        raise UsageError(f"{file}: the same run_id appears on more than one line")
    try:
        with transaction(database_url) as session:
            session.execute(delete(AuditBaseline).where(AuditBaseline.log_path == key))
            if run_ids:
                clash = session.execute(
                    select(AuditBaseline.run_id, AuditBaseline.log_path).where(AuditBaseline.run_id.in_(run_ids))
                ).first()
                if clash is not None:
                    raise UsageError(f"run_id {clash[0]!r} is already mirrored from log {clash[1]!r}")
            session.add_all(rows)
    except IntegrityError as exc:
        raise UsageError(f"cannot import {file}: {exc.orig}") from None
    return len(rows)


def mirrored_logs(database_url: str) -> list[str]:
    with transaction(database_url) as session:
        return sorted(session.scalars(select(AuditBaseline.log_path).distinct()))


def export_log(database_url: str, log_path: str | None = None) -> bytes:
    """The mirrored log's bytes, lines in `seq` order. Without `log_path`, the only log mirrored."""
    if log_path is None:
        logs = mirrored_logs(database_url)
        if not logs:
            raise UsageError("no baseline log is mirrored in this database")
        if len(logs) > 1:
            raise UsageError(f"several baseline logs are mirrored; pick one with --log-path: {', '.join(logs)}")
        log_path = logs[0]
    with transaction(database_url) as session:
        lines = list(session.scalars(
            select(AuditBaseline.line).where(AuditBaseline.log_path == log_path).order_by(AuditBaseline.seq)
        ))
    if not lines:
        raise UsageError(f"no baseline log mirrored under {log_path!r}")
    return "".join(lines).encode("utf-8")

"""The `audit_baselines` table: the database mirror of baseline logs, every line's exact text in `line`,
ordered by `seq` (0-based line index in the file). The file is the source of truth; `reconcile` makes the
mirror equal to it (`farm.audit.mirror` calls it under the log's lock, on every append and export)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from farm.errors import UsageError
from farm.store.db import transaction
from farm.store.models import AuditBaseline


@dataclass(frozen=True)
class MirrorLine:
    """One log line as the table holds it (plain data: the store knows nothing of the audit)."""

    seq: int
    line: str
    run_id: str | None = None
    host: str | None = None
    root: str | None = None
    implementation: str | None = None
    recorded_at: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reconciled:
    """What `reconcile` found and did: `before` rows were mirrored, `lines` are in the file."""

    before: int
    lines: int
    added: int
    rewritten: bool

    @property
    def changed(self) -> bool:
        return self.added > 0 or self.rewritten


def _row(log_path: str, line: MirrorLine, run_id: str | None) -> AuditBaseline:
    return AuditBaseline(
        log_path=log_path, seq=line.seq, run_id=run_id, host=line.host, root=line.root,
        implementation=line.implementation, recorded_at=line.recorded_at, metrics=line.metrics, line=line.line,
    )


def _taken(session: Session, run_ids: Sequence[str]) -> dict[str, str]:
    """run id -> log path, for the given run ids already in the table."""
    out: dict[str, str] = {}
    ids = list(dict.fromkeys(run_ids))
    for i in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[i:i + 500]
        for run_id, path in session.execute(
            select(AuditBaseline.run_id, AuditBaseline.log_path).where(AuditBaseline.run_id.in_(chunk))
        ):
            if run_id is not None:
                out[run_id] = path
    return out


def _insert(session: Session, log_path: str, lines: Sequence[MirrorLine]) -> None:
    """Insert lines; a run id already mirrored (another log, or an earlier line of this one) is stored as NULL
    on the later line: the line's bytes, what export gives back, are kept whole either way."""
    taken = set(_taken(session, [ln.run_id for ln in lines if ln.run_id is not None]))
    rows = []
    for ln in lines:
        run_id = ln.run_id if ln.run_id is not None and ln.run_id not in taken else None
        if run_id is not None:
            taken.add(run_id)
        rows.append(_row(log_path, ln, run_id))
    session.add_all(rows)


def reconcile(database_url: str, log_path: str, lines: Sequence[MirrorLine]) -> Reconciled:
    """Make the mirror of `log_path` equal to `lines` (the file): when what is mirrored is a prefix of the
    file, only the missing tail is inserted; otherwise (a line differs, extra rows) the log's rows are
    rewritten. One transaction; callers serialise on the log file's lock."""
    with transaction(database_url) as session:
        mirrored = [(seq, text) for seq, text in session.execute(
            select(AuditBaseline.seq, AuditBaseline.line).where(AuditBaseline.log_path == log_path)
            .order_by(AuditBaseline.seq, AuditBaseline.id)
        )]
        n = len(mirrored)
        prefix = n <= len(lines) and all(
            seq == i and text == lines[i].line for i, (seq, text) in enumerate(mirrored)
        )
        if prefix:
            if n < len(lines):
                _insert(session, log_path, lines[n:])
            return Reconciled(n, len(lines), len(lines) - n, False)
        session.execute(delete(AuditBaseline).where(AuditBaseline.log_path == log_path))
        session.flush()
        _insert(session, log_path, lines)
        return Reconciled(n, len(lines), len(lines), True)


def replace_log(database_url: str, log_path: str, lines: Sequence[MirrorLine]) -> int:
    """Mirror `lines` under `log_path`, replacing what was there; strict: a run id on two lines, or already
    mirrored from another log, is a `UsageError` (import of a foreign file)."""
    run_ids = [ln.run_id for ln in lines if ln.run_id is not None]
    if len(set(run_ids)) != len(run_ids):
        raise UsageError(f"{log_path}: the same run_id appears on more than one line")
    try:
        with transaction(database_url) as session:
            session.execute(delete(AuditBaseline).where(AuditBaseline.log_path == log_path))
            session.flush()
            clash = _taken(session, run_ids)
            if clash:
                run_id, other = next(iter(clash.items()))
                raise UsageError(f"run_id {run_id!r} is already mirrored from log {other!r}")
            session.add_all([_row(log_path, ln, ln.run_id) for ln in lines])
    except IntegrityError as exc:
        raise UsageError(f"cannot import {log_path}: {exc.orig}") from None
    return len(lines)


def mirrored_logs(database_url: str) -> list[str]:
    with transaction(database_url) as session:
        return sorted(session.scalars(select(AuditBaseline.log_path).distinct()))


def mirrored_lines(database_url: str, log_path: str) -> list[str]:
    """The mirrored lines of one log, in `seq` order."""
    with transaction(database_url) as session:
        return list(session.scalars(
            select(AuditBaseline.line).where(AuditBaseline.log_path == log_path)
            .order_by(AuditBaseline.seq, AuditBaseline.id)
        ))

"""Reads and writes of `scheduled_runs`: beat fires, fleet audits, their roots and phases.

Each row is keyed by a deterministic run id, so every write here is a claim: a duplicate fire, a redelivered
phase or a second assembler finds the row taken and does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update

from farm.errors import UsageError
from farm.store.db import transaction
from farm.store.models import ScheduledRun
from farm.store.sweeps import insert_ignore


def insert_rows_once(url: str, first: dict[str, Any], others: Sequence[dict[str, Any]] = ()) -> bool:
    """Insert `first` and then `others` in one transaction, unless `first` exists (then nothing); True when
    this call inserted `first`."""
    with transaction(url) as s:
        if insert_ignore(s, ScheduledRun, [first]) != 1:
            return False
        for row in others:
            insert_ignore(s, ScheduledRun, [row])
        return True


def transition(url: str, rid: str, from_status: Sequence[str], to_status: str) -> bool:
    """Move a row from one of `from_status` to `to_status`; True for exactly one caller."""
    with transaction(url) as s:
        result = cast(CursorResult[Any], s.execute(
            update(ScheduledRun).where(ScheduledRun.run_id == rid, ScheduledRun.status.in_(list(from_status)))
            .values(status=to_status)))
        return int(result.rowcount) == 1


def update_run(url: str, rid: str, status: str | None = None, **detail: Any) -> None:
    """Merge `detail` into the row's detail (and set its status); only the row's current owner calls this."""
    with transaction(url) as s:
        row = s.get(ScheduledRun, rid, with_for_update=True)
        if row is None:
            raise UsageError(f"no scheduled run {rid!r}")
        row.detail = {**(row.detail or {}), **detail}
        if status is not None:
            row.status = status


def get_run(url: str, rid: str) -> tuple[str, dict[str, Any]] | None:
    """(status, detail) of a scheduled run, or None."""
    with transaction(url) as s:
        row = s.get(ScheduledRun, rid)
        return None if row is None else (row.status, dict(row.detail or {}))


def insert_child(url: str, parent: str, row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Insert a child row (first write wins) under the schedule of `parent`; returns the parent's
    (schedule, detail)."""
    with transaction(url) as s:
        root = s.get(ScheduledRun, parent)
        if root is None:
            raise UsageError(f"no scheduled run {parent!r}")
        insert_ignore(s, ScheduledRun, [{**row, "schedule": root.schedule}])
        return root.schedule, dict(root.detail or {})


def count_children(url: str, prefix: str, kind: str, statuses: Sequence[str] | None = None) -> int:
    """Rows of `kind` whose run id starts with `prefix` (and whose status is one of `statuses`)."""
    with transaction(url) as s:
        query = select(func.count()).select_from(ScheduledRun).where(
            ScheduledRun.kind == kind, ScheduledRun.run_id.startswith(prefix, autoescape=True))
        if statuses is not None:
            query = query.where(ScheduledRun.status.in_(list(statuses)))
        return int(s.scalar(query) or 0)


def child_details(url: str, prefix: str, kind: str) -> list[dict[str, Any]]:
    with transaction(url) as s:
        rows = s.scalars(select(ScheduledRun).where(
            ScheduledRun.kind == kind, ScheduledRun.run_id.startswith(prefix, autoescape=True)))
        return [dict(r.detail or {}) for r in rows]

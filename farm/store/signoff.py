"""Reads for the sign-off and the parity log: every decided sweep of some probes, oldest first."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import select

from farm.store.db import transaction
from farm.store.models import Sweep, Verdict


def aware(when: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; the farm writes them in UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def sweep_time(sweep: Sweep) -> datetime:
    """When a sweep's verdict came: its finish (microseconds), else its start (SQLite's default has seconds)."""
    return aware(sweep.finished_at or sweep.created_at)


def decided_sweeps(url: str, probes: Collection[str]) -> list[tuple[Sweep, Verdict]]:
    """Sweeps of `probes` that have a verdict with it, in the order their verdicts came."""
    with transaction(url) as s:
        rows = s.execute(select(Sweep, Verdict).join(Verdict, Verdict.sweep_id == Sweep.id)
                         .where(Sweep.probe.in_(list(probes)))).all()
        pairs = [(sweep, verdict) for sweep, verdict in rows]
    return sorted(pairs, key=lambda p: (sweep_time(p[0]), aware(p[0].created_at), p[0].id))

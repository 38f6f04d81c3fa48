"""Reads for `farm ui`: a few columns of many rows, or aggregates, never a sweep's samples in bulk.

The board needs every decided sweep but only its identity and its verdict's headline numbers (bounds pulled
out of the verdict's JSON by the database), so it reads ~1,000 short rows however many samples there are; a
running sweep's progress is a count over its primary-key range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from farm.store.db import transaction
from farm.store.models import AuditBaseline, Sample, Sweep, Verdict
from farm.store.signoff import aware, sweep_time


def decided_headlines(url: str) -> list[tuple[Sweep, Verdict]]:
    """Every decided sweep with its verdict, oldest verdict first (the order `farm.store.signoff` uses), as
    detached objects holding only what the board shows: the verdict's `detail` keeps just `lower` and `upper`."""
    lower = Verdict.detail["lower"].as_float()
    upper = Verdict.detail["upper"].as_float()
    query = (select(Sweep.id, Sweep.probe, Sweep.legacy, Sweep.candidate, Sweep.legacy_url, Sweep.candidate_url,
                    Sweep.model, Sweep.mode, Sweep.status, Sweep.created_at, Sweep.finished_at,
                    Verdict.outcome, Verdict.reason, Verdict.n, Verdict.disagreements, Verdict.errors,
                    lower.label("lower"), upper.label("upper"))
             .join(Verdict, Verdict.sweep_id == Sweep.id))
    with transaction(url) as s:
        rows = s.execute(query).all()
    pairs = []
    for r in rows:
        sweep = Sweep(id=r.id, probe=r.probe, legacy=r.legacy, candidate=r.candidate, legacy_url=r.legacy_url,
                      candidate_url=r.candidate_url, model=r.model, mode=r.mode, status=r.status,
                      created_at=r.created_at, finished_at=r.finished_at, params={})
        verdict = Verdict(sweep_id=r.id, outcome=r.outcome, reason=r.reason, n=r.n, disagreements=r.disagreements,
                          errors=r.errors, detail={"lower": r.lower, "upper": r.upper})
        pairs.append((sweep, verdict))
    return sorted(pairs, key=lambda p: (sweep_time(p[0]), aware(p[0].created_at), p[0].id))


@dataclass(frozen=True)
class Progress:
    """Where a sweep stands now: what its samples say so far (for a running one), from one aggregate query."""

    sweep_id: str
    status: str
    planned: int | None
    batches_done: int
    batches_total: int | None
    samples: int
    compared: int  # samples with a score and no error on either side
    disagreements: int
    errors: int


def progress(url: str, sweep_ids: list[str]) -> dict[str, Progress]:
    """The progress of these sweeps (unknown ids are left out)."""
    if not sweep_ids:
        return {}
    compared = (Sample.score.is_not(None)) & Sample.legacy_error.is_(None) & Sample.candidate_error.is_(None)
    failed = Sample.legacy_error.is_not(None) | Sample.candidate_error.is_not(None)
    with transaction(url) as s:
        heads = s.execute(select(Sweep.id, Sweep.status, Sweep.planned, Sweep.batches_done, Sweep.batches_total)
                          .where(Sweep.id.in_(sweep_ids))).all()
        counts = {r[0]: r[1:] for r in s.execute(
            select(Sample.sweep_id, func.count(),
                   func.coalesce(func.sum(case((compared, 1), else_=0)), 0),
                   func.coalesce(func.sum(case((compared & Sample.agreed.is_(False), 1), else_=0)), 0),
                   func.coalesce(func.sum(case((failed, 1), else_=0)), 0))
            .where(Sample.sweep_id.in_(sweep_ids)).group_by(Sample.sweep_id)).all()}
    out = {}
    for sid, status, planned, done, total in heads:
        n, comp, dis, err = counts.get(sid, (0, 0, 0, 0))
        out[sid] = Progress(sid, str(status), planned, int(done or 0), total, int(n), int(comp), int(dis), int(err))
    return out


def running_sweeps(url: str, limit: int = 50) -> list[Sweep]:
    """Sweeps still running, newest first."""
    with transaction(url) as s:
        return list(s.scalars(select(Sweep).where(Sweep.status == "running").order_by(Sweep.created_at.desc())
                              .limit(limit)))


def sweep_params(url: str, sweep_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The parameters of these sweeps (what a page needs of the ones it links to)."""
    with transaction(url) as s:
        return {sid: params or {} for sid, params in s.execute(select(Sweep.id, Sweep.params)
                                                               .where(Sweep.id.in_(sweep_ids)))}


@dataclass(frozen=True)
class BaselineEntry:
    log_path: str
    seq: int
    run_id: str | None
    host: str | None
    root: str | None
    implementation: str | None
    recorded_at: str | None
    metrics: dict[str, Any]


def _entry(row: AuditBaseline) -> BaselineEntry:
    return BaselineEntry(row.log_path, row.seq, row.run_id, row.host, row.root, row.implementation,
                         row.recorded_at, dict(row.metrics or {}))


def latest_audits(url: str) -> list[BaselineEntry]:
    """The latest mirrored baseline entry of each audited root (the highest `seq` of its log, the latest log)."""
    latest = (select(AuditBaseline.root, func.max(AuditBaseline.id).label("id"))
              .group_by(AuditBaseline.root).subquery())
    with transaction(url) as s:
        rows = s.scalars(select(AuditBaseline).join(latest, AuditBaseline.id == latest.c.id)
                         .order_by(AuditBaseline.root)).all()
        return [_entry(r) for r in rows]


def baseline_history(url: str, log_path: str, limit: int = 200) -> list[BaselineEntry]:
    """A baseline log's latest `limit` entries, oldest first (what its drift table is judged against)."""
    with transaction(url) as s:
        rows = s.scalars(select(AuditBaseline).where(AuditBaseline.log_path == log_path)
                         .order_by(AuditBaseline.seq.desc(), AuditBaseline.id.desc()).limit(limit)).all()
        return [_entry(r) for r in reversed(rows)]

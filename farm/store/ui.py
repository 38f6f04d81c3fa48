"""Reads for `farm ui`: a few columns of many rows, or aggregates, never a sweep's samples in bulk.

The board needs every decided sweep but only its identity and its verdict's headline numbers (bounds pulled
out of the verdict's JSON by the database), so it reads ~1,000 short rows however many samples there are; a
running sweep's progress is a count over its primary-key range.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Text, case, cast, func, null, select
from sqlalchemy.orm import load_only
from sqlalchemy.orm.attributes import set_committed_value

from farm.store.db import transaction
from farm.store.models import AuditBaseline, Sample, Sweep, Verdict
from farm.store.signoff import aware, sweep_time

_HEAD = (Sweep.id, Sweep.probe, Sweep.legacy, Sweep.candidate, Sweep.legacy_url, Sweep.candidate_url, Sweep.status,
         Sweep.created_at, Sweep.finished_at)


def _decided(url: str, probes: Collection[str] | None, with_params: bool) -> list[tuple[Sweep, Verdict]]:
    """Decided sweeps with their verdicts, oldest verdict first (`farm.store.signoff.decided_sweeps`' order),
    loaded with only some attributes: the rest raise if touched (the objects come back detached). JSON comes
    as its stored text, parsed here: orjson reads 1,000 documents in a few ms, where the database's JSON
    operators re-parse each one per key (~50 ms for two keys of 1,000 verdicts on Postgres)."""
    query = (select(Sweep, Verdict, cast(Verdict.detail, Text), cast(Sweep.params, Text) if with_params else null())
             .join(Verdict, Verdict.sweep_id == Sweep.id)
             .options(load_only(*_HEAD, raiseload=True),
                      load_only(Verdict.sweep_id, Verdict.outcome, Verdict.reason, Verdict.n, Verdict.disagreements,
                                Verdict.errors, raiseload=True)))
    if probes is not None:
        query = query.where(Sweep.probe.in_(list(probes)))
    pairs = []
    with transaction(url) as s:
        for sweep, verdict, detail_text, params_text in s.execute(query):
            detail = orjson.loads(detail_text) if detail_text else {}
            kept = {k: detail.get(k) for k in ("lower", "upper", "params")}
            set_committed_value(verdict, "detail", kept)
            if with_params:
                set_committed_value(sweep, "params", orjson.loads(params_text) if params_text else {})
            pairs.append((sweep, verdict))
    return sorted(pairs, key=lambda p: (sweep_time(p[0]), aware(p[0].created_at), p[0].id))


def decided_headlines(url: str) -> list[tuple[Sweep, Verdict]]:
    """Every decided sweep and its verdict as the board shows them: identity, times, the verdict's outcome, n,
    and of its `detail` only `lower`, `upper` and `params`."""
    return _decided(url, None, with_params=False)


def decided_for_signoff(url: str, probes: Collection[str] | None = None) -> list[tuple[Sweep, Verdict]]:
    """`farm.store.signoff.decided_sweeps` (of every probe when `probes` is None) with only what the board and
    `farm.signoff.evaluate` read: `decided_headlines`' attributes and the sweeps' parameters."""
    return _decided(url, probes, with_params=True)


def verdicts_version(url: str) -> tuple[str, ...]:
    """What changes whenever the decided sweeps do: the number of verdicts, the latest one's time, the samples
    they judged (a verdict re-finalised or continued is written anew; a sweep deleted takes its verdict along),
    and the latest finish (microseconds, where SQLite's own timestamps have seconds). Two aggregates over
    short tables."""
    with transaction(url) as s:
        count, latest, n = s.execute(select(func.count(), func.max(Verdict.created_at), func.sum(Verdict.n))).one()
        finished = s.scalar(select(func.max(Sweep.finished_at)))
    return str(count), str(latest), str(n), str(finished)


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

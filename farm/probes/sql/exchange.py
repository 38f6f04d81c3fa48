"""The sql probe's exchange: one statement per request (the wire takes one), a batch's statements a few at a time,
each through the send path (farm.gateway.send: retries, deadline, size cap, body classes).

A statement the engine refuses (HTTP 4xx with an error body) is a result, compared like any other: both engines
refusing agree, one refusing is `error_one_side`. Transport and body failures (5xx and 429 after retries,
timeouts, a deadline passed, a body over the cap or not JSON, another shape) are the shared error classes of that
statement's sample.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from farm.gateway.client import PER_BATCH_REQUESTS, worker_header
from farm.gateway.errors import CONNECTION, HTTP_STATUS, MALFORMED
from farm.gateway.send import send
from farm.probes.sql.profile import SqlProfile
from farm.profiles import get_path
from farm.wire import MalformedBody, Request, RetryPolicy, SideResult, Target

DOC_ROWS = 20  # rows of the first response kept for the drift catalog (its structure, not its size)
EXCHANGE_ROWS = 5  # rows of every statement's response the catalog diffs (all of them are: keep each small)


def _trim(doc: Any, profile: SqlProfile, keep: int = DOC_ROWS) -> Any:
    """The document with its first `keep` rows: the containers on the way to the rows copied, nothing else."""
    rows = get_path(doc, profile.rows_path) if isinstance(doc, dict) else None
    if not isinstance(rows, list) or len(rows) <= keep:
        return doc
    *parents, leaf = profile.rows_path.split(".")
    top = holder = dict(doc)
    for key in parents:
        holder[key] = dict(holder[key])
        holder = holder[key]
    holder[leaf] = rows[:keep]
    return top


async def _one(client: httpx.AsyncClient, target: Target, profile: SqlProfile, sql: str, policy: RetryPolicy,
               headers: dict[str, str], max_rows: int) -> tuple[dict[str, Any], str | None, float, int, Any]:
    """(value, error class, latency ms, attempts, response document) of one statement."""
    resp = await send(client, target, Request(profile.method, target.endpoint, headers,
                                              json=profile.build_request(sql), accepts=("json",), decode=True), policy)
    if resp.error is not None or resp.status is None:
        return {"sql": sql}, resp.error or CONNECTION, resp.latency_ms, resp.attempts, None
    doc = resp.doc
    if resp.status >= 400:
        if doc is None:
            return {"sql": sql}, HTTP_STATUS, resp.latency_ms, resp.attempts, None
        message = get_path(doc, profile.error_path) if isinstance(doc, dict) else None
        return ({"sql": sql, "error": True, "status": resp.status, "message": str(message or doc)}, None,
                resp.latency_ms, resp.attempts, doc)
    try:
        return {"sql": sql, **profile.parse(doc, max_rows)}, None, resp.latency_ms, resp.attempts, doc
    except MalformedBody:
        return {"sql": sql}, MALFORMED, resp.latency_ms, resp.attempts, doc


async def exchange(client: httpx.AsyncClient, target: Target, items: Sequence[Any], policy: RetryPolicy,
                   worker: str | None, options: Mapping[str, Any]) -> SideResult:
    """A batch's statements, PER_BATCH_REQUESTS at a time (the engine's lanes bound the batches in flight)."""
    profile = target.profile
    assert isinstance(profile, SqlProfile)
    headers = worker_header(worker)
    max_rows = int(options.get("max_rows") or 10_000)
    gate = asyncio.Semaphore(PER_BATCH_REQUESTS)

    async def one(sql: str) -> tuple[dict[str, Any], str | None, float, int, Any]:
        async with gate:
            return await _one(client, target, profile, sql, policy, headers, max_rows)

    answers = await asyncio.gather(*(one(str(sql)) for sql in items))
    values = [a[0] for a in answers]
    exchanges: list[tuple[dict[str, Any], Any, bool] | None] = [
        (profile.build_request(str(sql)), _trim(a[4], profile, EXCHANGE_ROWS), "error" in a[0])
        if a[4] is not None and a[1] is None else None
        for sql, a in zip(items, answers, strict=True)]
    first = answers[0] if answers else None
    return SideResult(values, [a[1] for a in answers], 200 if all(a[1] is None for a in answers) else None,
                      statistics.fmean(a[2] for a in answers) if answers else 0.0,
                      max((a[3] for a in answers), default=1),
                      profile.build_request(str(items[0])) if items else {},
                      _trim(first[4], profile) if first is not None and first[1] is None and "error" not in first[0]
                      else None,
                      [a[2] for a in answers], exchanges)  # each statement its own request: its own latency

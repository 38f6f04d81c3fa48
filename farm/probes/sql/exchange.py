"""The sql probe's exchange: one statement per request (the wire takes one), a batch's statements in turn.

A statement the engine refuses (HTTP 4xx with an error body) is a result, compared like any other: both engines
refusing agree, one refusing is `error_one_side`. Transport failures (5xx and 429 after retries, timeouts,
connection errors, another shape) are the shared error classes of that statement's sample.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from farm.gateway.client import RetryPolicy, Target, request_headers
from farm.gateway.errors import CONNECTION, HTTP_STATUS, MALFORMED, TIMEOUT
from farm.probes.base import MalformedBody, SideResult
from farm.probes.sql.profile import SqlProfile
from farm.profiles import get_path

DOC_ROWS = 20  # rows of the first response kept for the drift catalog (its structure, not its size)


def _trim(doc: Any, profile: SqlProfile) -> Any:
    rows = get_path(doc, profile.rows_path) if isinstance(doc, dict) else None
    if isinstance(rows, list) and len(rows) > DOC_ROWS:
        doc = orjson.loads(orjson.dumps(doc))
        parent, _, leaf = profile.rows_path.rpartition(".")
        holder = get_path(doc, parent) if parent else doc
        holder[leaf] = rows[:DOC_ROWS]
    return doc


async def _one(client: httpx.AsyncClient, target: Target, profile: SqlProfile, sql: str, policy: RetryPolicy,
               headers: dict[str, str], max_rows: int) -> tuple[dict[str, Any], str | None, float, int, Any]:
    """(value, error class, latency ms, attempts, response document) of one statement."""
    payload = orjson.dumps(profile.build_request(sql))
    error: str | None = CONNECTION
    latency = 0.0
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        try:
            resp = await client.post(target.endpoint, content=payload, headers=headers, timeout=policy.timeout)
        except httpx.TimeoutException:
            error = TIMEOUT
        except httpx.TransportError:
            error = CONNECTION
        else:
            latency = (time.perf_counter() - start) * 1000.0
            status = resp.status_code
            if status >= 500 or status == 429:
                error = HTTP_STATUS
            else:
                try:
                    doc = orjson.loads(resp.content)
                except orjson.JSONDecodeError:
                    return {"sql": sql}, MALFORMED if status < 400 else HTTP_STATUS, latency, attempt + 1, None
                if status >= 400:
                    message = get_path(doc, profile.error_path) if isinstance(doc, dict) else None
                    return ({"sql": sql, "error": True, "status": status, "message": str(message or doc)}, None,
                            latency, attempt + 1, doc)
                try:
                    return {"sql": sql, **profile.parse(doc, max_rows)}, None, latency, attempt + 1, doc
                except MalformedBody:
                    return {"sql": sql}, MALFORMED, latency, attempt + 1, doc
        latency = (time.perf_counter() - start) * 1000.0
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    return {"sql": sql}, error, latency, policy.attempts, None


async def exchange(client: httpx.AsyncClient, target: Target, items: Sequence[Any], policy: RetryPolicy,
                   worker: str | None, options: Mapping[str, Any]) -> SideResult:
    profile = target.profile
    assert isinstance(profile, SqlProfile)
    headers = request_headers(target, worker)
    max_rows = int(options.get("max_rows") or 10_000)
    answers = [await _one(client, target, profile, str(sql), policy, headers, max_rows) for sql in items]
    values = [a[0] for a in answers]
    first_doc = answers[0][4] if answers else None
    return SideResult(values, [a[1] for a in answers], 200 if all(a[1] is None for a in answers) else None,
                      statistics.fmean(a[2] for a in answers) if answers else 0.0,
                      max((a[3] for a in answers), default=1),
                      profile.build_request(str(items[0])) if items else {},
                      _trim(first_doc, profile) if answers and answers[0][1] is None and "error" not in values[0]
                      else None, latencies_ms=[a[2] for a in answers])  # each statement its own request

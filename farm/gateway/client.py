"""Calling a gateway: one batch (one request, or one per input, or the probe's own exchange), every request through
the send path (farm.gateway.send: retries, timeouts, deadline, size cap, body classes, the token).

A failure never raises out of `call_gateway`: it comes back as an error class on each sample of the batch
(`farm.gateway.errors`), so a sweep always finishes with its errors counted. The probe builds the request and
parses the answer. Streamed answers (`Probe.streams`) are read here piece by piece, timed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from farm.gateway.errors import CONNECTION, DEADLINE, HTTP_STATUS, MALFORMED, TIMEOUT
from farm.gateway.send import auth_headers, make_client, retry_after, send
from farm.wire import MAX_BODY_BYTES, MalformedBody, Request, RetryPolicy, SideResult, Target
from farm.wire import WireProbe as Probe

__all__ = ["MAX_BODY_BYTES", "RetryPolicy", "SideResult", "Target", "call_gateway", "make_client", "post_batch",
           "request_headers", "retry_after"]


def request_headers(target: Target, worker: str | None) -> dict[str, str]:
    """JSON content type, the gateway's token (read from this process's environment) and the worker."""
    return {"content-type": "application/json", **auth_headers(target), **worker_header(worker)}


def worker_header(worker: str | None) -> dict[str, str]:
    """Which worker sent a request (gateways log it); nothing when unnamed."""
    return {"x-farm-worker": worker} if worker else {}


async def call_gateway(client: httpx.AsyncClient, probe: Probe, target: Target, items: Sequence[Any],
                       model: str | None, policy: RetryPolicy, worker: str | None = None,
                       options: Mapping[str, Any] | None = None) -> SideResult:
    """One batch with `target`: the probe's own exchange if it has one; else one JSON POST per batch
    (`post_batch`), or, for a probe whose endpoint takes one input per request (`batched = False`), one request
    per item, sent one after another (so `--concurrency` still bounds the requests in flight per gateway: a
    batch's items sent at once would queue in the connection pool, whose bookkeeping grows with the queue),
    joined into one result."""
    own = await probe.exchange(client, target, items, model, policy, worker, options or {})
    if own is not None:
        return own
    if not probe.batched:
        parts = [await post_batch(client, probe, target, [item], model, policy, worker, options) for item in items]
        return _join(parts)
    return await post_batch(client, probe, target, items, model, policy, worker, options)


ERROR_BODY_BYTES = 200  # bytes of an error answer's body shown in a stop reason


def http_detail(status: int, content: bytes, headers: Mapping[str, str]) -> str:
    """`HTTP 404: {"error":"model not found"}`: the status and the body's first bytes on one line, the request's
    own token (if the gateway echoed it) masked."""
    text = " ".join(content[:ERROR_BODY_BYTES].decode(errors="replace").split())
    auth = headers.get("authorization", "")
    token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
    if token:
        text = text.replace(token, "***")
    more = "..." if len(content) > ERROR_BODY_BYTES else ""
    return f"HTTP {status}: {text}{more}" if text else f"HTTP {status}"


async def _head(resp: httpx.Response) -> bytes:
    """The first bytes of an error answer (enough for `http_detail`), not a whole stream."""
    out = b""
    async for chunk in resp.aiter_bytes():
        out += chunk
        if len(out) > ERROR_BODY_BYTES:
            break
    return out


def first_detail(parts: Sequence[SideResult]) -> str | None:
    return next((p.detail for p in parts if p.detail), None)


def _join(parts: Sequence[SideResult]) -> SideResult:
    """One item per request, joined: the value lists each item's parsed value (None where it failed), the
    latency is the mean per request (each item's own in `latencies_ms`), the status the first failing one; the
    first item's request and response stand for the batch, and every item's are in `exchanges` (the drift
    catalog reads them all)."""
    values = [p.value[0] if p.value is not None and len(p.value) == 1 else None for p in parts]
    errors = [p.errors[0] for p in parts]
    failing = [p.status for p in parts if p.errors[0] is not None]
    first = parts[0] if parts else None
    return SideResult(values, errors, failing[0] if failing else (first.status if first else None),
                      sum(p.latency_ms for p in parts) / max(1, len(parts)),
                      max((p.attempts for p in parts), default=0),
                      first.request if first else {}, first.response if first else None,
                      [p.latency_ms for p in parts],
                      [(p.request, p.response, False) if p.response is not None else None for p in parts],
                      detail=first_detail(parts))


async def post_batch(client: httpx.AsyncClient, probe: Probe, target: Target, items: Sequence[Any],
                     model: str | None, policy: RetryPolicy, worker: str | None = None,
                     options: Mapping[str, Any] | None = None) -> SideResult:
    """Send one batch to `target` as JSON POSTs: the probe's `requests` (one for the batch by default, or one
    per input, a few at a time), combined; retry 5xx, 429, timeouts and connection errors; classify what is
    left."""
    opts = options or {}
    requests = probe.requests(target.profile, items, model, opts)
    headers = request_headers(target, worker)
    if len(requests) == 1:
        body, n = requests[0]
        return probe.combine(target.profile, items, [await _send(client, probe, target, body, n, policy, headers)],
                             opts)
    gate = asyncio.Semaphore(PER_BATCH_REQUESTS)

    async def one(body: dict[str, Any], n: int) -> SideResult:
        async with gate:
            return await _send(client, probe, target, body, n, policy, headers)

    parts = list(await asyncio.gather(*(one(body, n) for body, n in requests)))
    return probe.combine(target.profile, items, parts, opts)


# Requests of one batch in flight at once, for probes taking one input per request (the engine's lanes
# multiply it: --concurrency 8 means up to 32 requests per gateway).
PER_BATCH_REQUESTS = 4


async def _send(client: httpx.AsyncClient, probe: Probe, target: Target, body: dict[str, Any], n: int,
                policy: RetryPolicy, headers: dict[str, str]) -> SideResult:
    """One request of a batch, answering `n` inputs, through the send path; its answer parsed by the probe."""
    if probe.streams(target.profile, body):
        return await _send_stream(client, probe, target, body, orjson.dumps(body), n, policy, headers)
    resp = await send(client, target, Request(target.profile.method, target.endpoint, headers, json=body,
                                              accepts=probe.accepts, decode=True), policy)
    failed = resp.error or (HTTP_STATUS if resp.status is not None and resp.status >= 400 else None)
    if failed is not None:
        detail = (http_detail(resp.status, resp.content or b"", {**headers, **auth_headers(target)})
                  if failed == HTTP_STATUS and resp.status is not None else None)
        return SideResult(None, [failed] * n, resp.status, resp.latency_ms, resp.attempts, body, detail=detail)
    try:
        value, errors = probe.parse_response(target.profile, resp.doc, n)
    except MalformedBody:
        return SideResult(None, [MALFORMED] * n, resp.status, resp.latency_ms, resp.attempts, body)
    return SideResult(value, errors, resp.status, resp.latency_ms, resp.attempts, body, resp.doc,
                      detail=_parsed_detail(probe, target, value, errors))


def _parsed_detail(probe: Probe, target: Target, value: Any, errors: Sequence[str | None]) -> str | None:
    return probe.error_detail(target.profile, value, errors) if any(e is not None for e in errors) else None


async def _send_stream(client: httpx.AsyncClient, probe: Probe, target: Target, body: dict[str, Any],
                       payload: bytes, n: int, policy: RetryPolicy, headers: dict[str, str]) -> SideResult:
    """A streamed request: read piece by piece, timed (`_stream`); retried while nothing arrived."""
    error, status, detail = CONNECTION, None, None
    start = time.perf_counter()
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        detail = None
        try:
            async with asyncio.timeout(policy.request_deadline):
                outcome = await _stream(client, probe, target, payload, headers, policy, n, start, attempt, body)
            if outcome is not None:
                return outcome
            error, status = CONNECTION, None  # a stream that broke before its first byte
        except _Retryable as exc:
            error, status, detail = exc.error, exc.status, exc.detail
        except TimeoutError:
            error, status = DEADLINE, None
        except httpx.TimeoutException:
            error, status = TIMEOUT, None
        except httpx.TransportError:
            error, status = CONNECTION, None
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    latency = (time.perf_counter() - start) * 1000.0
    return SideResult(None, [error] * n, status, latency, policy.attempts, body, detail=detail)


class _Retryable(Exception):
    def __init__(self, error: str, status: int | None, detail: str | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.detail = error, status, detail


async def _stream(client: httpx.AsyncClient, probe: Probe, target: Target, payload: bytes,
                  headers: dict[str, str], policy: RetryPolicy, n: int, start: float, attempt: int,
                  body: dict[str, Any]) -> SideResult | None:
    """A streamed answer read piece by piece with arrival times. A stream that breaks after its status line is
    the probe's to classify (e.g. cut off mid-answer), not retried; None when nothing arrived at all."""
    pieces: list[tuple[float, bytes]] = []
    complete = True
    sent = [start]

    async def trace(event: str, info: dict[str, Any]) -> None:
        # Piece times count from when the request went out, not from when it started waiting for a connection.
        if event == "http11.send_request_headers.started":
            sent[0] = time.perf_counter()

    async with client.stream(target.profile.method, target.endpoint, content=payload, headers=headers,
                             timeout=policy.timeout, extensions={"trace": trace}) as resp:
        status = resp.status_code
        if status >= 400:
            content = await _head(resp)
            if status >= 500 or status == 429:
                raise _Retryable(HTTP_STATUS, status, http_detail(status, content, headers))
            return SideResult(None, [HTTP_STATUS] * n, status, (time.perf_counter() - start) * 1000.0, attempt + 1,
                              body, detail=http_detail(status, content, headers))
        try:
            async for chunk in resp.aiter_raw():
                pieces.append(((time.perf_counter() - sent[0]) * 1000.0, chunk))
        except httpx.TimeoutException:
            if not pieces:
                raise
            complete = False
        except httpx.TransportError:
            if not pieces:
                return None
            complete = False
    latency = (time.perf_counter() - start) * 1000.0
    try:
        value, errors, doc = probe.parse_stream(target.profile, pieces, complete, n)
    except MalformedBody:
        return SideResult(None, [MALFORMED] * n, status, latency, attempt + 1, body)
    return SideResult(value, errors, status, latency, attempt + 1, body, doc,
                      detail=_parsed_detail(probe, target, value, errors))

"""Calling a gateway: one batch (one request, or one per input, or the probe's own exchange), retried on 5xx, 429
and transport faults, every failure classified.

A failure never raises out of `call_gateway`: it comes back as an error class on each sample of the batch
(`farm.gateway.errors`), so a sweep always finishes with its errors counted. Each attempt has a per-read
timeout and a whole-request deadline (a body that drips in a byte a second never trips a read timeout), and
the body is read with a size cap. 429 and 503 honour `Retry-After` up to a cap. The probe builds the request
and parses the answer; the gateway token is read here, from this process's environment, and goes nowhere but
the request header.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import os
import random
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from farm.gateway.body import BodyFault, check_content_type, decode_json
from farm.gateway.errors import CONNECTION, DEADLINE, HTTP_STATUS, MALFORMED, RESET, RETRIED, TIMEOUT, TOO_LARGE
from farm.probes.base import MalformedBody, Probe, Profile, SideResult

__all__ = ["RetryPolicy", "SideResult", "Target", "call_gateway", "make_client", "post_batch", "request_headers",
           "retry_after"]

MAX_BODY_BYTES = 64 * 2**20  # 64 MiB: a batch of 32 x 4,096 floats as JSON is about 3 MB


@dataclass(frozen=True)
class Target:
    """A gateway as the client sees it. `token_env` is the variable to read the token from, if any."""

    name: str
    url: str
    profile: Profile
    token_env: str | None = None

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + self.profile.path


@dataclass(frozen=True)
class RetryPolicy:
    """How one batch is asked: `attempts` in all, `timeout` per read (and connect), `deadline` per attempt in
    all (default twice the timeout), `max_body_bytes` per answer, `retry_after_max` the longest Retry-After
    honoured (seconds)."""

    attempts: int = 4
    backoff: float = 0.05
    backoff_max: float = 2.0
    timeout: float = 30.0
    deadline: float | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    retry_after_max: float = 30.0

    @property
    def request_deadline(self) -> float:
        return self.deadline if self.deadline is not None else 2 * self.timeout

    def delay(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads retries of many batches hitting one sick gateway.
        return random.uniform(0, min(self.backoff_max, self.backoff * 2**attempt))


def retry_after(value: str | None, cap: float, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date), at most `cap`; None when
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(cap, seconds))


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~60 ms of CPU), and workers make a client
    per thread."""
    return httpx.create_ssl_context()


def make_client(concurrency: int, timeout: float) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                             verify=_tls())


def request_headers(target: Target, worker: str | None) -> dict[str, str]:
    """JSON content type, the gateway's token (read here from this process's environment) and the worker."""
    headers = {"content-type": "application/json"}
    token = os.environ.get(target.token_env) if target.token_env else None
    if token:
        headers["authorization"] = f"Bearer {token}"
    if worker:
        headers["x-farm-worker"] = worker
    return headers


@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    content: bytes


class _Fault(Exception):
    def __init__(self, error: str, status: int | None = None) -> None:
        super().__init__(error)
        self.error, self.status = error, status


async def _fetch(client: httpx.AsyncClient, target: Target, payload: bytes, headers: dict[str, str],
                 policy: RetryPolicy) -> _Answer:
    """One attempt: the whole answer within the deadline and the size cap, or a `_Fault`."""
    began = False  # the answer's head arrived: a transport error after it cut the body short
    status: int | None = None
    try:
        async with asyncio.timeout(policy.request_deadline):
            async with client.stream(target.profile.method, target.endpoint, content=payload, headers=headers,
                                     timeout=policy.timeout) as resp:
                began, status = True, resp.status_code
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > policy.max_body_bytes:
                    raise _Fault(TOO_LARGE, status)
                if declared.isdigit() and "content-encoding" not in resp.headers:
                    # The usual answer: its size is known and within the cap, read it in one go.
                    return _Answer(status, resp.headers, await resp.aread())
                chunks, size = [], 0  # no length, or compressed: count what is decoded, stop at the cap
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > policy.max_body_bytes:
                        raise _Fault(TOO_LARGE, status)
                    chunks.append(chunk)
                return _Answer(status, resp.headers, b"".join(chunks))
    except TimeoutError:
        raise _Fault(DEADLINE, status) from None
    except httpx.TimeoutException:
        raise _Fault(TIMEOUT, status) from None
    except httpx.TransportError:  # also a broken gzip stream or a bad chunk size (DecodingError is one too)
        raise _Fault(RESET if began else CONNECTION, status) from None
    except httpx.HTTPError:  # an invalid URL or header value: the farm's configuration, same every time
        raise _Fault(CONNECTION, status) from None


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
    first item's request and response stand for the batch (what the drift catalog reads)."""
    values = [p.value[0] if p.value is not None and len(p.value) == 1 else None for p in parts]
    errors = [p.errors[0] for p in parts]
    failing = [p.status for p in parts if p.errors[0] is not None]
    first = parts[0] if parts else None
    return SideResult(values, errors, failing[0] if failing else (first.status if first else None),
                      sum(p.latency_ms for p in parts) / max(1, len(parts)),
                      max((p.attempts for p in parts), default=0),
                      first.request if first else {}, first.response if first else None,
                      [p.latency_ms for p in parts], first_detail(parts))


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
    """One request of a batch, answering `n` inputs: retried on 5xx, 429 and transport faults; classified."""
    payload = orjson.dumps(body)
    if probe.streams(target.profile, body):
        return await _send_stream(client, probe, target, body, payload, n, policy, headers)
    error, status, detail = CONNECTION, None, None
    start = time.perf_counter()
    attempt = 0
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        wait: float | None = None
        try:
            answer = await _fetch(client, target, payload, headers, policy)
        except _Fault as fault:
            error, status = fault.error, fault.status
        else:
            latency = (time.perf_counter() - start) * 1000.0
            status = answer.status
            if status >= 500 or status == 429:
                error, detail = HTTP_STATUS, http_detail(status, answer.content, headers)
                if status in (429, 503):
                    wait = retry_after(answer.headers.get("retry-after"), policy.retry_after_max)
            elif status >= 400:
                return SideResult(None, [HTTP_STATUS] * n, status, latency, attempt + 1, body,
                                  detail=http_detail(status, answer.content, headers))
            else:
                try:
                    check_content_type(answer.headers.get("content-type"), probe.accepts)
                    doc = decode_json(answer.content)
                    value, errors = probe.parse_response(target.profile, doc, n)
                except BodyFault as fault:
                    error = fault.error
                    if error not in RETRIED or attempt + 1 == policy.attempts:
                        return SideResult(None, [error] * n, status, latency, attempt + 1, body)
                except MalformedBody:
                    return SideResult(None, [MALFORMED] * n, status, latency, attempt + 1, body)
                else:
                    return SideResult(value, errors, status, latency, attempt + 1, body, doc,
                                      detail=_parsed_detail(probe, target, value, errors))
        if error not in RETRIED:
            break
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt) if wait is None else wait)
    latency = (time.perf_counter() - start) * 1000.0
    return SideResult(None, [error] * n, status, latency, attempt + 1, body,
                      detail=detail if error == HTTP_STATUS else None)


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

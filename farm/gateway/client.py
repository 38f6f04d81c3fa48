"""Calling a gateway: one batch, one HTTP request, retried on 5xx, 429 and transport faults, every failure
classified.

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

__all__ = ["RetryPolicy", "SideResult", "Target", "call_gateway", "make_client", "retry_after"]

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


def _headers(target: Target, worker: str | None) -> dict[str, str]:
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
    """Send one batch to `target`; retry 5xx, 429 and transport faults; classify what is left."""
    body = probe.build_request(target.profile, items, model, options or {})
    payload = orjson.dumps(body)
    headers = _headers(target, worker)
    n = len(items)
    error, status = CONNECTION, None
    start = time.perf_counter()
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
                error = HTTP_STATUS
                if status in (429, 503):
                    wait = retry_after(answer.headers.get("retry-after"), policy.retry_after_max)
            elif status >= 400:
                return SideResult(None, [HTTP_STATUS] * n, status, latency, attempt + 1, body)
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
                    return SideResult(value, errors, status, latency, attempt + 1, body, doc)
        if error not in RETRIED:
            break
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt) if wait is None else wait)
    latency = (time.perf_counter() - start) * 1000.0
    return SideResult(None, [error] * n, status, latency, attempt + 1, body)

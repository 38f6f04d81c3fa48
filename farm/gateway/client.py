"""Calling a gateway: one batch, one HTTP request, retried on 5xx and timeouts, every failure classified.

A failure never raises out of `call_embed`: it comes back as an error class on each sample of the batch,
so a sweep always finishes with its errors counted. The gateway token is read here, from this process's
environment, and goes nowhere but the request header.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import orjson

from farm.profiles import MalformedBody, WireProfile

# Error classes recorded per sample and side.
TIMEOUT, HTTP_STATUS, CONNECTION, MALFORMED = "timeout", "http_status", "connection", "malformed_body"
COUNT_MISMATCH, NON_FINITE, EMPTY_VECTOR = "count_mismatch", "non_finite", "empty_vector"
DIMENSION_MISMATCH = "dimension_mismatch"


@dataclass(frozen=True)
class Target:
    """A gateway as the client sees it. `token_env` is the variable to read the token from, if any."""

    name: str
    url: str
    profile: WireProfile
    token_env: str | None = None

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + self.profile.path


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff: float = 0.05
    backoff_max: float = 2.0
    timeout: float = 30.0

    def delay(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads retries of many batches hitting one sick gateway.
        return random.uniform(0, min(self.backoff_max, self.backoff * 2**attempt))


@dataclass
class SideResult:
    """One gateway's answer to one batch: vectors (n, d) or None, and an error class per sample."""

    vectors: npt.NDArray[np.float64] | None
    errors: list[str | None]
    status: int | None
    latency_ms: float
    attempts: int
    request: dict[str, Any]
    response: Any = None

    @property
    def ok(self) -> bool:
        return self.vectors is not None


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


def _classify_vectors(vectors: npt.NDArray[np.float64], n: int) -> list[str | None]:
    if vectors.shape[0] != n:
        return [COUNT_MISMATCH] * n
    if vectors.shape[1] == 0:
        return [EMPTY_VECTOR] * n
    finite = np.asarray(np.isfinite(vectors).all(axis=1), dtype=bool)
    return [None if bool(ok) else NON_FINITE for ok in finite]


async def call_embed(client: httpx.AsyncClient, target: Target, texts: list[str], model: str | None,
                     policy: RetryPolicy, worker: str | None = None) -> SideResult:
    """POST one batch to `target`; retry 5xx, timeouts and connection errors; classify what is left."""
    body = target.profile.build_request(texts, model)
    payload = orjson.dumps(body)
    headers = _headers(target, worker)
    n = len(texts)
    error, status = CONNECTION, None
    start = time.perf_counter()
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        try:
            resp = await client.request(target.profile.method, target.endpoint, content=payload, headers=headers,
                                        timeout=policy.timeout)
        except httpx.TimeoutException:
            error, status = TIMEOUT, None
        except httpx.TransportError:
            error, status = CONNECTION, None
        else:
            latency = (time.perf_counter() - start) * 1000.0
            status = resp.status_code
            if status >= 500 or status == 429:
                error = HTTP_STATUS
            elif status >= 400:
                return SideResult(None, [HTTP_STATUS] * n, status, latency, attempt + 1, body)
            else:
                try:
                    doc = orjson.loads(resp.content)
                    vectors = target.profile.parse_vectors(doc)
                except (orjson.JSONDecodeError, MalformedBody):
                    return SideResult(None, [MALFORMED] * n, status, latency, attempt + 1, body)
                errors = _classify_vectors(vectors, n)
                return SideResult(vectors, errors, status, latency, attempt + 1, body, doc)
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    latency = (time.perf_counter() - start) * 1000.0
    return SideResult(None, [error] * n, status, latency, policy.attempts, body)


"""The one send path: a `Request` in, a `Response` out, every probe's HTTP traffic through it.

It owns what makes a request safe against a sick gateway: retries of 5xx, 429 and transport faults (with full
jitter, or `Retry-After` honoured up to a cap on 429 / 503), a per-read timeout and a whole-request deadline per
attempt (a body that drips in a byte a second never trips a read timeout), the body size cap, the content-type
check, JSON decoding into one error class (farm.gateway.body), latency, and the gateway token, read here from
this process's environment and sent nowhere but the request header. A failure never raises: it is
`Response.error`. A body can stream into a sink (a hash) instead of memory; large pieces are hashed in a thread,
overlapping the next read, so a fast store is not held to one core's hashing speed on the event loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import os
import ssl
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import orjson

from farm.gateway.body import BodyFault, check_content_type, decode_json
from farm.gateway.errors import CONNECTION, DEADLINE, HTTP_STATUS, RESET, RETRIED, TIMEOUT, TOO_LARGE
from farm.wire import BodySink, Request, Response, RetryPolicy, Target

__all__ = ["auth_headers", "make_client", "retry_after", "send"]

# A sink is fed pieces of at least this size from a worker thread (hashlib releases the GIL above 2 KiB), so
# hashing one piece overlaps reading the next; smaller bodies are fed inline (a thread hop costs more).
OFF_LOOP_BYTES = 1 * 2**20


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~60 ms of CPU), and workers make a client
    per thread."""
    return httpx.create_ssl_context()


# Requests of a client in flight at once, at most its pool's connections: a request waits here (O(1)) rather
# than in httpcore's pool, whose every state change walks its waiting requests and polls its idle connections
# (measured: a per-input probe with 4x the lanes' requests in flight cost 60% more CPU).
_SLOTS: weakref.WeakKeyDictionary[httpx.AsyncClient, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def make_client(concurrency: int, timeout: float) -> httpx.AsyncClient:
    """A client with `2 x concurrency` connections (both sides of a lane), and as many requests in flight."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                               verify=_tls())
    _SLOTS[client] = asyncio.Semaphore(concurrency * 2)
    return client


def auth_headers(target: Target) -> dict[str, str]:
    """The gateway's token as a bearer header, read from this process's environment (nothing when unset)."""
    token = os.environ.get(target.token_env) if target.token_env else None
    return {"authorization": f"Bearer {token}"} if token else {}


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


@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    content: bytes | None
    sink: BodySink | None
    size: int


class _Fault(Exception):
    def __init__(self, error: str, status: int | None = None) -> None:
        super().__init__(error)
        self.error, self.status = error, status


async def _drain(resp: httpx.Response, sink: BodySink, cap: int) -> int:
    """The raw body into `sink`, piece by piece; its size. Pieces of OFF_LOOP_BYTES go to a thread, one at a
    time and in order, while the next piece is read."""
    size, held, parts = 0, 0, list[bytes]()
    pending: asyncio.Future[None] | None = None
    async for chunk in resp.aiter_raw():
        size += len(chunk)
        if size > cap:
            raise _Fault(TOO_LARGE, resp.status_code)
        parts.append(chunk)
        held += len(chunk)
        if held >= OFF_LOOP_BYTES:
            piece = b"".join(parts)
            parts, held = [], 0
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(asyncio.to_thread(sink.update, piece))
    if pending is not None:
        await pending
    for part in parts:
        sink.update(part)
    return size


async def _fetch(client: httpx.AsyncClient, request: Request, payload: bytes | None, headers: dict[str, str],
                 policy: RetryPolicy) -> _Answer:
    """One attempt: the whole answer within the deadline and the size cap, or a `_Fault`."""
    began = False  # the answer's head arrived: a transport error after it cut the body short
    status: int | None = None
    try:
        async with asyncio.timeout(policy.request_deadline):
            async with client.stream(request.method, request.url, content=payload, headers=headers,
                                     params=request.params, timeout=policy.timeout) as resp:
                began, status = True, resp.status_code
                declared = resp.headers.get("content-length", "") if request.method != "HEAD" else ""
                if declared.isdigit() and int(declared) > policy.max_body_bytes:
                    raise _Fault(TOO_LARGE, status)
                retried = status >= 500 or status == 429
                sink = request.sink(status, resp.headers) if request.sink is not None and not retried else None
                if sink is not None:
                    return _Answer(status, resp.headers, None, sink, await _drain(resp, sink, policy.max_body_bytes))
                if declared.isdigit() and "content-encoding" not in resp.headers:
                    # The usual answer: its size is known and within the cap, read it in one go.
                    content = await resp.aread()
                    return _Answer(status, resp.headers, content, None, len(content))
                chunks, size = [], 0  # no length, or compressed: count what is decoded, stop at the cap
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > policy.max_body_bytes:
                        raise _Fault(TOO_LARGE, status)
                    chunks.append(chunk)
                return _Answer(status, resp.headers, b"".join(chunks), None, size)
    except TimeoutError:
        raise _Fault(DEADLINE, status) from None
    except httpx.TimeoutException:
        raise _Fault(TIMEOUT, status) from None
    except httpx.TransportError:  # also a broken gzip stream or a bad chunk size (DecodingError is one too)
        raise _Fault(RESET if began else CONNECTION, status) from None
    except httpx.HTTPError:  # an invalid URL or header value: the farm's configuration, same every time
        raise _Fault(CONNECTION, status) from None


def _read(request: Request, answer: _Answer, out: Response) -> None:
    """Content type and JSON document of an answer that is not retried on its status; BodyFault when unusable.
    A 4xx body that is not a document is left undecoded: what a 4xx means is the caller's to say."""
    if answer.status < 400 and request.accepts is not None:
        check_content_type(answer.headers.get("content-type"), request.accepts)
    if request.decode and answer.content is not None:
        try:
            out.doc = decode_json(answer.content)
        except BodyFault:
            if answer.status < 400:
                raise


async def send(client: httpx.AsyncClient, target: Target, request: Request, policy: RetryPolicy) -> Response:
    """Send `request` to `target` under `policy`: retried on 5xx, 429, transport faults and truncated JSON;
    classified otherwise. Never raises on what the gateway does."""
    headers = {**request.headers, **auth_headers(target)}
    payload = request.content
    if request.json is not None:
        payload = orjson.dumps(request.json)
        headers.setdefault("content-type", "application/json")
    error, status = CONNECTION, None
    seen: Mapping[str, str] = {}
    refused: bytes | None = None  # the last 5xx / 429 body: what the caller shows of a gateway that kept failing
    start = time.perf_counter()
    attempt = 0
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        wait: float | None = None
        try:
            slots = _SLOTS.get(client)
            if slots is None:
                answer = await _fetch(client, request, payload, headers, policy)
            else:
                async with slots:
                    start = time.perf_counter()  # the latency counts from when a connection is free
                    answer = await _fetch(client, request, payload, headers, policy)
        except _Fault as fault:
            error, status = fault.error, fault.status
        else:
            latency = (time.perf_counter() - start) * 1000.0
            status, seen = answer.status, answer.headers
            if status >= 500 or status == 429:
                error, refused = HTTP_STATUS, answer.content
                if status in (429, 503):
                    wait = retry_after(answer.headers.get("retry-after"), policy.retry_after_max)
            else:
                out = Response(status, answer.headers, None, latency, attempt + 1, answer.content, None, answer.sink,
                               answer.size)
                try:
                    _read(request, answer, out)
                except BodyFault as fault:
                    out.error = error = fault.error
                    if error not in RETRIED or attempt + 1 == policy.attempts:
                        return out
                else:
                    return out
        if error not in RETRIED:
            break
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt) if wait is None else wait)
    return Response(status, seen, error, (time.perf_counter() - start) * 1000.0, attempt + 1,
                    refused if error == HTTP_STATUS else None)

"""A fault-injecting HTTP proxy: put it in front of any gateway to rehearse what a sick gateway does.

`farm gateways faults --upstream URL --fault drip --port N` forwards each request to URL and, for a
`--fault-rate` fraction of them, spoils the answer in one of the ways a fleet sees (FAULTS below). It speaks
HTTP/1.1 on raw asyncio streams rather than through an ASGI server, because the faults live below what a
framework lets an application do (a reset mid-body, a short Content-Length, a byte a second, no answer).
`GET /faults/stats` answers the counts of requests and injected faults; `/healthz` is never spoiled.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import orjson

# What each fault does to the answer (the client's error class it should produce, farm.gateway.errors).
FAULTS: dict[str, str] = {
    "reset": "half the body, then a TCP reset (connection_reset)",
    "drip": "the body a few bytes at a time, each well within a read timeout (deadline)",
    "truncate": "a complete HTTP answer whose JSON stops halfway (truncated_json)",
    "oversize": "a chunked body of --oversize-mb MiB of whitespace before the document (body_too_large)",
    "content-type": "an HTML page as text/html (content_type)",
    "utf8": "invalid UTF-8 bytes inside the first string (invalid_utf8)",
    "nan": "the first number replaced by NaN (non_finite_json)",
    "429": "HTTP 429 with Retry-After: --retry-after (retried, then http_status)",
    "503": "HTTP 503 with Retry-After: --retry-after (retried, then http_status)",
    "http10": "an HTTP/1.0 answer without Content-Length, ended by closing the connection (reads fine)",
    "blackhole": "the request is read and never answered (timeout)",
}
_NUMBER = re.compile(rb"(?<=[\[,:])\s*-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# Headers the proxy sets itself (framing, connection, encoding: it forwards decoded bodies), never passed on.
_HOP = frozenset({"host", "connection", "keep-alive", "content-length", "transfer-encoding", "content-encoding",
                  "accept-encoding", "te", "trailer", "upgrade", "proxy-connection"})
_REASONS = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}


@dataclass
class FaultPlan:
    """Which faults, how often. `rate` is the fraction of requests spoiled, each by one of `faults` at random."""

    faults: Sequence[str]
    rate: float = 1.0
    retry_after: float = 1.0
    oversize_mb: float = 100.0
    drip_bytes: int = 64
    drip_interval: float = 0.1
    seed: int | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}: choose from {', '.join(FAULTS)}")
        self._random = random.Random(self.seed)

    def pick(self) -> str | None:
        self.counts["requests"] = self.counts.get("requests", 0) + 1
        if not self.faults or self._random.random() >= self.rate:
            return None
        fault = self._random.choice(list(self.faults))
        self.counts[fault] = self.counts.get(fault, 0) + 1
        return fault


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    version: str


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    length = next((int(v) for k, v in headers if k.lower() == "content-length" and v.isdigit()), 0)
    try:
        body = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return _Request(parts[0], parts[1], headers, body, parts[2])


def _head(status: int, headers: list[tuple[str, str]], version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status} {_REASONS.get(status, 'Status')}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN (SO_LINGER 0), as a crashed process or a middlebox does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """The proxy's request loop; `serve()` runs it on host:port until cancelled."""

    def __init__(self, upstream: str, plan: FaultPlan) -> None:
        self.upstream = upstream.rstrip("/")
        self.plan = plan
        self._client: httpx.AsyncClient | None = None

    async def _forward(self, req: _Request) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        """(status, content type, body, the upstream's other headers: ETag, Range answers, metadata...)."""
        assert self._client is not None
        keep = {k: v for k, v in req.headers if k.lower() not in _HOP}
        resp = await self._client.request(req.method, self.upstream + req.target, content=req.body, headers=keep)
        extra = [(k, v) for k, v in resp.headers.items() if k not in _HOP and k != "content-type"]
        if req.method == "HEAD":  # the length of what a GET would send
            extra.append(("content-length", resp.headers.get("content-length", "0")))
        return resp.status_code, resp.headers.get("content-type", "application/json"), resp.content, extra

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (req := await _read_request(reader)) is not None:
                if not await self._answer(req, reader, writer):
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, req: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Write one answer; False when the connection is done with."""
        if req.target == "/faults/stats":
            body = orjson.dumps(self.plan.counts)
            writer.write(_head(200, [("content-type", "application/json"), ("content-length", str(len(body)))])
                         + body)
            await writer.drain()
            return True
        fault = None if req.target.startswith("/healthz") else self.plan.pick()
        if fault == "blackhole":
            # Answer nothing; hold the connection until the client hangs up (an hour at most).
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(reader.read(), 3600.0)
            return False
        if fault in ("429", "503"):
            body = orjson.dumps({"error": f"injected {fault}"})
            writer.write(_head(int(fault), [("content-type", "application/json"), ("content-length", str(len(body))),
                                            ("retry-after", f"{self.plan.retry_after:g}")])
                         + (body if req.method != "HEAD" else b""))
            await writer.drain()
            return True
        try:
            status, ctype, body, extra = await self._forward(req)
        except httpx.HTTPError:
            status, ctype, body, extra = 502, "application/json", b'{"error": "upstream unreachable"}', []
        if req.method == "HEAD":
            # No body may follow a HEAD's head (one would corrupt the next answer on the connection): only a
            # fault of the head itself applies.
            if fault == "content-type":
                ctype = "text/html; charset=utf-8"
            writer.write(_head(status, [("content-type", ctype), *extra]))
            await writer.drain()
            return True
        return await self._spoil(fault, status, ctype, body, writer, extra)

    async def _spoil(self, fault: str | None, status: int, ctype: str, body: bytes, writer: asyncio.StreamWriter,
                     extra: list[tuple[str, str]]) -> bool:
        length = [("content-length", str(len(body)))]
        if fault == "reset":
            writer.write(_head(status, [("content-type", ctype), *extra, *length]) + body[: len(body) // 2])
            await writer.drain()
            _reset(writer)
            return False
        if fault == "drip":
            writer.write(_head(status, [("content-type", ctype), *extra, *length]))
            for i in range(0, len(body), self.plan.drip_bytes):
                writer.write(body[i:i + self.plan.drip_bytes])
                await writer.drain()
                await asyncio.sleep(self.plan.drip_interval)
            return True
        if fault == "truncate":
            body = body[: max(1, len(body) // 2)]
        elif fault == "content-type":
            ctype, body = "text/html; charset=utf-8", b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        elif fault == "utf8":
            at = body.find(b'"') + 1
            body = body[:at] + b"\xff\xfe\xc3" + body[at:]
        elif fault == "nan":
            body, hits = _NUMBER.subn(b"NaN", body, count=1)
            if not hits:
                body = b'{"value": NaN}'
        elif fault == "oversize":
            return await self._oversize(status, ctype, body, writer, extra)
        elif fault == "http10":
            writer.write(_head(status, [("content-type", ctype), *extra, ("connection", "close")], "HTTP/1.0") + body)
            await writer.drain()
            return False
        writer.write(_head(status, [("content-type", ctype), *extra, ("content-length", str(len(body)))]) + body)
        await writer.drain()
        return True

    async def _oversize(self, status: int, ctype: str, body: bytes, writer: asyncio.StreamWriter,
                        extra: list[tuple[str, str]]) -> bool:
        writer.write(_head(status, [("content-type", ctype), *extra, ("transfer-encoding", "chunked")]))
        chunk = b" " * 2**20
        for _ in range(int(self.plan.oversize_mb)):
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()  # raises once the client hangs up at its cap
        writer.write(f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async def serve(self, host: str, port: int, sock: socket.socket | None = None) -> None:
        """Serve on HOST:PORT, or on `sock` when the caller bound it already (`farm gateways faults`)."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
            self._client = client
            server = await (asyncio.start_server(self.handle, sock=sock) if sock is not None
                            else asyncio.start_server(self.handle, host, port))
            async with server:
                await server.serve_forever()



@contextlib.contextmanager
def proxy_in_thread(upstream: str, plan: FaultPlan, port: int | None = None) -> Iterator[str]:
    """A fault proxy on loopback in a thread of this process (tests, benchmarks); yields its base URL."""
    from farm.gateway.process import free_port

    port = port or free_port()
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(FaultProxy(upstream, plan).serve("127.0.0.1", port))
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        rest = asyncio.all_tasks(loop)  # connection handlers still open
        for t in rest:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True, name=f"fault-proxy-{port}")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url + "/faults/stats", timeout=0.5)
            break
        time.sleep(0.05)
    try:
        yield url
    finally:
        def stop() -> None:
            for t in asyncio.all_tasks(loop):
                t.cancel()

        loop.call_soon_threadsafe(stop)
        thread.join(timeout=10)

"""The proxy: an ASGI app that forwards every request to legacy and sends legacy's answer back unchanged (status,
headers minus hop-by-hop ones, the raw body bytes as they arrive: SSE streams pass through piece by piece), and
only then offers a copy to the mirror. An unreachable legacy is a 502 to the client, counted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from farm.shadow.mirror import Copy, Mirror

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# RFC 9110 7.6.1: connection-specific fields a proxy must not forward; `host` is legacy's own.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-connection"})
KEEP_ANSWER_BYTES = 16 * 2**20  # a copy keeps legacy's answer up to this size (the client gets all of it anyway)
MAX_REQUEST_BYTES = 32 * 2**20  # as the demo gateways: a larger request body is refused with 413


def forwarded_headers(raw: list[tuple[bytes, bytes]], drop: frozenset[str]) -> list[tuple[bytes, bytes]]:
    named = {v.decode("latin-1").strip().lower() for k, v in raw if k.lower() == b"connection"
             for v in v.split(b",")}
    return [(k, v) for k, v in raw if k.decode("latin-1").lower() not in drop | named]


class ShadowProxy:
    """ASGI app: `legacy` is the base URL every request goes to, path and query kept."""

    def __init__(self, legacy: str, client: httpx.AsyncClient, mirror: Mirror) -> None:
        self.legacy, self.client, self.mirror = legacy.rstrip("/"), client, mirror

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_REQUEST_BYTES:
                await _plain(send, 413, b"request body too large\n")
                return
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        self.mirror.seen(method, path)
        url = self.legacy + (scope.get("raw_path") or path.encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = forwarded_headers(list(scope["headers"]), HOP_BY_HOP | {"host"})
        started = time.perf_counter()
        try:
            request = self.client.build_request(method, url, headers=headers, content=bytes(body))
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError:
            self.mirror.counts.legacy_unreachable += 1
            await _plain(send, 502, b"bad gateway: legacy unreachable\n")
            return
        kept: bytearray | None = bytearray()
        try:
            out = forwarded_headers(list(response.headers.raw), HOP_BY_HOP)
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if kept is not None:
                    kept += chunk
                    if len(kept) > KEEP_ANSWER_BYTES:
                        kept = None
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError:
            # Legacy broke off mid-answer: the client sees the same (its connection is closed), no copy is made.
            self.mirror.counts.legacy_unreachable += 1
            return  # the answer is left unfinished: the server closes the client's connection
        finally:
            await response.aclose()
        latency = (time.perf_counter() - started) * 1000
        self.mirror.offer(Copy(method, path, bytes(body), response.status_code,
                               bytes(kept) if kept is not None else None,
                               response.headers.get("content-encoding"), latency))


async def _plain(send: Send, status: int, text: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": text})

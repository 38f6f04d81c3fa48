"""Demo gateways: a real HTTP server speaking one probe's wire profile, backed by that probe's demo backend.

They are product, not test doubles: users try the farm on them; tests and benchmarks run against them.
The shared knobs live here (auth, request log, added latency, injected 503s); the probe answers.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from farm.wire import Backend, MalformedBody, Profile
from farm.wire import DemoProbe as Probe

MAX_BODY_BYTES = 32 * 1024 * 1024  # a bigger request body is refused (HTTP 413), never parsed


@dataclass(frozen=True)
class DemoSettings:
    probe: Probe
    profile: Profile
    knobs: dict[str, Any] = field(default_factory=dict)
    error_rate: float = 0.0
    latency_ms: float = 0.0
    token_env: str | None = None
    request_log: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type="application/json")


class _RequestLog:
    """One JSON line per request: which worker called (X-Farm-Worker), path, size, status. Never the token."""

    def __init__(self, path: str | None) -> None:
        self._fh: TextIO | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._lock = threading.Lock()

    def write(self, request: Request, n: int, status: int) -> None:
        if self._fh is None:
            return
        line = orjson.dumps({
            "path": request.url.path, "n": n, "status": status,
            "worker": request.headers.get("x-farm-worker"),
            "authorized": "authorization" in request.headers,
        }).decode()
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()


async def _capped_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it is over `limit` bytes (declared or streamed: chunked bodies too)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: DemoSettings) -> Starlette:
    profile = settings.profile
    log = _RequestLog(settings.request_log)
    counters = {"requests": 0, "errors_injected": 0}

    def unauthorized(request: Request) -> Response | None:
        if settings.token_env and os.environ.get(settings.token_env):
            expected = f"Bearer {os.environ[settings.token_env]}"
            if request.headers.get("authorization") != expected:
                log.write(request, 0, 401)
                return _json({"error": "unauthorized"}, 401)
        return None

    async def delayed_or_failed(request: Request, n: int) -> Response | None:
        """The shared knobs after a request parsed: added latency, then an injected 503 (or None)."""
        if settings.latency_ms > 0:
            await asyncio.sleep(settings.latency_ms / 1000.0 * random.uniform(0.8, 1.2))
        if settings.error_rate > 0 and random.random() < settings.error_rate:
            counters["errors_injected"] += 1
            log.write(request, n, 503)
            return _json({"error": "injected failure"}, 503)
        return None

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """A probe's own route (`Probe.demo_routes`) behind the same shared knobs as the JSON endpoint."""
        async def endpoint(request: Request) -> Response:
            counters["requests"] += 1
            refused = unauthorized(request) or await delayed_or_failed(request, 1)
            if refused is not None:
                return refused
            response = await handler(request)
            log.write(request, 1, response.status_code)
            return response
        return endpoint

    async def healthz(_request: Request) -> Response:
        return _json({"ok": True, "probe": settings.probe.name, "profile": profile.name, "path": profile.path,
                      **counters})

    own = settings.probe.demo_routes(profile, settings.knobs)
    if own is not None:
        routes: list[BaseRoute] = [Route(r.path, guarded(r.endpoint), methods=r.methods) if isinstance(r, Route)
                                   else r for r in own]
        return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])

    backend: Backend = settings.probe.demo_backend(profile, settings.knobs)

    async def endpoint(request: Request) -> Response:
        counters["requests"] += 1
        refused = unauthorized(request)
        if refused is not None:
            return refused
        raw = await _capped_body(request, settings.max_body_bytes)
        if raw is None:
            log.write(request, 0, 413)
            return _json({"error": f"request body over {settings.max_body_bytes:,} bytes"}, 413)
        try:
            body = orjson.loads(raw)
            if not isinstance(body, dict):
                raise MalformedBody("request body must be a JSON object")
            n, answer = backend(body)
        except (orjson.JSONDecodeError, MalformedBody) as exc:
            log.write(request, 0, 400)
            return _json({"error": f"bad request: {exc}"}, 400)
        except LookupError as exc:  # e.g. an unknown model
            log.write(request, 0, 404)
            return _json({"error": str(exc.args[0]) if exc.args else "not found"}, 404)
        failed = await delayed_or_failed(request, n)
        if failed is not None:
            return failed
        doc = answer()
        log.write(request, n, 200)
        if isinstance(doc, Response):  # a probe's own response, e.g. a stream
            return doc
        return _json(doc)

    routes = [
        Route(profile.path, endpoint, methods=[profile.method]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes)

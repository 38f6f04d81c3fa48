"""Demo gateways: a real HTTP server speaking one wire profile, backed by the deterministic embedder.

They are product, not test doubles: users try the farm on them; tests and benchmarks run against them.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from farm.embedder import DEFAULT_MODEL, MODELS, EmbedKnobs, embed
from farm.profiles import MalformedBody, WireProfile


@dataclass(frozen=True)
class DemoSettings:
    profile: WireProfile
    knobs: EmbedKnobs = field(default_factory=EmbedKnobs)
    error_rate: float = 0.0
    latency_ms: float = 0.0
    default_model: str = DEFAULT_MODEL
    token_env: str | None = None
    request_log: str | None = None


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


def create_app(settings: DemoSettings) -> Starlette:
    profile = settings.profile
    knobs = settings.knobs
    log = _RequestLog(settings.request_log)
    rng = np.random.default_rng()
    counters = {"requests": 0, "errors_injected": 0}

    async def embed_endpoint(request: Request) -> Response:
        counters["requests"] += 1
        if settings.token_env and os.environ.get(settings.token_env):
            expected = f"Bearer {os.environ[settings.token_env]}"
            if request.headers.get("authorization") != expected:
                log.write(request, 0, 401)
                return _json({"error": "unauthorized"}, 401)
        try:
            body = orjson.loads(await request.body())
            if not isinstance(body, dict):
                raise MalformedBody("request body must be a JSON object")
            texts = profile.texts_of(body)
        except (orjson.JSONDecodeError, MalformedBody) as exc:
            log.write(request, 0, 400)
            return _json({"error": f"bad request: {exc}"}, 400)
        model = profile.model_of(body) or settings.default_model
        if model not in MODELS:
            log.write(request, len(texts), 404)
            return _json({"error": f"model {model!r} not found"}, 404)
        if settings.latency_ms > 0:
            await asyncio.sleep(settings.latency_ms / 1000.0 * random.uniform(0.8, 1.2))
        if settings.error_rate > 0 and random.random() < settings.error_rate:
            counters["errors_injected"] += 1
            log.write(request, len(texts), 503)
            return _json({"error": "injected failure"}, 503)
        vectors = embed(texts, model, knobs, rng) if texts else np.zeros((0, MODELS[model]))
        log.write(request, len(texts), 200)
        return _json(profile.build_response(vectors, model))

    async def healthz(_request: Request) -> Response:
        return _json({"ok": True, "profile": profile.name, "path": profile.path, **counters})

    routes = [
        Route(profile.path, embed_endpoint, methods=[profile.method]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def serve(settings: DemoSettings, host: str, port: int) -> None:
    """Run the demo gateway in the foreground until interrupted."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)

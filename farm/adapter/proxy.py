"""The adapter proxy: an ASGI app speaking the legacy wire in front of the candidate.

A request on the legacy path is read with the legacy profile into the probe's inputs (`items_from_request`),
rebuilt as the candidate's request (the probe's `build_request` with the candidate profile; the other legacy
fields carried over, renamed by the map's `request_fields`), sent through the one send path, and the answer
reshaped by the map's ops (`apply_adapter`) into the legacy document. A bad request gets the legacy gateway's
error shape (`{"error": ...}` with 400, at the legacy profile's `error_path` when it has one).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from farm.adapter import document
from farm.gateway.send import make_client, send
from farm.probes import probe_of
from farm.probes.base import MalformedBody, Probe, Profile
from farm.profiles import set_path
from farm.wire import MAX_BODY_BYTES, Request, RetryPolicy, Target
from farm.wiredrift.adapter import apply_adapter, stream_reframer

HEALTH_PATH = "/healthz"


def served_map(base_url: str, timeout: float = 5.0) -> str | None:
    """The sha256 of the map an adapter proxy at `base_url` serves (its health document says), None when the
    URL is no adapter: recorded with a strict sweep, so the parity log can name the map a PASS went through."""
    import httpx

    try:
        doc = httpx.get(base_url.rstrip("/") + HEALTH_PATH, timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return None
    digest = doc.get("adapter") if isinstance(doc, dict) else None
    return digest if isinstance(digest, str) else None


class Unmapped(ValueError):
    """The map cannot express a legacy field: the proxy does not start (one line per field)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class AdapterSettings:
    doc: dict[str, Any]
    upstream: str  # base URL of the candidate gateway
    token_env: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 16


def _error(profile: Profile, message: str, status: int) -> Response:
    # The legacy demo gateways' shape: `{"error": "..."}`; a profile declaring where its errors go (sql's
    # `error_path`) is answered there instead.
    doc: dict[str, Any] = {}
    set_path(doc, getattr(profile, "error_path", None) or "error", message)
    return Response(orjson.dumps(doc), status, media_type="application/json")


def _message(doc: Any, fallback: str) -> str:
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            err = err.get("message")
        if isinstance(err, str):
            return err
    return fallback


def candidate_body(probe: Probe, legacy: Profile, candidate: Profile, adapter_map: dict[str, Any],
                   body: dict[str, Any]) -> dict[str, Any]:
    """The candidate's request for a legacy request body (MalformedBody when the body is not one)."""
    items = probe.items_from_request(legacy, body)
    # A streaming probe reads `stream` from the sweep's options: the candidate streams when the legacy request does.
    out = probe.build_request(candidate, items, None, {"stream": int(probe.streams(legacy, body))})
    renamed: dict[str, str] = adapter_map.get("request_fields") or {}
    # A renamed field was inferred from equal values on both sides (`k` -> `top_k`): the legacy request's value
    # wins over the probe's default; any other field (model...) travels as it is, unless the probe set it.
    for key, value in body.items():
        if key in renamed:
            set_path(out, renamed[key], value)  # a dotted name nests (`max_tokens` -> `options.num_predict`)
        else:
            out.setdefault(key, value)
    return out


def create_app(settings: AdapterSettings) -> Starlette:
    """The proxy; raises Unmapped when the map cannot rebuild every legacy field."""
    doc = settings.doc
    legacy, candidate = document.profiles(doc)
    probe = probe_of(legacy)
    reframe = stream_reframer(probe.name)
    stream_note = (doc["map"].get("probe") or {}).get("stream")
    missing = document.unmapped(doc)
    if legacy.method != "POST" or candidate.method != "POST":  # storage's GETs of raw bytes under a path prefix
        missing.append(f"unmapped request: the adapter proxies one JSON POST per request; the {probe.name} probe's "
                       f"legacy endpoint is {legacy.method} {legacy.path}, the candidate's {candidate.method} "
                       f"{candidate.path}")
    if isinstance(stream_note, dict) and not stream_note.get("same") and reframe is None:
        missing.append(f"unmapped stream framing {stream_note.get('from')} -> {stream_note.get('to')}: the "
                       f"{probe.name} probe registers no stream reframer")
    if missing:
        raise Unmapped(missing)
    adapter_map = doc["map"]
    target = Target("candidate", settings.upstream, candidate, settings.token_env)
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["client"] = make_client(settings.concurrency, settings.policy.timeout)
        try:
            yield
        finally:
            await state["client"].aclose()

    async def endpoint(request: HttpRequest) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _error(legacy, f"request body over {MAX_BODY_BYTES:,} bytes", 413)
        try:
            body = orjson.loads(raw)
            if not isinstance(body, dict):
                raise MalformedBody("request body must be a JSON object")
            cbody = candidate_body(probe, legacy, candidate, adapter_map, body)
        except (orjson.JSONDecodeError, MalformedBody) as exc:
            return _error(legacy, f"bad request: {exc}", 400)
        except NotImplementedError:  # a probe that cannot read or build a request body
            return _error(legacy, f"the {probe.name} probe cannot rebuild this request for the candidate", 501)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("x-farm-worker", "x-request-id")}
        streamed = probe.streams(candidate, cbody)
        answer = await send(state["client"], target, Request(candidate.method, target.endpoint, headers=headers,
                                                             json=cbody, accepts=probe.accepts, decode=not streamed),
                            settings.policy)
        if answer.error is not None or answer.status is None:
            return _error(legacy, f"candidate gateway: {answer.error} (HTTP {answer.status})", 502)
        if answer.status >= 400:
            return _error(legacy, _message(answer.doc, f"candidate answered HTTP {answer.status}"), answer.status)
        if streamed:
            if reframe is None:
                return Response(answer.content or b"", answer.status,
                                media_type=answer.headers.get("content-type"))  # the same framing on both sides
            try:  # the whole stream is read, then re-sent in the legacy framing (not piece by piece)
                body_out, media_type = reframe(adapter_map, legacy, candidate, answer.content or b"")
            except (ValueError, TypeError) as exc:
                return _error(legacy, f"adapter cannot reframe the candidate's stream: {exc}", 502)
            return Response(body_out, 200, media_type=media_type)
        try:
            shaped = apply_adapter(adapter_map, answer.doc, in_place=True)
        except (ValueError, TypeError, KeyError) as exc:  # a candidate answer the map was not built for
            return _error(legacy, f"adapter cannot reshape the candidate's answer: {exc}", 502)
        return Response(orjson.dumps(shaped, option=orjson.OPT_SERIALIZE_NUMPY), 200,
                        media_type="application/json")

    async def healthz(_request: HttpRequest) -> Response:
        return Response(orjson.dumps({"ok": True, "adapter": document.sha256(doc), "path": legacy.path,
                                      "upstream": target.endpoint}), media_type="application/json")

    routes = [Route(legacy.path, endpoint, methods=[legacy.method]), Route(HEALTH_PATH, healthz, methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)

"""`farm ui`: read-only pages over the farm's database (Starlette, Jinja2 templates rendered on the server).

Pages: the migration board (`/`), a sweep (`/sweeps/<id>`, its adapter map at `/sweeps/<id>/adapter.json`),
a running sweep's progress as JSON (`/api/sweeps/<id>/status`, polled by static/live.js) and the audits
(`/audits`). Handlers are plain functions: Starlette runs them in its thread pool, so a slow query never stalls
the event loop. Nothing here reads the environment: gateway tokens live only there and never reach a page.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from markdown_it import MarkdownIt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from farm.audit.drift import DriftRules, drift_table
from farm.config import SignoffPlan
from farm.errors import UsageError
from farm.probes import get_probe
from farm.report.sweep import catalog_rows, parameter_rows, statistics_lines, table
from farm.signoff import Signoff, evaluate
from farm.stats.intervals import clopper_pearson
from farm.store.signoff import sweep_time
from farm.store.sweeps import get_sweep, load_outcome, side_errors, worst_samples
from farm.store.ui import (
    baseline_history,
    decided_for_signoff,
    decided_headlines,
    latest_audits,
    progress,
    running_sweeps,
    verdicts_version,
)
from farm.ui.board import BoardRow, board
from farm.ui.charts import latency_bars
from farm.ui.diff import sample_diff
from farm.wiredrift import render_catalog

HERE = Path(__file__).resolve().parent
WORST = 5  # worst samples shown side by side
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")  # text from gateways is escaped, never HTML

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Settings:
    database_url: str
    plan: SignoffPlan | None = None
    plan_source: str = ""
    auth: tuple[str, str] | None = None  # basic auth (user, password); None on loopback without it


def safe_url(url: str) -> str:
    """A URL as a page shows it: any `user:password@` dropped (credentials are never rendered)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def markdown(lines: list[str]) -> str:
    return str(_MD.render("\n".join(lines)))


async def healthz(request: Request) -> Response:
    """Liveness for `farm stack up` (answers without credentials, says nothing else)."""
    return Response("ok\n", media_type="text/plain")


class BasicAuth:
    """HTTP basic auth in front of every route (the password compared in constant time)."""

    def __init__(self, app: ASGIApp, user: str, password: str) -> None:
        self.app = app
        self.expected = (user.encode(), password.encode())

    def _ok(self, header: bytes) -> bool:
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(token, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        return bool(sep) & secrets.compare_digest(user, self.expected[0]) & \
            secrets.compare_digest(password, self.expected[1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/healthz":  # the stack's liveness probe: no data in it
            header = dict(scope["headers"]).get(b"authorization", b"")
            if not self._ok(header):
                response = Response("authentication required\n", status_code=401, media_type="text/plain",
                                    headers={"WWW-Authenticate": 'Basic realm="farm ui"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass
class _BoardCache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: tuple[str, ...] | None = None
    rows: list[BoardRow] = field(default_factory=list)
    signoff: Signoff | None = None


def create_app(settings: Settings) -> ASGIApp:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["safe_url"] = safe_url
    url = settings.database_url

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def not_found(request: Request, message: str) -> Response:
        return page(request, "error.html", 404, title="Not found", message=message)

    cache = _BoardCache()

    def decided_view() -> tuple[list[BoardRow], Signoff | None]:
        """The board's rows and the sign-off, recomputed only when a verdict came or went since the last time."""
        version = verdicts_version(url)
        with cache.lock:  # one recomputation at a time; requests meanwhile wait for it rather than repeat it
            if cache.version != version:
                signoff = None
                if settings.plan is None:
                    decided = decided_headlines(url)
                else:  # one read serves both: the sign-off needs the sweeps' parameters too
                    decided = decided_for_signoff(url)
                    probes = {e.probe for e in settings.plan.endpoints}
                    signoff = evaluate(settings.plan, settings.plan_source,
                                       [(s, v) for s, v in decided if s.probe in probes])
                cache.version, cache.rows, cache.signoff = version, board(decided), signoff
            return cache.rows, cache.signoff

    def index(request: Request) -> Response:
        rows, signoff = decided_view()
        running = running_sweeps(url)
        # Running sweeps' counts are left to live.js: counting a big sweep's samples is the one slow read here.
        return page(request, "board.html", title="Migration board", rows=rows, running=running, signoff=signoff)

    def sweep_page(request: Request) -> Response:
        try:
            sweep = get_sweep(url, request.path_params["sweep_id"])
        except UsageError as exc:
            return not_found(request, str(exc))
        verdict, findings = load_outcome(url, sweep.id)
        try:
            probe = get_probe(sweep.probe)
        except UsageError as exc:  # a plug-in probe this process does not have
            return not_found(request, str(exc))
        lowest, failed = worst_samples(url, sweep.id, probe, k=WORST)
        stats_html = ""
        params_html = markdown(table(["parameter", "value"],
                                     parameter_rows(sweep.params or {}, verdict.detail if verdict else {})))
        latency_svg = ""
        if verdict is not None:
            stats_html = markdown(statistics_lines(verdict, probe.quantity))
            latency_svg = latency_bars(((verdict.detail or {}).get("detail") or {}).get("latency") or {})
        catalog_html = markdown([render_catalog(catalog_rows(findings), sweep.legacy, sweep.candidate)])
        adapter = (verdict.detail or {}).get("adapter_map") if verdict else None
        # A sweep that ended without a verdict (failed, cancelled) still has its errors; a running one shows
        # them live.
        errors = side_errors(url, sweep.id) if verdict is None and sweep.status != "running" else None
        return page(request, "sweep.html", title=f"Sweep {sweep.id}", sweep=sweep, verdict=verdict,
                    when=sweep_time(sweep), stats_html=stats_html, params_html=params_html,
                    catalog_html=catalog_html, findings=len(findings), adapter=adapter,
                    adapter_json=json.dumps(adapter, indent=2, sort_keys=True) if adapter else "",
                    lowest=[sample_diff(r) for r in lowest], failed=[sample_diff(r) for r in failed],
                    errors=errors, running=sweep.status == "running", latency_svg=latency_svg)

    def adapter_json(request: Request) -> Response:
        try:
            sweep = get_sweep(url, request.path_params["sweep_id"])
        except UsageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        verdict, _ = load_outcome(url, sweep.id)
        adapter = (verdict.detail or {}).get("adapter_map") if verdict else None
        if adapter is None:
            return JSONResponse({"error": f"sweep {sweep.id} has no adapter map"}, status_code=404)
        return Response(json.dumps(adapter, indent=2, sort_keys=True) + "\n", media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="adapter_{sweep.id}.json"'})

    def status(request: Request) -> Response:
        try:
            sweep = get_sweep(url, request.path_params["sweep_id"])
        except UsageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        return JSONResponse(status_payload(url, sweep.id, float((sweep.params or {}).get("alpha") or 0.05)))

    def audits(request: Request) -> Response:
        latest = latest_audits(url)
        logs = []
        for entry in latest:
            history = baseline_history(url, entry.log_path)
            if not history:
                continue
            current = history[-1]
            rows = drift_table(current.metrics, [h.metrics for h in history[:-1]], DriftRules(),
                               history[-2].run_id if len(history) > 1 else None)
            rows.sort(key=lambda r: (not r.flagged, r.metric))  # flagged metrics first
            logs.append({"entry": current, "rows": rows, "runs": len(history),
                         "flagged": sum(r.flagged for r in rows)})
        return page(request, "audits.html", title="Audits", logs=logs)

    routes = [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/sweeps/{sweep_id}", sweep_page),
        Route("/sweeps/{sweep_id}/adapter.json", adapter_json),
        Route("/api/sweeps/{sweep_id}/status", status),
        Route("/audits", audits),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app: ASGIApp = Starlette(routes=routes)
    if settings.auth is not None:
        app = BasicAuth(app, *settings.auth)
    return app


def status_payload(url: str, sweep_id: str, alpha: float) -> dict[str, Any]:
    """A sweep's progress and its interim bounds: a Clopper-Pearson interval of the disagreement rate of the
    samples compared so far (a view, not the verdict: the verdict's own test decides when the sweep ends)."""
    p = progress(url, [sweep_id])[sweep_id]
    out: dict[str, Any] = {"sweep_id": p.sweep_id, "status": p.status, "planned": p.planned, "samples": p.samples,
                           "compared": p.compared, "disagreements": p.disagreements, "errors": p.errors,
                           "batches_done": p.batches_done, "batches_total": p.batches_total,
                           "lower": None, "upper": None, "alpha": alpha}
    if p.compared:
        out["lower"], out["upper"] = clopper_pearson(p.disagreements, p.compared, alpha)
    if p.status != "running":
        verdict, _ = load_outcome(url, sweep_id)
        if verdict is not None:
            out.update(verdict=verdict.outcome, reason=verdict.reason, n=verdict.n)
    return out


__all__ = ["Settings", "create_app", "status_payload"]

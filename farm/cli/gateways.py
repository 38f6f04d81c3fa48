"""`farm gateways serve`: run a demo gateway (a real HTTP server speaking one wire profile)."""

from __future__ import annotations

import click

from farm.cli.common import config_from
from farm.embedder import DEFAULT_MODEL, MODELS, EmbedKnobs
from farm.gateway.demo import DemoSettings, serve
from farm.profiles import resolve_profile

_fraction = click.FloatRange(0.0, 1.0)


@click.group("gateways")
def gateways() -> None:
    """Demo gateways to try the farm on (also what the tests and benchmarks run against)."""


@gateways.command("serve")
@click.option("--profile", "profile_name", required=True,
              help="Wire profile to speak: lakehouse-legacy, lakehouse-candidate, openai, ollama, or a custom one.")
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="TCP port on --host.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (loopback by default; 0.0.0.0 inside a container).")
@click.option("--scale", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Raw vector magnitude (default: unit vectors if the profile is unit-normalised, else 21.5).")
@click.option("--drift-rate", type=_fraction, default=0.0, show_default=True,
              help="Fraction of inputs answered with a vector at cosine --drift-cos from the truth.")
@click.option("--drift-cos", type=click.FloatRange(-1.0, 1.0), default=0.95, show_default=True,
              help="Cosine of the drifted vectors to the truth.")
@click.option("--noise", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Relative nondeterministic jitter added to every vector on every call.")
@click.option("--error-rate", type=_fraction, default=0.0, show_default=True,
              help="Fraction of requests answered with HTTP 503.")
@click.option("--latency-ms", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Added latency per request (±20% uniform).")
@click.option("--model", "default_model", type=click.Choice(sorted(MODELS)), default=DEFAULT_MODEL,
              show_default=True, help="Model used when a request names none.")
@click.option("--token-env", default=None,
              help="Require `Authorization: Bearer $VAR` where VAR is this environment variable (if set).")
@click.option("--request-log", type=click.Path(dir_okay=False), default=None,
              help="Append one JSON line per request (path, size, status, X-Farm-Worker) to this file.")
@click.pass_context
def serve_cmd(ctx: click.Context, profile_name: str, port: int, host: str, scale: float | None, drift_rate: float,
              drift_cos: float, noise: float, error_rate: float, latency_ms: float, default_model: str,
              token_env: str | None, request_log: str | None) -> None:
    """Serve a demo gateway on HOST:PORT until interrupted."""
    profile = resolve_profile(profile_name, config_from(ctx), key="--profile")
    unit = profile.unit_vectors and scale is None
    knobs = EmbedKnobs(scale=scale or 21.5, unit=unit, drift_rate=drift_rate, drift_cos=drift_cos, noise=noise)
    settings = DemoSettings(profile, knobs, error_rate, latency_ms, default_model, token_env, request_log)
    click.echo(f"demo gateway {profile.name}: {profile.method} http://{host}:{port}{profile.path}", err=True)
    serve(settings, host, port)


COMMANDS: list[click.Command] = [gateways]

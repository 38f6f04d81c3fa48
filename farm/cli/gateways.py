"""`farm gateways serve`: run a demo gateway (a real HTTP server speaking one probe's wire profile);
`farm gateways faults`: a fault-injecting proxy in front of any gateway."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from farm.cli.common import OneLineGroup, config_from
from farm.errors import UsageError
from farm.gateway.demo import DemoSettings, create_app
from farm.gateway.process import bind_socket, serve
from farm.probes import get_probe, probe_names
from farm.probes.base import DemoOption, MalformedBody
from farm.profiles import resolve_profile

_fraction = click.FloatRange(0.0, 1.0)


def _probe_options() -> dict[str, tuple[DemoOption, list[str]]]:
    """Every probe's demo knobs, once per flag, with the probes that take it."""
    out: dict[str, tuple[DemoOption, list[str]]] = {}
    for name in probe_names():
        for opt in get_probe(name).demo_options:
            out.setdefault(opt.flag, (opt, []))[1].append(name)
    return out


def _with_probe_options(command: Any) -> Any:
    for flag, (opt, probes) in sorted(_probe_options().items(), reverse=True):
        if opt.type is bool:  # a boolean knob is a flag (`--numbers-as-strings`)
            command = click.option(flag, opt.name, is_flag=True, default=None,
                                   help=f"{opt.help} [{', '.join(probes)}]")(command)
            continue
        command = click.option(flag, opt.name, type=opt.type, default=None,
                               help=f"{opt.help} [{', '.join(probes)}; default: {opt.default}]")(command)
    return command


@click.group("gateways", cls=OneLineGroup)
def gateways() -> None:
    """Demo gateways to try the farm on (also what the tests and benchmarks run against)."""


@gateways.command("serve")
@click.option("--probe", "probe_name", default="embed", show_default=True,
              help="Endpoint family to serve (a registered probe: embed, ...).")
@click.option("--profile", "profile_name", required=True,
              help="Wire profile to speak: a preset of the probe (lakehouse-legacy, lakehouse-candidate, ...) or a "
                   "custom one from farm.toml.")
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="TCP port on --host.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (loopback by default; 0.0.0.0 inside a container).")
@click.option("--drift-rate", type=_fraction, default=0.0, show_default=True,
              help="Fraction of inputs answered with a perturbed answer (embed: a vector at --drift-cos).")
@click.option("--error-rate", type=_fraction, default=0.0, show_default=True,
              help="Fraction of requests answered with HTTP 503.")
@click.option("--latency-ms", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Added latency per request (±20% uniform).")
@click.option("--token-env", default=None,
              help="Require `Authorization: Bearer $VAR` where VAR is this environment variable (if set).")
@click.option("--request-log", type=click.Path(dir_okay=False), default=None,
              help="Append one JSON line per request (path, size, status, X-Farm-Worker) to this file.")
@_with_probe_options
@click.pass_context
def serve_cmd(ctx: click.Context, /, probe_name: str, profile_name: str, port: int, host: str, drift_rate: float,
              error_rate: float, latency_ms: float, token_env: str | None, request_log: str | None,
              **knobs: Any) -> None:
    """Serve a demo gateway on HOST:PORT until interrupted."""
    probe = get_probe(probe_name)
    own = {o.name: o for o in probe.demo_options}
    for key in knobs:
        if ctx.get_parameter_source(key) == ParameterSource.COMMANDLINE and key not in own:
            raise UsageError(f"--{key.replace('_', '-')} is not a knob of the {probe_name} demo gateway")
    values = {k: (knobs[k] if knobs.get(k) is not None else o.default) for k, o in own.items()}
    values["drift_rate"] = drift_rate
    profile = resolve_profile(profile_name, config_from(ctx), key="--profile", probe=probe_name)
    try:
        app = create_app(DemoSettings(probe, profile, values, error_rate, latency_ms, token_env, request_log))
    except MalformedBody as exc:
        raise UsageError(str(exc)) from None
    sock = bind_socket(host, port)  # before the banner: a port in use is one line, exit 2
    click.echo(f"demo gateway {probe_name}/{profile.name}: {profile.method} http://{host}:{port}{profile.path}",
               err=True)
    serve(app, sock)


@gateways.command("faults")
@click.option("--upstream", required=True, help="Base URL of the gateway to put the proxy in front of.")
@click.option("--fault", "faults", multiple=True, required=True,
              help="A fault to inject (repeatable; each spoiled request gets one at random): "
                   "reset, drip, truncate, oversize, content-type, utf8, nan, 429, 503, http10, blackhole.")
@click.option("--fault-rate", type=_fraction, default=1.0, show_default=True,
              help="Fraction of requests spoiled (the rest pass through untouched).")
@click.option("--retry-after", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
              help="Retry-After seconds sent with injected 429 and 503 answers.")
@click.option("--oversize-mb", type=click.FloatRange(min=1.0), default=100.0, show_default=True,
              help="MiB of padding an `oversize` answer sends before the document.")
@click.option("--drip-interval", type=click.FloatRange(min=0.0), default=0.1, show_default=True,
              help="Seconds between the 64-byte pieces of a `drip` answer.")
@click.option("--seed", type=int, default=None, help="Seed of the choice of spoiled requests.")
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="TCP port on --host.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
def faults_cmd(upstream: str, faults: tuple[str, ...], fault_rate: float, retry_after: float, oversize_mb: float,
               drip_interval: float, seed: int | None, port: int, host: str) -> None:
    """Forward requests to UPSTREAM and spoil a fraction of the answers (see docs/reliability.md)."""
    import asyncio

    from farm.gateway.faults import FaultPlan, FaultProxy

    try:
        plan = FaultPlan(list(faults), fault_rate, retry_after, oversize_mb, drip_interval=drip_interval, seed=seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    sock = bind_socket(host, port)
    click.echo(f"fault proxy on http://{host}:{port} -> {upstream}: {', '.join(faults)} at rate {fault_rate:g}",
               err=True)
    try:
        with sock:
            asyncio.run(FaultProxy(upstream, plan).serve(host, port, sock=sock))
    except KeyboardInterrupt:
        pass


COMMANDS: list[click.Command] = [gateways]

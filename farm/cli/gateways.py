"""`farm gateways serve`: run a demo gateway (a real HTTP server speaking one probe's wire profile)."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from farm.cli.common import OneLineGroup, config_from
from farm.errors import UsageError
from farm.gateway.demo import DemoSettings, create_app
from farm.probes import get_probe, probe_names
from farm.probes.base import DemoOption, MalformedBody
from farm.profiles import resolve_profile

_fraction = click.FloatRange(0.0, 1.0)


def _param(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


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
            command = click.option(flag, _param(flag), is_flag=True, default=None,
                                   help=f"{opt.help} [{', '.join(probes)}]")(command)
            continue
        command = click.option(flag, _param(flag), type=opt.type, default=None,
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
    own = {_param(o.flag): o for o in probe.demo_options}
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
    click.echo(f"demo gateway {probe_name}/{profile.name}: {profile.method} http://{host}:{port}{profile.path}",
               err=True)
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


COMMANDS: list[click.Command] = [gateways]

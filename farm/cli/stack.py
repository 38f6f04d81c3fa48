"""`farm stack up|down|status|compose` and `farm flower`: run the distributed farm as local processes."""

from __future__ import annotations

import os
from pathlib import Path

import click

from farm.cli.common import OneLineCommand, OneLineGroup
from farm.config import load_config
from farm.errors import UsageError
from farm.stack import (
    StackPorts,
    compose_yaml,
    down,
    resolve_executable,
    saved_ports,
    service_status,
    state_dir,
    up,
)
from farm.stack_health import Health


@click.group("stack", cls=OneLineGroup)
def stack() -> None:
    """The distributed farm on this machine: demo gateways, one worker per gateway queue, the aggregation
    worker, beat, Flower and the web UI (`farm ui`, port 8300), as local processes (the same set
    docker-compose.yml runs in containers).

    Needs Redis (FARM_BROKER_URL, default redis://127.0.0.1:6379/0) and the configured database.
    supervisord runs the services and restarts one that dies (backing off one that dies at start);
    its configuration, its log and the services' logs go to .farm/stack/. Ports: [stack] legacy_port,
    candidate_port, flower_port in farm.toml (defaults 8101, 8102, 5555), or the flags of `farm stack up`.
    """


def _health(ports: StackPorts) -> Health:
    def broker_app() -> object:
        from farm.distributed.celery_app import make_app  # late, and only to ping workers: Celery is slow to import

        return make_app(load_config())

    return Health(ports, broker_app)


@stack.command("up")
@click.option("--only", multiple=True, help="Start only these services (repeatable).")
@click.option("--legacy-port", type=click.IntRange(1, 65535), default=None,
              help="The legacy demo gateway's port (default: [stack] legacy_port, else 8101).")
@click.option("--candidate-port", type=click.IntRange(1, 65535), default=None,
              help="The candidate demo gateway's port (default: [stack] candidate_port, else 8102).")
@click.option("--flower-port", type=click.IntRange(1, 65535), default=None,
              help="Flower's port (default: [stack] flower_port, else 5555).")
@click.option("--ui-port", type=click.IntRange(1, 65535), default=None,
              help="The results UI's port (default: [stack] ui_port, else 8300).")
@click.option("--timeout", "ready_timeout", type=click.FloatRange(1, 600), default=90.0, show_default=True,
              help="Seconds to wait for every service to answer.")
def up_cmd(only: tuple[str, ...], legacy_port: int | None, candidate_port: int | None, flower_port: int | None,
           ui_port: int | None, ready_timeout: float) -> None:
    """Check the ports are free, migrate the database, start every service in the background, supervised, and
    wait until each answers (gateways over HTTP, workers to a ping through the broker, Flower's health check).
    A port in use or a service that cannot start: one line naming it, exit 2, nothing left running."""
    if "flower" in (only or ("flower",)) and not os.environ.get("FARM_FLOWER_AUTH"):
        raise UsageError("set FARM_FLOWER_AUTH=user:password for Flower (or leave it out with --only)")
    configured = load_config().stack_ports
    ports = StackPorts(legacy_port or configured.legacy, candidate_port or configured.candidate,
                       flower_port or configured.flower, ui_port or configured.ui)
    for name, pid in up(state_dir(), list(only) or None, ports=ports, ready=_health(ports),
                        ready_timeout=ready_timeout):
        click.echo(f"started {name} (pid {pid}, answering)")
    click.echo(f"try: farm sweep embed --distributed --samples 5000; watch it on http://127.0.0.1:{ports.ui}/"
               if "ui" in (only or ("ui",)) else "try: farm sweep embed --distributed --samples 5000")


@stack.command("down")
def down_cmd() -> None:
    """Stop every service the stack started."""
    for name in down(state_dir()):
        click.echo(f"stopped {name}")


@stack.command("status")
def status_cmd() -> None:
    """Which stack services run, whether each answers (gateways and Flower over HTTP, workers to a ping through
    the broker; beat has nothing to ask: "-"), and how often each was restarted since `farm stack up`."""
    state = state_dir()
    statuses = service_status(state)
    running = [s.name for s in statuses if s.pid]
    answers = _health(saved_ports(state)).answering(running) if running else {}
    for svc in statuses:
        pid = f"pid {svc.pid}" if svc.pid else ""
        answer = answers.get(svc.name)
        health = "-" if answer is None else ("answering" if answer else "silent")
        last = f"  (last exit: {svc.last_exit})" if svc.restarts and svc.last_exit else ""
        click.echo(f"{svc.name:20s} {svc.state:9s} {health:10s} {pid:10s} restarts {svc.restarts}{last}")


@stack.command("compose")
@click.option("--check", "check_path", type=click.Path(dir_okay=False), default=None,
              help="Exit 1 if this file differs from the generated one.")
def compose_cmd(check_path: str | None) -> None:
    """Print docker-compose.yml, generated from the same description as `farm stack up`."""
    text = compose_yaml()
    if check_path is None:
        click.echo(text, nl=False)
        return
    if Path(check_path).read_text(encoding="utf-8") != text:
        raise click.ClickException(f"{check_path} is stale: regenerate it with `farm stack compose > {check_path}`")


@click.command("flower", cls=OneLineCommand, context_settings={"ignore_unknown_options": True})
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5555, show_default=True)
@click.option("--max-tasks", type=int, default=20_000, show_default=True,
              help="Tasks kept in memory (Flower's default of 100,000 grows without bound at high volume).")
@click.option("--no-auth", is_flag=True, help="Run without basic auth (the HTTP API then answers 401 anyway).")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
def flower(address: str, port: int, max_tasks: int, no_auth: bool, extra: tuple[str, ...]) -> None:
    """Flower, watching the probe workers. Basic auth comes from FARM_FLOWER_AUTH=user:password."""
    argv = ["celery", "-A", "workers", "flower", f"--address={address}", f"--port={port}",
            f"--max_tasks={max_tasks}", *extra]
    auth = os.environ.get("FARM_FLOWER_AUTH")
    env = dict(os.environ)
    if auth:
        if ":" not in auth:
            raise UsageError("FARM_FLOWER_AUTH must be user:password")
        env["FLOWER_BASIC_AUTH"] = auth  # through the environment, so the password is not in `ps` output
    elif not no_auth:
        raise UsageError("Flower needs basic auth: set FARM_FLOWER_AUTH=user:password (or pass --no-auth)")
    cmd = resolve_executable(argv)
    os.execve(cmd[0], cmd, env)


COMMANDS: list[click.Command] = [stack, flower]

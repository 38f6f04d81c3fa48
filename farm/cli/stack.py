"""`farm stack up|down|status|compose` and `farm flower`: run the distributed farm as local processes."""

from __future__ import annotations

import os
from pathlib import Path

import click

from farm.cli.common import OneLineCommand, OneLineGroup
from farm.errors import UsageError
from farm.stack import compose_yaml, down, resolve_executable, service_status, state_dir, up


@click.group("stack", cls=OneLineGroup)
def stack() -> None:
    """The distributed farm on this machine: demo gateways, one worker per gateway queue, the aggregation
    worker, beat, Flower and the web UI (`farm ui`, port 8300), as local processes (the same set
    docker-compose.yml runs in containers).

    Needs Redis (FARM_BROKER_URL, default redis://127.0.0.1:6379/0) and the configured database.
    supervisord runs the services and restarts one that dies (backing off one that dies at start);
    its configuration, its log and the services' logs go to .farm/stack/.
    """


@stack.command("up")
@click.option("--only", multiple=True, help="Start only these services (repeatable).")
def up_cmd(only: tuple[str, ...]) -> None:
    """Migrate the database, then start every service in the background, supervised."""
    if "flower" in (only or ("flower",)) and not os.environ.get("FARM_FLOWER_AUTH"):
        raise UsageError("set FARM_FLOWER_AUTH=user:password for Flower (or leave it out with --only)")
    for name, pid in up(state_dir(), list(only) or None):
        click.echo(f"started {name} (pid {pid})")
    click.echo("try: farm sweep embed --distributed --samples 5000; watch it on http://127.0.0.1:8300/"
               if "ui" in (only or ("ui",)) else "try: farm sweep embed --distributed --samples 5000")


@stack.command("down")
def down_cmd() -> None:
    """Stop every service the stack started."""
    for name in down(state_dir()):
        click.echo(f"stopped {name}")


@stack.command("status")
def status_cmd() -> None:
    """Which stack services run, and how often each was restarted since `farm stack up`."""
    for svc in service_status(state_dir()):
        pid = f"pid {svc.pid}" if svc.pid else ""
        last = f"  (last exit: {svc.last_exit})" if svc.restarts and svc.last_exit else ""
        click.echo(f"{svc.name:20s} {svc.state:9s} {pid:10s} restarts {svc.restarts}{last}")


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

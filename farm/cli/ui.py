"""`farm ui`: the read-only web pages over the results database (farm/ui/)."""

from __future__ import annotations

import ipaddress
import os

import click

from farm.cli.common import OneLineCommand, config_from
from farm.errors import UsageError
from farm.gateway.process import bind_socket, serve

DEFAULT_PORT = 8300
AUTH_VARS = ("FARM_UI_AUTH", "FARM_FLOWER_AUTH")


def is_loopback(host: str) -> bool:
    """Is `host` a loopback address (127.0.0.0/8, ::1, `localhost`)? Any other name or address, 0.0.0.0 and ::
    included, reaches beyond this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def basic_auth(host: str) -> tuple[str, str] | None:
    """The (user, password) pages ask for. Beyond loopback they are required: FARM_UI_AUTH, else Flower's
    FARM_FLOWER_AUTH. On loopback only FARM_UI_AUTH turns auth on (the stack's Flower credentials do not)."""
    beyond = not is_loopback(host)
    for var in AUTH_VARS if beyond else AUTH_VARS[:1]:
        value = os.environ.get(var)
        if value:
            user, sep, password = value.partition(":")
            if not (sep and user and password):
                raise UsageError(f"{var} must be user:password")
            return user, password
    if beyond:
        raise UsageError(f"farm ui bound to {host}, beyond loopback, needs basic auth: set FARM_UI_AUTH=user:password "
                         "(or FARM_FLOWER_AUTH)")
    return None


@click.command("ui", cls=OneLineCommand)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs FARM_UI_AUTH (or FARM_FLOWER_AUTH).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.pass_context
def ui(ctx: click.Context, host: str, port: int) -> None:
    """Serve the migration board, sweeps (live while running) and audits from the results database,
    read-only. Bound to loopback by default; beyond it, basic auth is required (exit 2 without it)."""
    auth = basic_auth(host)
    config = config_from(ctx)
    from farm.store.db import ensure_schema
    from farm.ui.app import Settings, create_app, safe_url

    ensure_schema(config.database_url)  # unreachable, or Postgres not migrated: one line, exit 2
    app = create_app(Settings(config.database_url, config.signoff, config.source, auth))
    sock = bind_socket(host, port)  # before the banner: a port in use is one line, exit 2
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"farm ui: http://{shown}:{sock.getsockname()[1]}/ over {safe_url(config.database_url)}"
               f"{' (basic auth)' if auth else ''}", err=True)
    serve(app, sock)


COMMANDS: list[click.Command] = [ui]

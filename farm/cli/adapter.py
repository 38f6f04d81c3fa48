"""`farm adapter`: the flip. `show` / `export` a sweep's adapter map as a versioned document; `serve` it as an
HTTP proxy in front of the candidate that speaks the legacy wire (docs/adapter.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from farm.cli.common import OneLineGroup, config_from
from farm.errors import UsageError


def _document(ctx: click.Context, sweep_id: str | None, map_file: str | None) -> dict[str, Any]:
    from farm.adapter import document

    if (sweep_id is None) == (map_file is None):
        raise UsageError("give exactly one of --sweep ID and --map FILE")
    if map_file is not None:
        return document.load(map_file)
    return document.from_sweep(config_from(ctx).database_url, str(sweep_id))


def _source(command: Any) -> Any:
    command = click.option("--map", "map_file", type=click.Path(dir_okay=False), default=None,
                           help="An exported adapter document (`farm adapter export`).")(command)
    return click.option("--sweep", "sweep_id", default=None,
                        help="A decided sweep whose adapter map to use (a unique id prefix is enough).")(command)


@click.group("adapter", cls=OneLineGroup)
def adapter() -> None:
    """The flip: a sweep's adapter map, shown, exported, or served in front of the candidate."""


@adapter.command("show")
@_source
@click.pass_context
def show_cmd(ctx: click.Context, sweep_id: str | None, map_file: str | None) -> None:
    """Print the adapter map readably: endpoints, request fields, ops, and what it cannot rebuild."""
    from farm.adapter import document

    click.echo(document.render(_document(ctx, sweep_id, map_file)))


@adapter.command("export")
@_source
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: standard output).")
@click.pass_context
def export_cmd(ctx: click.Context, sweep_id: str | None, map_file: str | None, output: str | None) -> None:
    """Write the adapter map as a stable JSON document (schema farm.adapter/1, both profiles, the ops)."""
    from farm.adapter import document

    data = document.dumps(_document(ctx, sweep_id, map_file))
    if output is None:
        click.echo(data.decode(), nl=False)
        return
    Path(output).write_bytes(data)
    click.echo(output)


@adapter.command("serve")
@_source
@click.option("--upstream", required=True, help="The candidate gateway: a name from farm.toml or a base URL.")
@click.option("--listen", default="127.0.0.1:8400", show_default=True, help="HOST:PORT to serve the legacy wire on.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds per read from the candidate.")
@click.pass_context
def serve_cmd(ctx: click.Context, sweep_id: str | None, map_file: str | None, upstream: str, listen: str,
              timeout: float) -> None:
    """Serve the legacy wire on HOST:PORT in front of UPSTREAM, reshaped by the adapter map, until stopped.
    A map that cannot rebuild a legacy field is refused: one line per field, exit 2."""
    from farm.adapter import document
    from farm.adapter.proxy import AdapterSettings, Unmapped, create_app
    from farm.gateway.process import bind_socket, serve
    from farm.wire import RetryPolicy

    doc = _document(ctx, sweep_id, map_file)
    token_env = None
    if not upstream.startswith(("http://", "https://")):
        gateways = config_from(ctx).gateways
        if upstream not in gateways:
            raise UsageError(f"--upstream {upstream!r} is neither a URL nor a gateway of farm.toml "
                             f"(known: {', '.join(sorted(gateways)) or 'none'})")
        upstream, token_env = gateways[upstream].url, gateways[upstream].token_env
    try:
        app = create_app(AdapterSettings(doc, upstream, token_env, RetryPolicy(timeout=timeout)))
    except Unmapped as exc:
        for line in exc.lines:
            click.echo(f"farm: error: {line}", err=True)
        raise UsageError(f"the adapter map cannot rebuild {len(exc.lines)} legacy field(s); not serving") from None
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT")
    sock = bind_socket(host or "127.0.0.1", int(port))
    legacy = doc["profiles"]["legacy"]
    click.echo(f"adapter {doc['probe']} (map sha256 {document.sha256(doc)[:12]}): {legacy.get('method', 'POST')} "
               f"http://{host}:{port}{legacy['path']} -> {upstream}", err=True)
    serve(app, sock)


COMMANDS: list[click.Command] = [adapter]

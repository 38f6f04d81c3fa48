"""`farm db upgrade|current`: the schema, managed by Alembic."""

from __future__ import annotations

import click

from farm.cli.common import OneLineGroup, config_from
from farm.store.db import current_revision, get_engine, head_revision, normalise_url, upgrade


@click.group("db", cls=OneLineGroup)
def db() -> None:
    """The results database (SQLite at .farm/farm.db by default; FARM_DATABASE_URL for Postgres)."""


@db.command("upgrade")
@click.pass_context
def upgrade_cmd(ctx: click.Context) -> None:
    """Migrate the database to the latest schema (safe to run from several hosts at once)."""
    url = config_from(ctx).database_url
    revision = upgrade(url)
    click.echo(f"{get_engine(normalise_url(url)).url.render_as_string()}: at revision {revision}")


@db.command("current")
@click.pass_context
def current_cmd(ctx: click.Context) -> None:
    """Show the database's schema revision and the latest one."""
    url = config_from(ctx).database_url
    click.echo(f"current {current_revision(get_engine(url)) or 'none'}, head {head_revision()}")


COMMANDS: list[click.Command] = [db]

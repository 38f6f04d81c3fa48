"""`farm init`: write a commented example farm.toml."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click

from farm.cli.common import OneLineCommand
from farm.config import parse_config
from farm.errors import UsageError


def example_config() -> str:
    return files("farm").joinpath("example.toml").read_text(encoding="utf-8")


@click.command("init", cls=OneLineCommand)
@click.option("--path", "target", type=click.Path(dir_okay=False), default="farm.toml", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(target: str, force: bool) -> None:
    """Write a commented example farm.toml (gateways, profiles, corpora, thresholds, schedules)."""
    import tomllib

    path = Path(target)
    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite")
    text = example_config()
    parse_config(tomllib.loads(text), str(path))  # the example must always be a valid config
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


COMMANDS: list[click.Command] = [init]

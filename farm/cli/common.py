"""Small helpers shared by the CLI commands."""

from __future__ import annotations

import click

from farm.config import FarmConfig, load_config
from farm.errors import UsageError


def config_from(ctx: click.Context) -> FarmConfig:
    """The validated config for this invocation (cached on the click context)."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "config" not in root.obj:
        root.obj["config"] = load_config(root.obj.get("config_path"))
    config: FarmConfig = root.obj["config"]
    return config


def _one_line(exc: click.UsageError) -> UsageError:
    """click's own usage errors (bad option, bad value) as our one-line error, exit 2, no usage block; a group
    run without its command names them instead of printing its whole help."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError) and isinstance(exc.ctx.command, click.Group):
        names = ", ".join(exc.ctx.command.list_commands(exc.ctx))
        return UsageError(f"`{exc.ctx.command_path}` needs a command: {names} (see `{exc.ctx.command_path} --help`)")
    return UsageError(exc.format_message())


class OneLineCommand(click.Command):
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: object) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None


class OneLineGroup(click.Group):
    command_class = OneLineCommand

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: object) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                               list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise _one_line(exc) from None

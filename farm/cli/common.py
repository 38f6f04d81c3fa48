"""Small helpers shared by the CLI commands."""

from __future__ import annotations

import click

from farm.config import FarmConfig, load_config


def config_from(ctx: click.Context) -> FarmConfig:
    """The validated config for this invocation (cached on the click context)."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "config" not in root.obj:
        root.obj["config"] = load_config(root.obj.get("config_path"))
    config: FarmConfig = root.obj["config"]
    return config

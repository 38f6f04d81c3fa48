"""`farm signoff`: is the gateway safe to flip under the `[signoff]` plan of farm.toml?"""

from __future__ import annotations

import json
from pathlib import Path

import click

from farm.cli.common import OneLineCommand, config_from
from farm.errors import ConfigError
from farm.report.parity_log import write_atomic
from farm.signoff import as_json, evaluate, markdown
from farm.store.signoff import decided_sweeps


@click.command("signoff", cls=OneLineCommand)
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="farm.toml holding the plan (default: the one `farm --config` or $FARM_CONFIG names).")
@click.option("--json", "as_json_flag", is_flag=True, help="Print the sign-off as one JSON object instead.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the Markdown table to this file.")
@click.pass_context
def signoff(ctx: click.Context, config_file: str | None, as_json_flag: bool, out: str | None) -> None:
    """Say "safe to flip" only when every endpoint of the [signoff] plan PASSes with its latest counted sweep;
    list what blocks it otherwise. Exit 0 safe, 1 an endpoint FAILs, 3 not all decided (INCONCLUSIVE or never
    swept), 2 no plan or a bad one."""
    if config_file is not None:
        ctx.find_root().obj["config_path"] = config_file
    config = config_from(ctx)
    if config.signoff is None:
        raise ConfigError(config.source, "signoff",
                          "no sign-off plan: add [signoff] with created and [signoff.endpoints.<name>] tables "
                          "(see docs/statistics.md, Sign-off)")
    plan = config.signoff
    result = evaluate(plan, config.source, decided_sweeps(config.database_url, {e.probe for e in plan.endpoints}))
    text = markdown(result)
    if out is not None:
        write_atomic(Path(out), text)
    if as_json_flag:
        click.echo(json.dumps(as_json(result), sort_keys=True))
    elif out is not None:
        click.echo(f"{result.headline()} Table: {out}")
    else:
        click.echo(text, nl=False)
    ctx.exit(result.exit_code)


COMMANDS: list[click.Command] = [signoff]

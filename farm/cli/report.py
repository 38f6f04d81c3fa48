"""`farm report SWEEP_ID`: re-render a sweep's report from the database."""

from __future__ import annotations

import json
from pathlib import Path

import click

from farm.cli.common import OneLineCommand, config_from
from farm.report.sweep import render, report_json


@click.command("report", cls=OneLineCommand)
@click.argument("sweep_id")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the sweep's outcome as one JSON object instead.")
@click.option("--no-summary", is_flag=True, help="Do not touch reports/cutover/SUMMARY.md.")
@click.pass_context
def report(ctx: click.Context, sweep_id: str, reports_dir: str, as_json: bool, no_summary: bool) -> None:
    """Re-render the Markdown report (and plots) of SWEEP_ID (a unique prefix is enough)."""
    url = config_from(ctx).database_url
    if as_json:
        click.echo(json.dumps(report_json(url, sweep_id), sort_keys=True, default=str))
        return
    rendered = render(url, sweep_id, Path(reports_dir), update_summary=not no_summary)
    click.echo(str(rendered.path))


COMMANDS: list[click.Command] = [report]

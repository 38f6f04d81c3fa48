"""`farm demo`: start the demo gateway pair, run a 3,000-sample sweep, write the reports, stop the pair."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from farm.cli.common import config_from
from farm.cli.sweep import EXIT_BY_OUTCOME, build_spec, print_outcome
from farm.gateway.process import spawn
from farm.report.embed import report_json
from farm.sweep.run import run_embedded_sweep


@click.command("demo")
@click.option("--samples", type=click.IntRange(min=1), default=3000, show_default=True)
@click.option("--drift-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Make the candidate drift on this fraction of inputs (try 0.01) to see a FAIL.")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def demo(ctx: click.Context, samples: int, drift_rate: float, reports_dir: str, as_json: bool, quiet: bool) -> None:
    """Watch a real embed-parity sweep between two real HTTP gateways on loopback.

    Starts a `lakehouse-legacy` gateway (unit vectors, /ai/embed) and a `lakehouse-candidate` gateway
    (raw magnitudes, /v1/embed) on free ports, sweeps them, writes reports/cutover/embed_parity_<DATE>.md
    and SUMMARY.md, prints the verdict and stops the gateways. Results go to the configured database
    (SQLite at .farm/farm.db by default).
    """
    config = config_from(ctx)
    candidate_args = ["--drift-rate", str(drift_rate)] if drift_rate else []
    with contextlib.ExitStack() as stack:
        legacy = stack.enter_context(spawn("lakehouse-legacy"))
        candidate = stack.enter_context(spawn("lakehouse-candidate", *candidate_args))
        if not as_json:
            click.echo(f"legacy gateway on {legacy.url}, candidate on {candidate.url}", err=True)
        spec = build_spec(config, legacy.url, candidate.url, None, None, None, None, samples, 0, None, 32, 8,
                          30.0, 3, None, None, None, None, None, False, None)
        run = run_embedded_sweep(spec, Path(reports_dir), show_progress=not quiet)
    payload = report_json(spec.database_url, run.outcome.sweep_id)
    if run.report is not None:
        payload["report"] = str(run.report.path)
        if not as_json:
            click.echo(f"report: {run.report.path}" + (f"; parity log: {run.report.summary}"
                                                         if run.report.summary else ""), err=True)
    print_outcome(payload, as_json)
    ctx.exit(EXIT_BY_OUTCOME.get(str(payload.get("verdict")), 1))


COMMANDS: list[click.Command] = [demo]

"""`farm stats`: the statistics engine from the command line (simulation of the verdict designs)."""

from __future__ import annotations

import click

from farm.cli.common import OneLineGroup
from farm.errors import UsageError

COMMANDS: list[click.Command] = []


@click.group("stats", cls=OneLineGroup)
def stats_group() -> None:
    """Statistics engine: check the verdict rules against simulated sweeps."""


@stats_group.command("simulate")
@click.option("--sweeps", type=int, default=1000, show_default=True, help="Simulated sweeps per scenario.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same table).")
@click.option(
    "--p-max", "p_max", type=float, default=0.001, show_default=True, help="Largest tolerated disagreement rate."
)
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Error rate of the verdict.")
@click.option("--cap", type=int, default=20_000, show_default=True, help="Max samples of the sequential design.")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (as pasted in docs/statistics.md).")
@click.option("--family", type=click.Choice(["binomial", "bounded", "corpora"]), default="binomial",
              show_default=True,
              help="Verdict family: binomial agreement (embed, sql, storage, chat at temperature 0) or bounded "
                   "mean (search and retrieve scores, chat similarity; --cap defaults to 10,000 there); `corpora`: "
                   "the scenarios of real corpora (easy-first files, finite corpora, noise blips, continuation).")
def simulate_command(sweeps: int, seed: int, p_max: float, alpha: float, cap: int, markdown: bool,
                     family: str) -> None:
    """False-PASS rate, power and samples used, per design. Binomial: at true rates 0, p_max/2, p_max, 2 p_max,
    10 p_max. Bounded mean: at r_min and around it, and with catastrophic samples the floor test must catch."""
    if sweeps < 1:
        raise UsageError("--sweeps must be >= 1")
    if not 0.0 < p_max < 0.1:
        raise UsageError("--p-max must be in (0, 0.1)")  # 10 p_max must stay a probability
    if not 0.0 < alpha < 1.0:
        raise UsageError("--alpha must be in (0, 1)")
    if cap < 1:
        raise UsageError("--cap must be >= 1")
    if family == "corpora":
        from farm.stats.simulate_corpora import render_markdown_corpora, simulate_corpora

        click.echo(render_markdown_corpora(simulate_corpora(sweeps=sweeps, seed=seed, alpha=alpha), alpha), nl=False)
        return
    if family == "bounded":
        from farm.stats.bounded import MeanParams
        from farm.stats.simulate_bounded import render_markdown_bounded, simulate_bounded

        params = MeanParams(alpha=alpha)
        bounded = simulate_bounded(sweeps=sweeps, seed=seed, params=params, cap=min(cap, 10_000))
        click.echo(render_markdown_bounded(bounded, params), nl=False)
        return
    from farm.stats.simulate import render_markdown, simulate  # numpy/scipy only when the command runs

    rows = simulate(sweeps=sweeps, seed=seed, p_max=p_max, alpha=alpha, cap=cap)
    if markdown:
        click.echo(render_markdown(rows, p_max=p_max, alpha=alpha), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Verdict designs, p_max={p_max:g}, alpha={alpha:g}, {sweeps:,} sweeps per row")
    for col in ("design", "true rate", "PASS", "FAIL", "INCONCL.", "false PASS", "exact P(PASS)", "mean n"):
        table.add_column(col, justify="left" if col == "design" else "right", no_wrap=True)
    for r in rows:
        table.add_row(
            r.design, f"{r.true_rate:.4%}", f"{r.pass_rate:.3f}", f"{r.fail_rate:.3f}", f"{r.inconclusive_rate:.3f}",
            "" if r.false_pass is None else f"{r.false_pass:.3f}", f"{r.exact_pass:.4f}", f"{r.mean_n:,.0f}",
        )
    Console().print(table)


COMMANDS.append(stats_group)

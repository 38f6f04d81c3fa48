"""`farm demo`: for each registered probe (or `--probe P`), start its demo gateway pair, sweep it, write the
reports, stop the pair."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from farm.cli.common import OneLineCommand, config_from
from farm.cli.sweep import EXIT_BY_OUTCOME, print_outcome, run_sweep
from farm.errors import EXIT_FAIL, EXIT_PASS
from farm.gateway.process import spawn
from farm.probes import get_probe, probe_names
from farm.sweep.spec import SweepRequest, build_spec

_SEVERITY = {"PASS": 0, "INCONCLUSIVE": 1, "FAIL": 2}


@click.command("demo", cls=OneLineCommand)
@click.option("--probe", "probes", multiple=True, help="Probe to demonstrate (repeatable; default: every one).")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Inputs per probe (default: each probe's demo size, so the whole demo takes about a minute).")
@click.option("--drift-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Make the candidate drift on this fraction of inputs (try 0.01) to see a FAIL.")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per probe on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def demo(ctx: click.Context, probes: tuple[str, ...], samples: int | None, drift_rate: float, reports_dir: str,
         as_json: bool, quiet: bool) -> None:
    """Watch real parity sweeps between real HTTP gateways on loopback, one per probe.

    For embed: a `lakehouse-legacy` gateway (unit vectors, /ai/embed) against a `lakehouse-candidate` one (raw
    magnitudes, /v1/embed). Each probe's pair is started on free ports, swept, and stopped; the reports go to
    reports/cutover/<probe>_parity_<DATE>.md and SUMMARY.md; results to the configured database (SQLite at
    .farm/farm.db by default). Each pair is built to show one verdict (sql: FAIL, from real differences between
    SQLite and DuckDB; the others PASS); the demo ends with a table of probe, verdict, n and what it shows.
    Exit code: 0 when every probe showed its designed verdict, else 1. With --samples or --drift-rate the design
    no longer holds: the exit code is then the worst verdict (0 all PASS, 3 some INCONCLUSIVE, 1 some FAIL).
    """
    config = config_from(ctx)
    names = list(probes) or probe_names()
    for name in names:
        get_probe(name)  # an unknown --probe is a usage error before any gateway starts
    worst = "PASS"
    rows: list[tuple[str, str, int, bool]] = []
    for name in names:
        payload = _demo_one(config, name, samples, drift_rate, Path(reports_dir), as_json, quiet)
        print_outcome(payload, as_json)
        verdict = str(payload.get("verdict"))
        if _SEVERITY.get(verdict, 2) > _SEVERITY[worst]:
            worst = verdict if verdict in _SEVERITY else "FAIL"
        rows.append((name, verdict, int(str(payload.get("n") or 0)), verdict == get_probe(name).demo_verdict))
    if not as_json:
        click.echo(_table(rows))
    if samples is None and not drift_rate:
        ctx.exit(EXIT_PASS if all(ok for *_, ok in rows) else EXIT_FAIL)
    ctx.exit(EXIT_BY_OUTCOME[worst])


def _table(rows: list[tuple[str, str, int, bool]]) -> str:
    """probe | verdict | n | as designed | what its demo pair shows."""
    lines = [f"{'probe':9s} {'verdict':12s} {'n':>6s}  {'as designed':12s} what it shows"]
    for name, verdict, n, ok in rows:
        probe = get_probe(name)
        designed = ("yes" if ok else "NO") + (f" ({probe.demo_verdict})" if probe.demo_verdict != "PASS" else "")
        lines.append(f"{name:9s} {verdict:12s} {n:>6,}  {designed:12s} {probe.demo_shows}")
    return "\n".join(lines)


def _demo_one(config: Any, name: str, samples: int | None, drift_rate: float, reports: Path, as_json: bool,
              quiet: bool) -> dict[str, Any]:
    probe = get_probe(name)
    legacy_profile, candidate_profile = probe.default_profiles
    with contextlib.ExitStack() as stack:
        legacy_args, candidate_args = stack.enter_context(probe.demo_pair())  # e.g. a store both front
        candidate_args = [*candidate_args, *(["--drift-rate", str(drift_rate)] if drift_rate else [])]
        legacy = stack.enter_context(spawn(legacy_profile, *legacy_args, probe=name))
        candidate = stack.enter_context(spawn(candidate_profile, *candidate_args, probe=name))
        if not as_json:
            click.echo(f"{name}: legacy gateway on {legacy.url}, candidate on {candidate.url}", err=True)
        # A probe's demo size is small enough to take seconds; its p_max, one such a size can decide.
        n = samples or probe.demo_samples
        p_max = probe.demo_p_max if samples is None else None
        spec = build_spec(config, SweepRequest(probe=name, legacy=legacy.url, candidate=candidate.url, samples=n,
                                               p_max=p_max))
        payload = run_sweep(config, spec, reports, distributed=False, show_progress=not quiet)
    if payload.get("report") and not as_json:
        summary = f"; parity log: {payload['summary']}" if payload.get("summary") else ""
        click.echo(f"report: {payload['report']}{summary}", err=True)
    return payload


COMMANDS: list[click.Command] = [demo]

"""`farm shadow`: a mirroring proxy in front of legacy; sampled live traffic becomes a sweep with a verdict that
updates as traffic flows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from farm.cli.common import OneLineCommand, config_from
from farm.cli.sweep import EXIT_BY_OUTCOME, print_outcome, writable_dir
from farm.errors import EXIT_FAIL, UsageError
from farm.probes import probe_names
from farm.report.sweep import report_json
from farm.sweep.spec import SweepRequest, build_spec

_prob = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def listen_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {value!r}: expected HOST:PORT (e.g. 127.0.0.1:8080)")
    return host.strip("[]"), int(port)


@click.command("shadow", cls=OneLineCommand)
@click.option("--probe", type=click.Choice(probe_names()), required=True, help="The endpoint family mirrored.")
@click.option("--legacy", required=True, help="Legacy gateway: a name from farm.toml or a base URL.")
@click.option("--candidate", required=True, help="Candidate gateway: a name from farm.toml or a base URL.")
@click.option("--listen", required=True, help="HOST:PORT the proxy listens on (clients use it instead of legacy).")
@click.option("--legacy-profile", default=None, help="Wire profile of --legacy (parses the clients' requests).")
@click.option("--candidate-profile", default=None, help="Wire profile of --candidate.")
@click.option("--sample-rate", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="Fraction of requests mirrored to the candidate (0: a plain proxy, nothing judged).")
@click.option("--until-decided", is_flag=True, help="Stop the proxy once the verdict is PASS or FAIL.")
@click.option("--max-samples", type=click.IntRange(min=1), default=None,
              help="Stop mirroring (and the proxy) after this many samples.")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Append the mirrored request bodies to FILE, one per line (replay: `farm sweep P --corpus FILE "
                   "--corpus-format requests`). Bodies only: no headers, so no tokens.")
@click.option("--allow-writes", is_flag=True,
              help="Mirror requests the probe calls writes too (a write then happens on the candidate).")
@click.option("--queue-size", type=click.IntRange(1, 100_000), default=1024, show_default=True,
              help="Copies waiting for the candidate at most; beyond, copies are dropped and counted.")
@click.option("--mirror-concurrency", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Copies mirrored at once.")
@click.option("--shed-lag-ms", type=click.FloatRange(min=1.0), default=50.0, show_default=True,
              help="When the proxy's event loop lags more than this, new copies are dropped (counted) and the "
                   "mirror waits: clients first.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds per request (legacy and candidate).")
@click.option("--tau", type=_prob, default=None, help="As `farm sweep`.")
@click.option("--p-max", type=_prob, default=None, help="As `farm sweep`.")
@click.option("--alpha", type=_prob, default=None, help="As `farm sweep`.")
@click.option("--floor", type=click.FloatRange(-1.0, 1.0), default=None, help="As `farm sweep`.")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--no-report", is_flag=True, help="Do not write Markdown reports.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout at the end.")
@click.option("--quiet", is_flag=True, help="No start line on stderr.")
@click.pass_context
def shadow(ctx: click.Context, /, probe: str, legacy: str, candidate: str, listen: str, sample_rate: float,
           until_decided: bool, max_samples: int | None, record: str | None, allow_writes: bool, queue_size: int,
           mirror_concurrency: int, shed_lag_ms: float, reports_dir: str, no_report: bool, as_json: bool, quiet: bool,
           **options: Any) -> None:
    """Serve a proxy clients use instead of legacy: every request goes to legacy and its answer back unchanged;
    a sample of the read requests is also sent to the candidate (off the client's path) and compared by the
    probe. The run is a sweep (mode shadow) judged by always-valid bounds: `farm sweep status ID` shows the
    verdict so far. Ends when decided (--until-decided), at --max-samples, or on Ctrl-C / SIGTERM; then the
    verdict, report and parity log as for a sweep.

    Exit code: 0 PASS, 1 FAIL, 3 INCONCLUSIVE, 2 usage or nothing mirrored.
    """
    from farm.gateway.process import bind_socket
    from farm.shadow.run import ShadowOptions, run_shadow

    config = config_from(ctx)
    host, port = listen_address(listen)
    spec = build_spec(config, SweepRequest(probe=probe, legacy=legacy, candidate=candidate, noise_sample=0.0, samples=1,
                                           batch_size=1, **options))
    if not no_report:
        writable_dir(reports_dir, "--reports-dir")
    if record is not None:
        writable_dir(str(Path(record).resolve().parent), "--record")
    sock = bind_socket(host, port)
    opts = ShadowOptions((host, port), sample_rate, until_decided, max_samples, Path(record) if record else None,
                         allow_writes, queue_size, mirror_concurrency, shed_lag=shed_lag_ms / 1000)

    def started(sweep_id: str) -> None:
        if not quiet:
            click.echo(f"farm: shadow sweep {sweep_id}: proxy on http://{host}:{port} -> {spec.legacy.url} "
                       f"(candidate {spec.candidate.url})", err=True)

    run = run_shadow(spec, opts, None if no_report else Path(reports_dir), sock, on_start=started)
    payload = report_json(spec.database_url, run.outcome.sweep_id)
    payload["stopped_by"] = run.stopped_by
    if run.report is not None:
        payload["report"] = str(run.report.path)
    if not as_json:
        click.echo(f"farm: shadow: {json.dumps({k: run.counts[k] for k in ('forwarded', 'mirrored', 'skipped')})}"
                   f"; {run.counts['population']}", err=True)
    print_outcome(payload, as_json)
    ctx.exit(EXIT_BY_OUTCOME.get(str(payload.get("verdict")), EXIT_FAIL))


COMMANDS: list[click.Command] = [shadow]

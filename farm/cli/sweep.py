"""`farm sweep <probe>`: one parity sweep between two gateways (a command per registered probe);
`farm sweep status|cancel|resume`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from farm.cli.common import OneLineCommand, OneLineGroup, config_from
from farm.config import FarmConfig, Thresholds
from farm.distributed.producer import Flow
from farm.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, UsageError
from farm.probes import Probe, get_probe, probe_names
from farm.report.sweep import report_json
from farm.store.sweeps import get_sweep, recent_sweeps, sample_count, set_status
from farm.sweep.run import run_embedded_sweep
from farm.sweep.spec import SweepRequest, SweepSpec, build_spec

EXIT_BY_OUTCOME = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}
_prob = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def flow_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The distributed producer's pacing options, shared by `sweep <probe> --distributed` and `sweep resume`."""
    d = Flow()
    options = [
        click.option("--max-inflight", type=click.IntRange(1, 10_000), default=d.max_inflight, show_default=True,
                     help="Distributed: batches dispatched but not yet paired, at most."),
        click.option("--batches-per-task", type=click.IntRange(1, 256), default=d.batches_per_task,
                     show_default=True,
                     help="Distributed: batches per Celery message (a worker sends them concurrently); more cuts "
                          "the per-message cost, fewer spreads a small sweep over more workers."),
        click.option("--resend-after", type=click.FloatRange(min=1.0), default=d.resend_after, show_default=True,
                     help="Distributed: the longest a batch may stay unpaired before what it misses is sent again "
                          "(a lost message or a dead worker delays the sweep, never stalls it)."),
        click.option("--resend-min", type=click.FloatRange(min=1.0), default=d.resend_min, show_default=True,
                     help="Distributed: the shortest such wait; in between, a batch is sent again once it waited "
                          "4x the median recent batch (a SIGKILLed worker costs about this much plus its restart)."),
        click.option("--stall-timeout", type=click.FloatRange(min=1.0), default=d.stall_timeout, show_default=True,
                     help="Distributed: give up when no batch lands for this many seconds (no worker on a "
                          "queue?). While still dispatching the sweep is then marked failed (`farm sweep resume` "
                          "goes on with it); once every batch is sent it goes on by itself."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextmanager
def json_on_stop(as_json: bool) -> Iterator[None]:
    """With `--json`, a sweep stopped because a side failed (exit 4) still prints one JSON document on stdout;
    the one-line error on stderr and the exit code stay as they are."""
    from farm.sweep.health import SideFailed

    try:
        yield
    except SideFailed as exc:
        if as_json:
            click.echo(json.dumps(exc.to_json(), sort_keys=True, default=str))
        raise


def print_outcome(payload: dict[str, object], as_json: bool) -> None:
    bad = payload.get("corpus_bad_lines")
    if isinstance(bad, dict) and bad.get("count"):  # skipped, never fatal: but said where the user looks
        click.echo(f"farm: warning: {bad['count']:,} corpus lines skipped (first: {bad.get('first')})", err=True)
    stats = payload.get("statistics")
    for warning in (stats.get("warnings") or []) if isinstance(stats, dict) else []:
        click.echo(f"farm: warning: {warning}", err=True)  # a probe's caveat on its own verdict
    if as_json:
        click.echo(json.dumps(payload, sort_keys=True, default=str))
    else:
        click.echo(f"{payload.get('verdict')}: sweep {payload['sweep_id']}", err=True)
        click.echo(str(payload.get("reason")))


class SweepGroup(OneLineGroup):
    """`farm sweep <probe>` for every registered probe, besides `status`, `cancel` and `resume`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(super().list_commands(ctx)) + probe_names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in probe_names():
            return probe_command(cmd_name)
        return found


@click.group("sweep", cls=SweepGroup)
def sweep() -> None:
    """Run parity sweeps between a legacy gateway and a candidate, one probe (endpoint family) at a time."""


def sweep_options(command: Callable[..., Any], probe: Probe) -> Callable[..., Any]:
    """The options every `farm sweep <probe>` shares, with this probe's defaults in their help."""
    none = Thresholds()  # the defaults when farm.toml sets no [thresholds.<probe>]
    tau, floor = none.value("tau", probe.default_tau), none.value("floor", probe.default_floor)
    p_max, alpha = none.value("p_max", probe.default_p_max), none.value("alpha", None)
    noise = none.value("noise_sample", probe.default_noise_sample)
    per_sample = "a sample's" if probe.family == "binomial" else "the mean"
    options = [
        click.option("--legacy", default="legacy", show_default=True,
                     help="Legacy gateway: a name from farm.toml or a base URL (default: the stack's demo pair)."),
        click.option("--candidate", default="candidate", show_default=True,
                     help="Candidate gateway: a name from farm.toml or a base URL."),
        click.option("--legacy-profile", default=None,
                     help="Wire profile of --legacy (default: its config, else the probe's legacy preset)."),
        click.option("--candidate-profile", default=None,
                     help="Wire profile of --candidate (default: its config, else the probe's candidate preset)."),
        click.option("--legacy-secondary", default=None,
                     help="A second legacy replica (name or URL): the noise floor is legacy against it instead of "
                          "legacy asked twice (what Diffy does). Noise batches as --noise-sample sets (0.05 if "
                          "unset)."),
        click.option("--corpus", default=None,
                     help="Inputs: a text file (one per line), a .jsonl file (with --field), captured request "
                          "bodies (with --corpus-format requests), or a corpus name from farm.toml."),
        click.option("--field", default=None, help="JSONL field holding the input (default: text for .jsonl)."),
        click.option("--corpus-format", type=click.Choice(["lines", "jsonl", "requests"]), default=None,
                     help="How --corpus is read; `requests`: one request body per line as the legacy gateway "
                          "logged it, parsed with the legacy profile (bad lines are counted and skipped)."),
        click.option("--samples", type=click.IntRange(min=1), default=None,
                     help="Number of inputs: the synthetic corpus size, or a cap on --corpus."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic corpus."),
        click.option("--order", type=click.Choice(["random", "file"]), default="random", show_default=True,
                     help="Order the inputs are drawn in: a seeded random permutation of the whole corpus (then "
                          "--samples of them), or the corpus's own order (`file`: not with --until-decided, which "
                          "would decide on whatever the file holds first)."),
        click.option("--order-seed", type=click.IntRange(min=0), default=None,
                     help="Seed of the random order (default: a fresh one, printed and recorded; give it again "
                          "to replay a sweep's order)."),
        click.option("--population", type=click.Choice(["stream", "corpus"]), default=None,
                     help="What the corpus stands for: `stream`, a sample of endless traffic (the default for files "
                          "and captured requests), or `corpus`, the whole population of interest (finite-population "
                          "bounds; sweeping all of it is a census"
                          f"{'; the default for this probe' if probe.default_population == 'corpus' else ''})."),
        click.option("--model", default=None, help="Force this model on both sides (as the seed did)."),
        click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True),
        click.option("--concurrency", type=click.IntRange(1, 512), default=8, show_default=True,
                     help="Batches in flight at once."),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
                     help="Seconds per request."),
        click.option("--retries", type=click.IntRange(0, 20), default=3, show_default=True,
                     help="Retries on 5xx, 429 (Retry-After honoured, at most 30 s), timeouts, connection errors "
                          "and bodies cut short."),
        click.option("--deadline", type=click.FloatRange(min=0.1), default=None,
                     help="Seconds a request may take in all, however steadily its body arrives (default: twice "
                          "--timeout, which bounds each read)."),
        click.option("--max-body-mb", type=click.FloatRange(min=0.001), default=None,
                     help="Largest answer read, in MiB (default 64); a larger one is the body_too_large error."),
        click.option("--tau", type=_prob, default=None,
                     help=(f"A sample agrees when its {probe.quantity} >= tau (default {tau:g})" if
                           probe.family == "binomial" else
                           f"PASS needs {per_sample} {probe.quantity}'s lower bound >= tau (default {tau:g})")
                     + f"; [thresholds.{probe.name}] in farm.toml sets this and the others' defaults."),
        click.option("--p-max", type=_prob, default=None,
                     help=(f"Largest acceptable disagreement rate (default {p_max:g})." if probe.family == "binomial"
                           else f"Largest acceptable rate of samples below --floor (default {p_max:g}).")),
        click.option("--alpha", type=_prob, default=None, help=f"1 - confidence of the bounds (default {alpha:g})."),
        click.option("--floor", type=click.FloatRange(-1.0, 1.0), default=None,
                     help=(f"Any score below this fails at once (default {floor:g})." if probe.family == "binomial"
                           else f"A sample below this counts against --p-max (default {floor:g}).")),
        click.option("--noise-sample", type=click.FloatRange(0.0, 1.0), default=None,
                     help=f"Fraction of batches asked twice of each gateway (A/A noise floor; default {noise:g})."),
        click.option("--until-decided", is_flag=True,
                     help="Keep sampling until the verdict is decided (always-valid bounds), up to --max-samples."),
        click.option("--max-samples", type=click.IntRange(min=1), default=None,
                     help="Cap for --until-decided (default 100,000)."),
        click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True),
        click.option("--no-report", is_flag=True, help="Do not write Markdown reports."),
        click.option("--distributed", is_flag=True,
                     help="Run through Celery workers, one per gateway queue (needs a broker; see "
                          "docs/distributed.md)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--strict-wire", is_flag=True,
                     help="Also compare the response documents themselves (after the profiles' ignore lists): a "
                          "sample whose documents differ is a disagreement; differences counted by field path."),
    ]
    command = flow_options(command)  # the distributed pacing options last in --help
    for option in reversed(options):
        command = option(command)
    return command


def probe_command(name: str) -> click.Command:
    """`farm sweep <name>`, generated from the registered probe."""
    probe = get_probe(name)
    legacy_default, candidate_default = probe.default_profiles
    own = [o.name for o in probe.sweep_options]

    @click.pass_context
    def run(ctx: click.Context, /, reports_dir: str, no_report: bool, distributed: bool, as_json: bool, quiet: bool,
            max_inflight: int, batches_per_task: int, resend_after: float, resend_min: float,
            stall_timeout: float, **options: Any) -> None:
        config = config_from(ctx)
        if options.get("legacy_secondary") and options.get("noise_sample") is None:
            options["noise_sample"] = 0.05
        mine = {key: options.pop(key) for key in own}
        if options.pop("strict_wire", False):
            mine["strict_wire"] = True
        spec = build_spec(config, SweepRequest(probe=name, probe_options=mine, **options))
        if mine.get("strict_wire"):
            from farm.adapter.proxy import served_map

            digest = served_map(spec.candidate.url, min(spec.retry.timeout, 5.0))
            if digest is not None:  # the candidate is an adapter proxy: the parity log names its map
                spec.probe_options["adapter_sha256"] = digest
        if spec.corpus.shuffled and not quiet:
            click.echo(f"farm: inputs in random order, seed {spec.corpus.order_seed} (--order-seed "
                       f"{spec.corpus.order_seed} replays it)", err=True)
        if not no_report:
            writable_dir(reports_dir, "--reports-dir")  # before the sweep, not after it: the verdict is not lost
        flow = Flow(max_inflight, batches_per_task, resend_after, stall_timeout, resend_min)
        with json_on_stop(as_json):
            payload = run_sweep(config, spec, None if no_report else Path(reports_dir), distributed=distributed,
                                show_progress=not quiet, flow=flow)
        print_outcome(payload, as_json)
        ctx.exit(EXIT_BY_OUTCOME.get(str(payload.get("verdict")), EXIT_FAIL))

    run.__doc__ = (f"{probe.title}: compare the `{name}` endpoint of two gateways over a corpus and decide "
                   f"PASS / FAIL / INCONCLUSIVE.\n\nDefault wire profiles: {legacy_default} (legacy), "
                   f"{candidate_default} (candidate); built-in: {', '.join(probe.presets)}.\n\n"
                   "Exit code: 0 PASS, 1 FAIL, 3 INCONCLUSIVE, 4 a side failed on every sample (stopped early), "
                   "2 usage, configuration error or a service unreachable.")
    command = sweep_options(run, probe)
    for opt in reversed(probe.sweep_options):
        if opt.type is bool:  # a boolean option is a flag (`--strict-types`), unset unless given
            command = click.option(opt.flag, is_flag=True, default=None, help=opt.help)(command)
            continue
        command = click.option(opt.flag, type=opt.type, default=None,  # a None default is said in the help
                               help=opt.help if opt.default is None else f"{opt.help} [default: {opt.default}]")(
            command)
    return click.command(name, cls=OneLineCommand)(command)


def writable_dir(path: str, option: str) -> None:
    """UsageError unless `path` is (or can be made) a directory this process can write."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot create it ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: not writable")


def run_sweep(config: FarmConfig, spec: SweepSpec, reports: Path | None, *, distributed: bool,
              show_progress: bool, flow: Flow | None = None) -> dict[str, Any]:
    """Run a sweep embedded or distributed and return what `--json` prints."""
    if distributed:
        from farm.distributed.producer import run_distributed_sweep

        return run_distributed_sweep(config, spec, reports, show_progress=show_progress, flow=flow or Flow())
    run = run_embedded_sweep(spec, reports, show_progress=show_progress)
    payload = report_json(spec.database_url, run.outcome.sweep_id)
    if run.stopped_at is not None:
        payload["stopped_at"] = run.stopped_at
    if run.report is not None:
        payload["report"] = str(run.report.path)
        if run.report.summary is not None:
            payload["summary"] = str(run.report.summary)
    return payload


@sweep.command("status")
@click.argument("sweep_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def status_cmd(ctx: click.Context, sweep_id: str | None, as_json: bool) -> None:
    """Progress and verdict of SWEEP_ID (a unique prefix is enough), or the 20 latest sweeps."""
    url = config_from(ctx).database_url
    if sweep_id is None:
        for s in recent_sweeps(url):
            click.echo(f"{s.id}  {s.probe:6s} {s.mode:11s} {s.status:10s} {s.legacy} vs {s.candidate}")
        return
    sweep_row = get_sweep(url, sweep_id)
    info = {"sweep_id": sweep_row.id, "status": sweep_row.status, "mode": sweep_row.mode,
            "batches_done": sweep_row.batches_done, "batches_total": sweep_row.batches_total,
            "samples": sample_count(url, sweep_row.id)}
    verdict = report_json(url, sweep_row.id)
    info.update({k: verdict[k] for k in ("verdict", "reason") if k in verdict})
    if "verdict" not in verdict and sweep_row.mode == "shadow" and info["samples"]:
        info.update(current_verdict(url, sweep_row))
    if as_json:
        click.echo(json.dumps(info, sort_keys=True, default=str))
    else:
        for key, value in info.items():
            click.echo(f"{key:14s} {value}")


def current_verdict(url: str, sweep_row: Any) -> dict[str, Any]:
    """A running shadow sweep's verdict so far: the always-valid sequential bounds on what is stored, which may be
    looked at any time (the run itself asks the same rule)."""
    from farm.sweep.finalize import decide_stored
    from farm.sweep.spec import params_of

    probe = get_probe(sweep_row.probe)
    verdict = decide_stored(url, sweep_row.id, probe, params_of(sweep_row), planned=None, sequential=True,
                            options=dict(sweep_row.params.get("probe_options") or {}))
    return {"verdict": verdict.outcome, "reason": f"so far (running): {verdict.reason}"}


@sweep.command("cancel")
@click.argument("sweep_id")
@click.pass_context
def cancel_cmd(ctx: click.Context, sweep_id: str) -> None:
    """Stop a running sweep: the producer stops dispatching and workers skip its remaining batches."""
    url = config_from(ctx).database_url
    sweep_row = get_sweep(url, sweep_id)
    if sweep_row.status not in ("running",):
        raise UsageError(f"sweep {sweep_row.id} is {sweep_row.status}, not running")
    set_status(url, sweep_row.id, "cancelled")
    click.echo(f"cancelled {sweep_row.id}")


@sweep.command("resume")
@click.argument("sweep_id")
@click.option("--more", type=click.IntRange(min=1), default=None,
              help="Embedded: draw N more inputs of the same sequence and judge all samples with the always-valid "
                   "bounds (what an INCONCLUSIVE verdict asks for).")
@click.option("--until-decided", is_flag=True,
              help="Embedded: go on until the always-valid verdict decides, up to --max-samples in all.")
@click.option("--max-samples", type=click.IntRange(min=1), default=None,
              help="Cap of the samples in all for --until-decided (default: 100,000 more).")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--no-report", is_flag=True, help="Do not write Markdown reports.")
@flow_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def resume_cmd(ctx: click.Context, /, sweep_id: str, more: int | None, until_decided: bool, max_samples: int | None,
               reports_dir: str, no_report: bool, as_json: bool, quiet: bool, **flow: Any) -> None:
    """Go on with a sweep.

    A distributed sweep whose producer stopped (crashed, interrupted, gave up on a stall, or a scheduled fire cut
    off): sends again every batch not yet paired, then waits for the verdict.

    An embedded sweep (INCONCLUSIVE, interrupted, or stopped at its cap): `--more N` draws the next N inputs of
    the same sequence, `--until-decided` goes on until decided. Either way the whole sweep is then judged by the
    always-valid bounds, so continuing after an INCONCLUSIVE keeps the false PASS rate at or below alpha (a fresh
    fixed-n test on the larger sample would not).

    Runs where the corpus is readable, with the same broker and database. Exit code as `sweep <probe>`.
    """
    config = config_from(ctx)
    sweep_row = get_sweep(config.database_url, sweep_id)
    if sweep_row.mode == "distributed":
        if more is not None or until_decided:
            raise UsageError(f"sweep {sweep_row.id} is distributed: --more and --until-decided continue embedded "
                             "sweeps only; resume it without them")
        from farm.distributed.producer import resume_distributed_sweep

        with json_on_stop(as_json):
            payload = resume_distributed_sweep(config, sweep_id, show_progress=not quiet, flow=Flow(**flow))
    else:
        from farm.sweep.continuation import plan_continuation

        if not no_report:
            writable_dir(reports_dir, "--reports-dir")
        spec, resume = plan_continuation(config.database_url, sweep_row.id, more=more, until_decided=until_decided,
                                         max_samples=max_samples)
        with json_on_stop(as_json):
            run = run_embedded_sweep(spec, None if no_report else Path(reports_dir), show_progress=not quiet,
                                     resume=resume)
        payload = report_json(spec.database_url, run.outcome.sweep_id)
        if run.report is not None:
            payload["report"] = str(run.report.path)
    print_outcome(payload, as_json)
    ctx.exit(EXIT_BY_OUTCOME.get(str(payload.get("verdict")), EXIT_FAIL))


COMMANDS: list[click.Command] = [sweep]

"""`farm sweep embed`: one embed-parity sweep between two gateways; `farm sweep status|cancel|resume`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from farm.cli.common import config_from
from farm.corpus import CorpusSpec
from farm.distributed.producer import Flow
from farm.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, UsageError
from farm.gateway.client import RetryPolicy
from farm.report.embed import report_json
from farm.stats import VerdictParams
from farm.store.sweeps import get_sweep, recent_sweeps, sample_count, set_status
from farm.sweep.run import run_embedded_sweep
from farm.sweep.spec import SweepSpec, resolve_target

EXIT_BY_OUTCOME = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}
_prob = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def flow_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The distributed producer's pacing options, shared by `sweep embed --distributed` and `sweep resume`."""
    d = Flow()
    options = [
        click.option("--max-inflight", type=click.IntRange(1, 10_000), default=d.max_inflight, show_default=True,
                     help="Distributed: batches dispatched but not yet paired, at most."),
        click.option("--batches-per-task", type=click.IntRange(1, 256), default=d.batches_per_task,
                     show_default=True,
                     help="Distributed: batches per Celery message (a worker sends them concurrently); more cuts "
                          "the per-message cost, fewer spreads a small sweep over more workers."),
        click.option("--resend-after", type=click.FloatRange(min=1.0), default=d.resend_after, show_default=True,
                     help="Distributed: seconds a batch may stay unpaired before what it misses is sent again "
                          "(a lost message or a dead worker delays the sweep, never stalls it)."),
        click.option("--stall-timeout", type=click.FloatRange(min=1.0), default=d.stall_timeout, show_default=True,
                     help="Distributed: give up when no batch lands for this many seconds (no worker on a "
                          "queue?). While still dispatching the sweep is then marked failed (`farm sweep resume` "
                          "goes on with it); once every batch is sent it goes on by itself."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def print_outcome(payload: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(payload, sort_keys=True, default=str))
    else:
        click.echo(f"{payload.get('verdict')}: sweep {payload['sweep_id']}", err=True)
        click.echo(str(payload.get("reason")))


@click.group("sweep")
def sweep() -> None:
    """Run parity sweeps between a legacy gateway and a candidate."""


@sweep.command("embed")
@click.option("--legacy", default="legacy", show_default=True,
              help="Legacy gateway: a name from farm.toml or a base URL (default: the stack's demo pair).")
@click.option("--candidate", default="candidate", show_default=True,
              help="Candidate gateway: a name from farm.toml or a base URL.")
@click.option("--legacy-profile", default=None,
              help="Wire profile of --legacy (default: its config, else lakehouse-legacy).")
@click.option("--candidate-profile", default=None,
              help="Wire profile of --candidate (default: its config, else lakehouse-candidate).")
@click.option("--corpus", "corpus_ref", default=None,
              help="Inputs: a text file (one per line), a .jsonl file (with --field), or a corpus name from farm.toml.")
@click.option("--field", default=None, help="JSONL field holding the input text (default: text for .jsonl).")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Number of inputs: the synthetic corpus size, or a cap on --corpus.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic corpus.")
@click.option("--model", default=None, help="Force this model on both sides (as the seed did).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 512), default=8, show_default=True,
              help="Batches in flight at once.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds per request.")
@click.option("--retries", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Retries on 5xx, 429, timeouts and connection errors.")
@click.option("--tau", type=_prob, default=None, help="A sample agrees when cosine >= tau (default 0.9999).")
@click.option("--p-max", type=_prob, default=None, help="Largest acceptable disagreement rate (default 0.001).")
@click.option("--alpha", type=_prob, default=None, help="1 - confidence of the bounds (default 0.05).")
@click.option("--floor", type=click.FloatRange(-1.0, 1.0), default=None,
              help="Any cosine below this fails at once (default 0.99).")
@click.option("--noise-sample", type=click.FloatRange(0.0, 1.0), default=None,
              help="Fraction of batches asked twice of each gateway (A/A noise floor).")
@click.option("--until-decided", is_flag=True,
              help="Keep sampling until the verdict is decided (always-valid bounds), up to --max-samples.")
@click.option("--max-samples", type=click.IntRange(min=1), default=None,
              help="Cap for --until-decided (default 100,000).")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--no-report", is_flag=True, help="Do not write Markdown reports.")
@click.option("--distributed", is_flag=True,
              help="Run through Celery workers, one per gateway queue (needs a broker; see docs/distributed.md).")
@flow_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def embed_cmd(ctx: click.Context, /, legacy: str, candidate: str, legacy_profile: str | None,
              candidate_profile: str | None, corpus_ref: str | None, field: str | None, samples: int | None,
              seed: int, model: str | None, batch_size: int, concurrency: int, timeout: float, retries: int,
              tau: float | None, p_max: float | None, alpha: float | None, floor: float | None,
              noise_sample: float | None, until_decided: bool, max_samples: int | None, reports_dir: str,
              no_report: bool, distributed: bool, as_json: bool, quiet: bool, **flow: Any) -> None:
    """Compare the embed endpoint of two gateways over a corpus and decide PASS / FAIL / INCONCLUSIVE.

    Exit code: 0 PASS, 1 FAIL, 3 INCONCLUSIVE, 2 usage or configuration error.
    """
    config = config_from(ctx)
    spec = build_spec(config, legacy, candidate, legacy_profile, candidate_profile, corpus_ref, field, samples,
                      seed, model, batch_size, concurrency, timeout, retries, tau, p_max, alpha, floor,
                      noise_sample, until_decided, max_samples)
    reports = None if no_report else Path(reports_dir)
    if distributed:
        from farm.distributed.producer import run_distributed_sweep

        payload = run_distributed_sweep(config, spec, reports, show_progress=not quiet, flow=Flow(**flow))
    else:
        run = run_embedded_sweep(spec, reports, show_progress=not quiet)
        payload = report_json(spec.database_url, run.outcome.sweep_id)
        if run.stopped_at is not None:
            payload["stopped_at"] = run.stopped_at
        if run.report is not None:
            payload["report"] = str(run.report.path)
    print_outcome(payload, as_json)
    ctx.exit(EXIT_BY_OUTCOME.get(str(payload.get("verdict")), EXIT_FAIL))


def build_spec(config: object, legacy: str, candidate: str, legacy_profile: str | None,
               candidate_profile: str | None, corpus_ref: str | None, field: str | None, samples: int | None,
               seed: int, model: str | None, batch_size: int, concurrency: int, timeout: float, retries: int,
               tau: float | None, p_max: float | None, alpha: float | None, floor: float | None,
               noise_sample: float | None, until_decided: bool, max_samples: int | None) -> SweepSpec:
    from farm.config import FarmConfig

    assert isinstance(config, FarmConfig)
    lt = resolve_target(legacy, legacy_profile, "lakehouse-legacy", config, "legacy")
    ct = resolve_target(candidate, candidate_profile, "lakehouse-candidate", config, "candidate")
    if corpus_ref is not None and corpus_ref in config.corpora:
        named = config.corpora[corpus_ref]
        corpus_ref, field = named.path, field or named.field
    if corpus_ref is not None and field is None and corpus_ref.endswith(".jsonl"):
        field = "text"
    limit = samples
    if until_decided:
        limit = max_samples or samples or 100_000
    elif max_samples is not None:
        raise UsageError("--max-samples only applies with --until-decided (use --samples to cap a sweep)")
    corpus = CorpusSpec(corpus_ref, field, limit, seed)
    corpus.validate()
    th = config.thresholds_for("embed")
    params = VerdictParams(tau=tau if tau is not None else th.tau, p_max=p_max if p_max is not None else th.p_max,
                           alpha=alpha if alpha is not None else th.alpha,
                           floor=floor if floor is not None else th.floor)
    if params.floor > params.tau:
        raise UsageError(f"--floor {params.floor} must not exceed --tau {params.tau}")
    return SweepSpec(
        legacy=lt, candidate=ct, corpus=corpus, database_url=config.database_url, model=model,
        batch_size=batch_size, concurrency=concurrency, params=params,
        noise_sample=noise_sample if noise_sample is not None else th.noise_sample,
        until_decided=until_decided, retry=RetryPolicy(attempts=retries + 1, timeout=timeout),
    )


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
    if as_json:
        click.echo(json.dumps(info, sort_keys=True, default=str))
    else:
        for key, value in info.items():
            click.echo(f"{key:14s} {value}")


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
@flow_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def resume_cmd(ctx: click.Context, /, sweep_id: str, as_json: bool, quiet: bool, **flow: Any) -> None:
    """Go on with a distributed sweep whose producer stopped (crashed, interrupted, gave up on a stall, or a
    scheduled fire cut off): sends again every batch not yet paired, then waits for the verdict.

    Runs where the corpus is readable, with the same broker and database. Exit code as `sweep embed`.
    """
    from farm.distributed.producer import resume_distributed_sweep

    payload = resume_distributed_sweep(config_from(ctx), sweep_id, show_progress=not quiet, flow=Flow(**flow))
    print_outcome(payload, as_json)
    ctx.exit(EXIT_BY_OUTCOME.get(str(payload.get("verdict")), EXIT_FAIL))


COMMANDS: list[click.Command] = [sweep]

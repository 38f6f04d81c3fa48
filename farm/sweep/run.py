"""Run a sweep end to end in this process: record it, run the engine, finalize, render the reports."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from farm.corpus import count_items
from farm.interrupt import run_interruptible
from farm.report.sweep import RenderedReport, render
from farm.store.sweeps import create_sweep, set_status
from farm.sweep.engine import run_embedded
from farm.sweep.finalize import Outcome, finalize
from farm.sweep.spec import SweepSpec, new_sweep_id


@dataclass(frozen=True)
class Continuation:
    """A recorded sweep going on (`farm sweep resume ID --more N`): its id, the samples it has, and each
    continuation so far (from which sample, how many more)."""

    sweep_id: str
    done: frozenset[int]
    history: list[dict[str, object]]


@dataclass(frozen=True)
class SweepRun:
    outcome: Outcome
    report: RenderedReport | None
    planned: int
    stopped_at: int | None


@contextmanager
def progress_bar(total: int | None, label: str, enabled: bool = True) -> Iterator[Progress]:
    """A progress bar on stderr (silent when disabled); `total=None` shows a running count."""
    console = Console(stderr=True)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=not enabled, transient=False) as bar:
        bar.add_task(label, total=total)
        yield bar


def planned_total(spec: SweepSpec) -> int | None:
    """The progress bar's total: the corpus size (a cheap count of a file's lines first); None (a running count)
    for inputs listed through the gateway."""
    if spec.corpus.listed is not None:
        return None
    return count_items(spec.corpus, spec.plugin, spec.legacy.profile)


def gateway_rows(spec: SweepSpec) -> list[dict[str, str]]:
    targets = [spec.legacy, spec.candidate] + ([spec.legacy_secondary] if spec.legacy_secondary else [])
    return [{"name": t.name, "url": t.url, "profile": t.profile.name, "queue": f"probe.{t.name}",
             "token_env": t.token_env or ""} for t in targets]


def run_embedded_sweep(spec: SweepSpec, reports_dir: Path | None, *, show_progress: bool = True,
                       resume: Continuation | None = None) -> SweepRun:
    """Record and run a sweep, or go on with a recorded one (`resume`)."""
    if resume is None:
        sweep_id = new_sweep_id()
        create_sweep(spec.database_url, spec.sweep_row(sweep_id, "embedded"), gateway_rows(spec))
    else:
        sweep_id = resume.sweep_id
    label = f"{spec.probe} {spec.legacy.name} vs {spec.candidate.name}"
    # The verdict's scipy import (0.3 s) happens while the first batches wait on the gateways, not before.
    threading.Thread(target=importlib.import_module, args=("scipy.special",), daemon=True).start()
    try:
        total = planned_total(spec) if show_progress else spec.corpus.limit
        with progress_bar(total, label, show_progress) as bar:
            task = bar.task_ids[0]
            if resume is not None:
                bar.advance(task, len(resume.done))
            result = run_interruptible(run_embedded(spec, sweep_id, lambda n: bar.advance(task, n),
                                                    done=resume.done if resume is not None else frozenset()))
    except BaseException:
        # Best effort: when the database is what failed, the error that stopped the sweep is the one to report.
        with contextlib.suppress(Exception):
            set_status(spec.database_url, sweep_id, "failed")
        raise
    if result.tally.failed_side is not None:
        from farm.sweep.health import SideFailed

        set_status(spec.database_url, sweep_id, "failed")
        raise SideFailed(sweep_id, result.tally.failed_side)
    extra: dict[str, object] = {"stopped_early_at": result.tally.decided_at} if result.tally.decided_at else {}
    if resume is not None:
        extra["continued"] = resume.history
    # A continued sweep was looked at before: only the always-valid bounds may judge it now.
    sequential = spec.until_decided or resume is not None
    if result.corpus.bad_lines:
        extra["corpus_bad_lines"] = {"count": result.corpus.bad_lines, "first": result.corpus.first_bad}
    outcome = finalize(spec.database_url, sweep_id, spec.probe, spec.params, result.observer,
                       planned=result.planned, sequential=sequential, extra=extra)
    report = render(spec.database_url, sweep_id, reports_dir) if reports_dir is not None else None
    return SweepRun(outcome, report, result.planned, result.tally.decided_at)

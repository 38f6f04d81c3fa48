"""The producer of a distributed sweep: stream the corpus into batch tasks with flow control, then wait.

At most `max_inflight` batches are dispatched and not yet paired, so a 1,000,000-sample sweep never floods
the broker or this process's memory. Progress is what has landed in the database. Batches that stay unpaired
for `resend_after` seconds are sent again (see `farm.distributed.inflight`): a lost message delays a sweep,
it never stalls it.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from farm.config import FarmConfig
from farm.corpus import CorpusStats, batches
from farm.distributed.inflight import RESEND_AFTER, RESEND_MIN, Inflight
from farm.distributed.jobs import BATCHES_PER_TASK, JobFactory, Part, SideJob, describe_pairing
from farm.distributed.names import AGGREGATE_QUEUE, CALL_TASK, FINALIZE_TASK, PAIR_TASK, gateway_queue
from farm.errors import ServiceUnavailable, UsageError, outage
from farm.reconnect import retrying
from farm.report.sweep import report_json, report_path
from farm.store.batches import paired_batches, set_total
from farm.store.batches import progress as _progress
from farm.store.sweeps import create_sweep, get_sweep, set_status, side_errors
from farm.sweep.health import MIN_BATCHES, SideFailed, failing_side
from farm.sweep.run import gateway_rows, planned_total, progress_bar
from farm.sweep.spec import SweepSpec, new_sweep_id, spec_from_row
from farm.sweep.step import in_noise_subsample


def queue_of(config: FarmConfig, name: str) -> str:
    gw = config.gateways.get(name)
    return gw.queue if gw is not None else gateway_queue(name)


def start(config: FarmConfig, spec: SweepSpec, reports: Path | None) -> str:
    if spec.until_decided:
        raise UsageError("--until-decided runs in embedded mode only (the sequential test needs one ordered stream)")
    sweep_id = new_sweep_id()
    row = spec.sweep_row(sweep_id, "distributed")
    row["params"]["reports_dir"] = str(reports.resolve()) if reports is not None else None
    retrying(create_sweep, spec.database_url, row, gateway_rows(spec))
    return sweep_id


class StallClock:
    """Seconds since the count of paired batches last moved: the producer gives up after `stall_timeout`."""

    def __init__(self) -> None:
        self.done, self.since = -1, time.monotonic()

    def idle(self, done: int) -> float:
        if done != self.done:
            self.done, self.since = done, time.monotonic()
        return time.monotonic() - self.since


class Sender:
    """Publishes the tasks of one sweep: side jobs on their gateway's queue, pairings on the aggregate queue."""

    def __init__(self, app: Any, config: FarmConfig, spec: SweepSpec) -> None:
        self.app = app
        self.queues = {"legacy": queue_of(config, spec.legacy.name),
                       "candidate": queue_of(config, spec.candidate.name)}

    def side(self, job: SideJob) -> None:
        retrying(self.app.send_task, CALL_TASK, args=[job.to_dict()], queue=self.queues[job.side],
                 argsrepr=job.describe())

    def pair(self, sweep_id: str, batch_nos: list[int]) -> None:
        retrying(self.app.send_task, PAIR_TASK, args=[sweep_id, batch_nos], queue=AGGREGATE_QUEUE,
                 argsrepr=describe_pairing(sweep_id, batch_nos))

    def finalize(self, sweep_id: str) -> None:
        retrying(self.app.send_task, FINALIZE_TASK, args=[sweep_id], queue=AGGREGATE_QUEUE)

    def check_broker(self) -> None:
        """Fail fast, in one line, when the broker is not there at all (a restart mid-sweep is ridden out)."""
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=2, interval_start=0.2, interval_step=0.5, timeout=5)
        except Exception as exc:
            what = outage(exc)
            if what is None:
                raise
            url = self.app.conf.broker_url or ""
            detail = what.split(": ", 1)[-1]
            raise ServiceUnavailable(f"broker unreachable at {url.split('@')[-1]}: {detail}") from None

    def stalled(self, sweep_id: str, seconds: float, done: int, total: int | None) -> str:
        queues = ", ".join(sorted({*self.queues.values(), AGGREGATE_QUEUE}))
        return (f"sweep {sweep_id}: no batch landed for {seconds:.0f}s ({done} of {total or '?'} batches paired): "
                f"are workers consuming {queues} running?")


class SideWatch:
    """Stops a sweep whose side failed on every sample of its first batches (see `farm.sweep.health`): one
    query once `MIN_BATCHES` are paired (or the whole, shorter sweep), none after a check found both sides
    answering."""

    def __init__(self, url: str, sweep_id: str, spec: SweepSpec) -> None:
        self.url, self.sweep_id = url, sweep_id
        self.where = {"legacy": spec.legacy.endpoint, "candidate": spec.candidate.endpoint}
        self.cleared = False

    def check(self, done: int, total: int | None = None) -> None:
        if self.cleared or done < min(MIN_BATCHES, total if total else MIN_BATCHES):
            return
        samples, errors = retrying(side_errors, self.url, self.sweep_id)
        reason = failing_side(samples, errors, self.where)
        if reason is None:
            self.cleared = True
            return
        retrying(set_status, self.url, self.sweep_id, "failed")  # workers skip the rest of its batches
        raise SideFailed(self.sweep_id, reason)


@dataclass(frozen=True)
class Flow:
    """How a producer paces a sweep: the distributed options of `farm sweep embed` and `farm sweep resume`."""

    max_inflight: int = 128  # batches dispatched and not yet paired, at most (one task always fits)
    batches_per_task: int = BATCHES_PER_TASK
    resend_after: float = RESEND_AFTER  # the longest a batch waits before a re-send
    stall_timeout: float = 600.0  # seconds without a batch landing before the producer gives up
    resend_min: float = RESEND_MIN  # the shortest: re-sends come at 4x the median recent landing, within both


def dispatch(sender: Sender, spec: SweepSpec, sweep_id: str, inflight: Inflight, flow: Flow = Flow(), *,
             skip: Collection[int] = (), poll: float = 0.2, on_progress: Any = None,
             watch: SideWatch | None = None) -> int:
    """Send every batch not in `skip` (paired already) to both gateways' queues, `flow.batches_per_task` to a
    message, never more than `flow.max_inflight` unpaired; returns the sweep's number of batches.

    When nothing lands for `flow.stall_timeout` while it waits at the bound, the sweep can never finish (its
    remaining batches are not sent): it is marked failed and the error names the queues to check.
    """
    url = spec.database_url
    total = samples = sent = 0
    checked = 0.0
    clock = StallClock()
    factory = JobFactory(spec, sweep_id)
    bound = max(flow.max_inflight, flow.batches_per_task)
    corpus_stats = CorpusStats()
    items = spec.inputs(corpus_stats)
    parts = (Part(b.no, b.start, b.items, in_noise_subsample(b.no, spec.noise_sample))
             for b in batches(items, spec.batch_size))
    while chunk := list(islice(parts, flow.batches_per_task)):
        total += len(chunk)
        samples += sum(len(p.items) for p in chunk)
        group = [p for p in chunk if p.batch_no not in skip]
        # Read progress only at the in-flight bound or twice a second (cancel, progress bar): a query per
        # task cost the producer more than publishing the task.
        while group and (len(inflight) + len(group) > bound or time.monotonic() - checked > 0.5):
            retrying(inflight.refresh, sender.side, sender.pair)
            status, done, _ = retrying(_progress, url, sweep_id)
            checked = time.monotonic()
            if on_progress is not None:
                on_progress(done)
            if status == "cancelled":
                return total
            if watch is not None:
                watch.check(done)
            if len(inflight) + len(group) > bound:
                if clock.idle(done) > flow.stall_timeout:
                    retrying(set_status, url, sweep_id, "failed")
                    raise UsageError(sender.stalled(sweep_id, flow.stall_timeout, done, None)
                                     + f" {sent} batches were sent; the sweep is marked failed "
                                     f"(`farm sweep resume {sweep_id}` goes on with it)")
                time.sleep(poll)
        if group:
            jobs = factory.jobs(group)
            for job in jobs:
                sender.side(job)
            inflight.add(jobs)
            sent += len(group)
    notes = ({"corpus_bad_lines": {"count": corpus_stats.bad_lines, "first": corpus_stats.first_bad}}
             if corpus_stats.bad_lines else None)
    retrying(set_total, url, sweep_id, total, samples, notes)
    if total == 0:
        retrying(set_status, url, sweep_id, "failed")
        raise UsageError("the corpus is empty: nothing to sweep")
    # The last batch may have been paired before the total was known: then nobody enqueued finalize yet.
    sender.finalize(sweep_id)
    return total


def wait(sender: Sender, url: str, sweep_id: str, inflight: Inflight, *, on_progress: Any = None,
         poll: float = 0.1, stall_timeout: float = 600.0, finalize_after: float = 60.0,
         watch: SideWatch | None = None) -> str:
    """Block until the sweep is done, failed or cancelled; re-sends lost batches, and finalize if a complete
    sweep sits idle.

    Gives up (the sweep goes on; `farm sweep status` follows it) when no batch lands for `stall_timeout`.
    """
    idle_since: float | None = None
    clock = StallClock()
    checked = 0.0
    while True:
        if time.monotonic() - checked > 1.0:
            retrying(inflight.refresh, sender.side, sender.pair)
            checked = time.monotonic()
        status, done, total = retrying(_progress, url, sweep_id)
        if on_progress is not None:
            on_progress(done)
        if watch is not None and status in ("running", "finalizing", "done"):
            watch.check(done, total)
        if status in ("done", "failed", "cancelled"):
            return status
        if total is not None and done >= total and status == "running":
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > finalize_after:
                sender.finalize(sweep_id)
                idle_since = None
        if clock.idle(done) > stall_timeout:
            raise UsageError(sender.stalled(sweep_id, stall_timeout, done, total)
                             + f" Every batch was sent, so it completes once they are: `farm sweep status {sweep_id}`")
        time.sleep(poll)


def run_distributed_sweep(config: FarmConfig, spec: SweepSpec, reports: Path | None, *,
                          show_progress: bool = True, flow: Flow = Flow()) -> dict[str, Any]:
    """A new distributed sweep: record it, dispatch it, wait for its verdict."""
    sender = _sender(config, spec)  # the broker is checked before a sweep is recorded
    sweep_id = start(config, spec, reports)
    return _drive(sender, spec, sweep_id, flow, show_progress, skip=set())


RESUMABLE = ("running", "failed", "finalizing")  # finalizing: its aggregation worker may have died in it


def resume_distributed_sweep(config: FarmConfig, sweep_id: str, *, show_progress: bool = True,
                             flow: Flow = Flow()) -> dict[str, Any]:
    """Go on with a distributed sweep whose producer stopped (crashed, interrupted, a scheduled `fire` cut
    off, or gave up on a stall): dispatch again every batch not yet paired, then wait as the producer would.

    Safe while an old producer still runs: every write is idempotent, so at worst some work is done twice.
    """
    url = config.database_url
    sweep = retrying(get_sweep, url, sweep_id)
    if sweep.mode != "distributed":
        raise UsageError(f"sweep {sweep.id} ran in {sweep.mode} mode: only distributed sweeps can be resumed")
    if sweep.status not in RESUMABLE:
        raise UsageError(f"sweep {sweep.id} is {sweep.status}: only a running, finalizing or failed sweep can be "
                         "resumed")
    spec = spec_from_row(sweep, url)
    sender = _sender(config, spec)
    paired = retrying(paired_batches, url, sweep.id)
    retrying(set_status, url, sweep.id, "running")
    return _drive(sender, spec, sweep.id, flow, show_progress, skip=paired)


def _sender(config: FarmConfig, spec: SweepSpec) -> Sender:
    from farm.distributed.celery_app import make_app

    sender = Sender(make_app(config), config, spec)
    sender.check_broker()
    return sender


def _drive(sender: Sender, spec: SweepSpec, sweep_id: str, flow: Flow, show_progress: bool,
           skip: set[int]) -> dict[str, Any]:
    inflight = Inflight(spec.database_url, sweep_id, flow.resend_after, resend_min=min(flow.resend_min,
                                                                                    flow.resend_after))
    label = f"{spec.probe} {spec.legacy.name} vs {spec.candidate.name} (distributed)"
    with progress_bar(planned_total(spec) if show_progress else spec.corpus.limit, label, show_progress) as bar:
        task = bar.task_ids[0]

        def advance(done_batches: int) -> None:
            bar.update(task, completed=min(done_batches * spec.batch_size, spec.corpus.limit or 10**12))

        watch = SideWatch(spec.database_url, sweep_id, spec)
        dispatch(sender, spec, sweep_id, inflight, flow, skip=skip, on_progress=advance, watch=watch)
        status = wait(sender, spec.database_url, sweep_id, inflight, on_progress=advance,
                      stall_timeout=flow.stall_timeout, watch=watch)
    payload = retrying(report_json, spec.database_url, sweep_id)
    payload["resent"] = inflight.resent
    if status != "done":
        payload.setdefault("verdict", None)
        payload["reason"] = f"sweep {status}"
    sweep = retrying(get_sweep, spec.database_url, sweep_id)
    if sweep.params.get("reports_dir"):
        payload["report"] = str(report_path(Path(sweep.params["reports_dir"]), sweep))
    return payload

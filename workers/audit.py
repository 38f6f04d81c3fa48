"""Fleet audit tasks: thin shells over `farm.schedule` (bookkeeping) and `farm.audit` (the work).

- `farm.audit.run_phase(root_run, host, root, phase, profile)` on `audit.<host>`: one phase near the data,
  its `PhaseResult` stored in `scheduled_runs` (first write wins); the phase that completes the root enqueues
- `farm.audit.assemble_root(root_run, host, root)` on `audit.<host>` too, because the root's baseline log lives
  under the root on that host: report + drift table, ONE baseline append (mirrored into the database); the root
  that completes the fleet enqueues
- `farm.audit.fleet_report(fleet_run)` on farm.aggregate: the host x metric report under `reports/audits/`.

No result backend and no chord: results travel through the database; every step is claimed there, so a
redelivery or a second enqueue is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from farm.distributed.names import ASSEMBLE_ROOT_TASK, FLEET_REPORT_TASK, RUN_PHASE_TASK
from farm.schedule import assemble_root as assemble_root_run
from farm.schedule import (
    audit_queue,
    error_result,
    fleet_of,
    phase_landed,
    record_phase,
    write_fleet,
)
from workers.app import AGGREGATE_QUEUE, app, database_url, long_task_limits

log = logging.getLogger(__name__)

@app.task(name=RUN_PHASE_TASK, bind=True, **long_task_limits())
def run_phase(self: Task, root_run: str, host: str, root: str, phase: int, profile: dict[str, Any]) -> None:
    """Run one audit phase over `root` (on this host) and store its result; a crash is stored as a failure."""
    from farm.audit import AuditProfile
    from farm.audit import run_phase as audit_phase

    url = database_url()
    if not phase_landed(url, root_run, phase):  # a redelivery of a phase already stored skips the work
        payload: dict[str, Any] = {"phase": phase, "host": host, "root": root,
                                   "worker": self.request.hostname or "worker",
                                   "queue": (self.request.delivery_info or {}).get("routing_key")}
        try:
            payload["result"] = audit_phase(root, phase, AuditProfile.from_dict(profile)).to_dict()
        except Exception as exc:  # a missing root, a crash or a time limit must not stall the fleet run
            log.exception("audit %s: phase %d over %s failed", root_run, phase, root)
            payload["error"] = f"{type(exc).__name__}: {exc}"
            payload["result"] = error_result(phase, payload["error"])
        complete = record_phase(url, root_run, phase, payload)
    else:
        from farm.schedule import count_phases
        from farm.store.schedules import get_run

        found = get_run(url, root_run)
        complete = found is not None and count_phases(url, root_run) >= len(found[1].get("phases", []))
    if complete:
        assemble_root.apply_async(args=[root_run, host, root], queue=audit_queue(host),
                                  argsrepr=f"{root_run} ({host}:{root})")


@app.task(name=ASSEMBLE_ROOT_TASK, **long_task_limits())
def assemble_root(root_run: str, host: str, root: str) -> None:
    """Assemble the root's report and append its one baseline; the root completing the fleet asks for the report."""
    fleet_done = assemble_root_run(database_url(), root_run)
    if fleet_done:
        fleet_report.apply_async(args=[fleet_of(root_run)], queue=AGGREGATE_QUEUE)
    log.info("audit %s (%s:%s) assembled: %s", root_run, host, root,
             "already done" if fleet_done is None else "fleet complete" if fleet_done else "fleet pending")


@app.task(name=FLEET_REPORT_TASK, **long_task_limits())
def fleet_report(fleet_run: str) -> None:
    """Write the fleet report (host x metric) once, when every root of the run is assembled."""
    path = write_fleet(database_url(), fleet_run)
    if path is not None:
        log.info("audit %s: fleet report %s", fleet_run, path)

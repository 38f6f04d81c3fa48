"""Queue and task names of the distributed farm, defined once (the producer, the workers, the stack, beat)."""

AGGREGATE_QUEUE = "farm.aggregate"
CALL_TASK = "farm.sweep.call_gateway"
PAIR_TASK = "farm.sweep.pair_batch"
FINALIZE_TASK = "farm.sweep.finalize_sweep"
FIRE_TASK = "farm.schedule.fire"
RUN_PHASE_TASK = "farm.audit.run_phase"
ASSEMBLE_ROOT_TASK = "farm.audit.assemble_root"
FLEET_REPORT_TASK = "farm.audit.fleet_report"


def gateway_queue(name: str) -> str:
    """The queue of the worker next to gateway `name` (unless farm.toml names another)."""
    return f"probe.{name}"

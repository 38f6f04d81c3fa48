"""Going on with a recorded embedded sweep: `farm sweep resume ID --more N` or `--until-decided`.

The continued sweep draws the next inputs of the same sequence (same order seed), skips what is stored, and is
judged by the always-valid bounds over all its samples: the same process goes on, so continuing after an
INCONCLUSIVE never inflates the error the way a fresh fixed-n test on the larger sample would
(docs/statistics.md, "Continuation").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from farm.errors import UsageError
from farm.store.sweeps import get_sweep, set_status, stored_indices
from farm.sweep.run import Continuation
from farm.sweep.spec import SweepSpec, spec_from_row

CONTINUABLE = ("done", "failed", "cancelled", "running")
DEFAULT_CAP = 100_000


def plan_continuation(url: str, sweep_id: str, *, more: int | None, until_decided: bool,
                      max_samples: int | None) -> tuple[SweepSpec, Continuation]:
    """The spec of the continued sweep and what it goes on from; the sweep row records the new plan."""
    sweep = get_sweep(url, sweep_id)
    if sweep.status not in CONTINUABLE:
        raise UsageError(f"sweep {sweep.id} is {sweep.status}: it cannot be continued")
    if more is None and not until_decided:
        raise UsageError(f"sweep {sweep.id} ran embedded: say how far to go on, --more N or --until-decided")
    spec = spec_from_row(sweep, url)
    if until_decided and spec.corpus.order == "file":
        raise UsageError(f"sweep {sweep.id} draws its inputs in file order: --until-decided would decide on "
                         "whatever the file holds first; continue it with --more N")
    done = frozenset(stored_indices(url, sweep.id))
    drawn = max(done) + 1 if done else 0
    population = spec.params.population
    if population is not None and drawn >= population:
        raise UsageError(f"sweep {sweep.id} has swept all {population:,} inputs of its corpus: its verdict is a "
                         "census, nothing is left to draw")
    if more is not None:
        limit = drawn + more
    else:
        limit = max_samples if max_samples is not None else drawn + DEFAULT_CAP
        if limit <= drawn:
            raise UsageError(f"--max-samples {limit:,}: sweep {sweep.id} has {drawn:,} samples already")
    if population is not None:
        limit = min(limit, population)
    history: list[dict[str, Any]] = [*(sweep.params.get("continued") or []),
                                     {"from": drawn, "to": limit, "until_decided": until_decided}]
    spec = replace(spec, corpus=replace(spec.corpus, limit=limit), until_decided=until_decided)
    params = dict(sweep.params)
    params["continued"] = history
    params["spec"] = {**params["spec"], "corpus": {**params["spec"]["corpus"], "limit": limit}}
    set_status(url, sweep.id, "running", planned=limit, params=params)
    return spec, Continuation(sweep.id, done, history)

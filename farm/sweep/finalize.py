"""The end of a sweep: load its samples, decide the verdict, catalog the wire drift, store both.

Called once by the embedded engine, and once by the Celery aggregation task; calling it again
recomputes the same outcome from the same rows (so a redelivered finalize is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from farm.probes import Probe, get_probe
from farm.stats.latency import per_request
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict
from farm.store.sweeps import get_sweep, load_sample_arrays, save_outcome
from farm.wiredrift import DriftObserver, DriftRow


@dataclass(frozen=True)
class Outcome:
    sweep_id: str
    verdict: Verdict
    catalog: list[DriftRow]
    adapter_map: dict[str, Any]


@dataclass(frozen=True)
class Stored:
    """A sweep's samples as stored, ready for the probe's verdict."""

    arrays: dict[str, Any]
    errors: dict[str, list[str | None]]
    noise: NoiseSamples | None


def load_stored(url: str, sweep_id: str, probe: Probe) -> Stored:
    arrays, errors, noise = load_sample_arrays(url, sweep_id, probe)
    if not probe.latency_per_sample:
        arrays["latency_legacy_ms"] = per_request(arrays["latency_legacy_ms"], arrays["batch_no"])
        arrays["latency_candidate_ms"] = per_request(arrays["latency_candidate_ms"], arrays["batch_no"])
    noise_samples = None
    if noise.get("legacy") is not None and (noise["legacy"].size or noise["candidate"].size):
        noise_samples = NoiseSamples(legacy_self=noise["legacy"], candidate_self=noise["candidate"])
    return Stored(arrays, errors, noise_samples)


def decide_stored(url: str, sweep_id: str, probe: Probe, params: VerdictParams, *, planned: int | None,
                  sequential: bool, options: dict[str, Any], stored: Stored | None = None) -> Verdict:
    """The verdict on what is stored so far: the one rule, asked by `finalize` at the end and by the embedded
    engine's sequential stop along the way (so the stop and the verdict never disagree)."""
    stored = stored or load_stored(url, sweep_id, probe)
    return probe.decide(stored.arrays, stored.errors, params, planned=planned, noise=stored.noise,
                        sequential=sequential, options=options)


def finalize(url: str, sweep_id: str, probe_name: str, params: VerdictParams, observer: DriftObserver, *,
             planned: int | None, sequential: bool = False, extra: dict[str, Any] | None = None,
             status: str = "done") -> Outcome:
    """Decide and store the verdict and the drift catalog, and move the sweep to `status`."""
    probe = get_probe(probe_name)
    stored = load_stored(url, sweep_id, probe)
    arrays, errors = stored.arrays, stored.errors
    if "norm_legacy" in arrays:  # vector norms feed the drift catalog's normalisation row
        finite = np.isfinite(arrays["norm_legacy"]) & np.isfinite(arrays["norm_candidate"])
        observer.observe_norms(arrays["norm_legacy"][finite], arrays["norm_candidate"][finite])
    options = (get_sweep(url, sweep_id).params or {}).get("probe_options") or {}
    verdict = decide_stored(url, sweep_id, probe, params, planned=planned, sequential=sequential, options=options,
                            stored=stored)
    catalog = observer.catalog() + probe.drift_from_samples(arrays, errors)
    adapter = observer.adapter_map()
    strict = observer.strict()
    detail = {**verdict.to_dict(), "adapter_map": adapter, **({"strict_wire": strict} if strict else {}),
              **(extra or {})}
    save_outcome(url, sweep_id, {
        "outcome": verdict.outcome, "reason": verdict.reason, "n": verdict.n,
        "disagreements": verdict.disagreements, "errors": verdict.errors, "detail": detail,
    }, [{"endpoint": probe.name, "kind": r.kind, "field": r.field, "legacy": r.legacy, "candidate": r.candidate,
         "detail": {**r.detail, "same": r.same}} for r in catalog], status=status)
    return Outcome(sweep_id, verdict, catalog, adapter)

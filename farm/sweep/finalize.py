"""The end of a sweep: load its samples, decide the verdict, catalog the wire drift, store both.

Called once by the embedded engine, and once by the Celery aggregation task; calling it again
recomputes the same outcome from the same rows (so a redelivered finalize is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from farm.stats import EmbedSamples, NoiseSamples, Verdict, VerdictParams, decide_embed
from farm.store.sweeps import load_embed_arrays, save_outcome
from farm.wiredrift import DriftObserver, DriftRow


@dataclass(frozen=True)
class Outcome:
    sweep_id: str
    verdict: Verdict
    catalog: list[DriftRow]
    adapter_map: dict[str, Any]


def per_request(latency: npt.NDArray[np.float64], batch_no: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Latency once per request: the samples of a batch share one request, so repeats would inflate n."""
    out = np.full_like(latency, np.nan)
    _, first = np.unique(batch_no, return_index=True)
    out[first] = latency[first]
    return out


def finalize(url: str, sweep_id: str, params: VerdictParams, observer: DriftObserver, *, planned: int | None,
             sequential: bool = False, extra: dict[str, Any] | None = None, status: str = "done") -> Outcome:
    """Decide and store the verdict and the drift catalog, and move the sweep to `status`."""
    arrays, noise = load_embed_arrays(url, sweep_id)
    samples = EmbedSamples(
        cosine=arrays["cosine"], legacy_error=arrays["legacy_error"], candidate_error=arrays["candidate_error"],
        dim_legacy=arrays["dim_legacy"], dim_candidate=arrays["dim_candidate"],
        latency_legacy_ms=per_request(arrays["latency_legacy_ms"], arrays["batch_no"]),
        latency_candidate_ms=per_request(arrays["latency_candidate_ms"], arrays["batch_no"]),
    )
    noise_samples = None
    if noise.get("legacy") is not None and (noise["legacy"].size or noise["candidate"].size):
        noise_samples = NoiseSamples(legacy_self=noise["legacy"], candidate_self=noise["candidate"])
    finite = np.isfinite(arrays["norm_legacy"]) & np.isfinite(arrays["norm_candidate"])
    observer.observe_norms(arrays["norm_legacy"][finite], arrays["norm_candidate"][finite])
    verdict = decide_embed(samples, params, planned=planned, noise=noise_samples, sequential=sequential)
    catalog = observer.catalog()
    adapter = observer.adapter_map()
    detail = {**verdict.to_dict(), "adapter_map": adapter, **(extra or {})}
    save_outcome(url, sweep_id, {
        "outcome": verdict.outcome, "reason": verdict.reason, "n": verdict.n,
        "disagreements": verdict.disagreements, "errors": verdict.errors, "detail": detail,
    }, [{"endpoint": "embed", "kind": r.kind, "field": r.field, "legacy": r.legacy, "candidate": r.candidate,
         "detail": {**r.detail, "same": r.same}} for r in catalog], status=status)
    return Outcome(sweep_id, verdict, catalog, adapter)

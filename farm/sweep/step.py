"""One batch, one step: call a side (twice for the A/A noise floor), compare both sides, build the rows.

The embedded lanes run `call_side` for both gateways and then `compare_sides`; in a distributed sweep each
gateway's worker runs `call_side` and the aggregation worker `compare_sides` on the stored answers. Both
modes therefore produce the same rows from the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from farm.gateway.client import RetryPolicy, Target, call_gateway
from farm.probes.base import Probe, SideResult
from farm.stats.params import VerdictParams
from farm.wiredrift import DriftObserver
from farm.wiredrift.strict import MISMATCH, STRICT_OPTION, side_differences


def in_noise_subsample(batch_no: int, fraction: float) -> bool:
    """Deterministic choice of A/A batches (Knuth's multiplicative hash spreads them evenly)."""
    return fraction > 0 and ((batch_no * 2654435761) % 2**32) / 2**32 < fraction


@dataclass
class SideCall:
    """One gateway's answer to one batch, and its A/A self-scores when the batch was asked twice."""

    result: SideResult
    self_scores: list[float | None] | None = None
    digests: list[str] = field(default_factory=list)


async def call_side(client: httpx.AsyncClient, probe: Probe, target: Target, items: Sequence[Any],
                    model: str | None, policy: RetryPolicy, worker: str | None, *, noise: bool,
                    secondary: Target | None = None, options: Mapping[str, Any] | None = None) -> SideCall:
    """Ask `target` once, and for a noise batch a second time: again itself, or `secondary` (a second legacy
    replica, as Diffy does) when given."""
    opts = options or {}
    result = await call_gateway(client, probe, target, items, model, policy, worker, opts)
    self_scores = None
    if noise:
        again = await call_gateway(client, probe, secondary or target, items, model, policy, worker, opts)
        self_scores = probe.self_scores(result, again, opts)
    return SideCall(result, self_scores, [probe.item_digest(item) for item in items])


@dataclass
class BatchRows:
    """What one batch writes: shared sample rows, the probe's own columns per sample, A/A noise rows."""

    samples: list[dict[str, Any]]
    extra: list[dict[str, Any]]
    noise: list[dict[str, Any]]
    details: dict[str, str] = field(default_factory=dict)  # "side:error class" -> what the class alone does not say


def compare_sides(probe: Probe, sweep_id: str, batch_no: int, start: int, legacy: SideCall, candidate: SideCall,
                  params: VerdictParams, observer: DriftObserver | None = None,
                  options: Mapping[str, Any] | None = None) -> BatchRows:
    """The rows of one batch from its two answers; folds the answers into `observer` when both parsed."""
    lr, cr = legacy.result, candidate.result
    n = len(lr.errors)
    compared = probe.compare(lr, cr, n, params, options or {})
    if (options or {}).get(STRICT_OPTION):
        strict_wire(compared.candidate_errors, lr, cr, observer)
    digests = legacy.digests or candidate.digests
    samples = [{"sweep_id": sweep_id, "idx": start + i, "batch_no": batch_no, "input_sha": digests[i],
                "legacy_error": compared.legacy_errors[i], "candidate_error": compared.candidate_errors[i],
                "score": compared.score[i], "agreed": compared.agreed[i],
                "latency_legacy_ms": lr.latency_of(i), "latency_candidate_ms": cr.latency_of(i)} for i in range(n)]
    extra: list[dict[str, Any]] = []
    if probe.columns:
        names = [c.name for c in probe.columns]
        values = [compared.columns[name] for name in names]
        extra = [{"sweep_id": sweep_id, "idx": start + i, **dict(zip(names, (v[i] for v in values), strict=True))}
                 for i in range(n)]
    noise = [{"sweep_id": sweep_id, "idx": start + i, "side": side, "score": score,
              "error": None if score is not None else "unpaired"}
             for side, call in (("legacy", legacy), ("candidate", candidate)) if call.self_scores is not None
             for i, score in enumerate(call.self_scores)]
    if observer is not None:
        observe(observer, lr, cr)
    details = {f"{side}:{err}": result.detail
               for side, result, errs in (("legacy", lr, compared.legacy_errors), ("candidate", cr,
                                                                                    compared.candidate_errors))
               if result.detail for err in dict.fromkeys(e for e in errs if e is not None)}
    return BatchRows(samples, extra, noise, details)


def strict_wire(candidate_errors: list[str | None], lr: SideResult, cr: SideResult,
                observer: DriftObserver | None) -> None:
    """`--strict-wire`: a sample whose response documents differ (after the profiles' ignore lists) is the
    candidate's `wire_mismatch` where it had no error of its own (a disagreement, legacy having answered); every
    sample of a batch whose one document differs counts. The differing paths are counted in the observer."""
    found = side_differences(lr, cr, observer.legacy if observer else None, observer.candidate if observer else None)
    for i, paths in found:
        if paths and i < len(candidate_errors) and candidate_errors[i] is None:
            candidate_errors[i] = MISMATCH
    if observer is not None:
        observer.observe_strict([paths for _, paths in found])


def observe(observer: DriftObserver, lr: SideResult, cr: SideResult) -> None:
    """Fold a batch's answers into the drift observer: every input's exchange when each input had its own request
    (its answers or, where both sides refused it, its error bodies), else the batch's one exchange. Norms come
    from the stored samples at finalize; batch documents only while the observer wants them."""
    if lr.exchanges is not None and cr.exchanges is not None:
        for le, ce in zip(lr.exchanges, cr.exchanges, strict=True):
            if le is None or ce is None or le[2] != ce[2]:
                continue  # no document on a side, or an error on one side only: the verdict's business
            if le[2]:
                observer.observe_errors(le[1], ce[1])
            else:
                observer.observe(le[0], le[1], ce[0], ce[1], norms=False, full=True)
    elif lr.response is not None and cr.response is not None:
        observer.observe(lr.request, lr.response, cr.request, cr.response, norms=False)

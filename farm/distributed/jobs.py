"""The plain-data messages of a distributed sweep, and the packed side results workers store.

A job names its gateway's URL, wire profile and the *name* of the token variable; never a token, never a
database URL (workers read both from their own environment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, NamedTuple

import orjson

from farm.gateway.client import RetryPolicy
from farm.probes import get_probe
from farm.probes.base import SideResult
from farm.sweep.spec import SweepSpec, target_to_dict
from farm.sweep.step import SideCall

SIDES = ("legacy", "candidate")
BATCHES_PER_TASK = 16  # gateway batches per message: fewer, larger messages cut Celery's per-message cost


class Part(NamedTuple):
    """One gateway batch inside a job: its number, the corpus position of its first input, and its inputs."""

    batch_no: int
    start: int
    items: list[Any]
    noise: bool  # call twice, for the A/A noise floor


@dataclass(frozen=True)
class SideJob:
    """Call one gateway with a few batches (one request each): one Celery message carries several, because
    the per-message cost (broker round trips, events, acks, a transaction) was most of a worker's CPU."""

    sweep_id: str
    side: str
    gateway: dict[str, Any]
    model: str | None
    retry: dict[str, Any]
    parts: tuple[Part, ...]
    probe: str = "embed"
    secondary: dict[str, Any] | None = None  # legacy side: a second replica for the A/A noise floor
    options: dict[str, Any] | None = None  # the probe's sweep options (e.g. k)

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: `asdict` deep-copies the gateway table and the texts of every batch.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SideJob:
        return cls(**{**d, "parts": tuple(Part(*p) for p in d["parts"])})

    @property
    def batch_nos(self) -> list[int]:
        return [p.batch_no for p in self.parts]

    def only(self, batch_no: int) -> SideJob:
        """This job cut down to one of its batches (what a re-send needs)."""
        return replace(self, parts=tuple(p for p in self.parts if p.batch_no == batch_no))

    def describe(self) -> str:
        """What Flower shows instead of the arguments: short, and free of inputs and secrets."""
        return f"sweep={self.sweep_id} batch={_span(self.batch_nos)} side={self.side} gateway={self.gateway['name']} " \
               f"n={sum(len(p.items) for p in self.parts)}"


class JobFactory:
    """Builds the two jobs (one per side) of each group of batches; the per-sweep parts are computed once."""

    def __init__(self, spec: SweepSpec, sweep_id: str) -> None:
        self.sweep_id, self.model, self.probe = sweep_id, spec.model, spec.probe
        self.retry = asdict(spec.retry)
        self.sides = {"legacy": target_to_dict(spec.legacy), "candidate": target_to_dict(spec.candidate)}
        self.secondary = target_to_dict(spec.legacy_secondary) if spec.legacy_secondary else None
        self.options = dict(spec.probe_options) or None

    def jobs(self, parts: Sequence[Part]) -> list[SideJob]:
        return [SideJob(self.sweep_id, side, gateway, self.model, self.retry, tuple(parts), self.probe,
                        self.secondary if side == "legacy" else None, self.options)
                for side, gateway in self.sides.items()]


def describe_pairing(sweep_id: str, batch_nos: Sequence[int]) -> str:
    """Flower's display of a pairing task (it is sent by workers and by the producer's re-sends)."""
    return f"sweep={sweep_id} batch={_span(batch_nos)} batches={len(batch_nos)}"


def _span(nos: Sequence[int]) -> str:
    return f"{min(nos)}-{max(nos)}" if len(nos) > 1 else str(nos[0])


def retry_policy(d: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(**d)


def pack(probe_name: str, call: SideCall, start: int, keep_doc: bool) -> bytes:
    """One JSON header line, then the probe's raw value bytes (embed: float64 vectors, exact)."""
    result = call.result
    header, body = get_probe(probe_name).encode(result.value) if result.value is not None else (None, b"")
    meta = {
        "start": start, "errors": result.errors, "status": result.status, "latency_ms": result.latency_ms,
        "attempts": result.attempts, "request": result.request, "self_scores": call.self_scores,
        "response": result.response if keep_doc else None, "value": header, "ok": result.value is not None,
        "digests": call.digests, "latencies_ms": result.latencies_ms,
        "exchanges": result.exchanges,  # per input, small (a probe with a request per input): drift from each
    }
    return orjson.dumps(meta) + b"\n" + body


def unpack(probe_name: str, payload: bytes) -> tuple[SideCall, int]:
    """The inverse of `pack`: the side's answer and the corpus position of the batch's first input."""
    head, _, body = payload.partition(b"\n")
    meta = orjson.loads(head)
    value = get_probe(probe_name).decode(meta["value"], body) if meta["ok"] else None
    result = SideResult(value, meta["errors"], meta["status"], meta["latency_ms"], meta["attempts"],
                        meta["request"], meta["response"], meta.get("latencies_ms"),
                        [tuple(e) if e is not None else None for e in meta["exchanges"]]
                        if meta.get("exchanges") is not None else None)
    return SideCall(result, meta["self_scores"], meta["digests"]), int(meta["start"])

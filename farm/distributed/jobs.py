"""The plain-data messages of a distributed sweep, and the packed side results workers store.

A job names its gateway's URL, wire profile and the *name* of the token variable; never a token, never a
database URL (workers read both from their own environment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, NamedTuple

import numpy as np
import orjson

from farm.gateway.client import RetryPolicy, SideResult
from farm.sweep.spec import SweepSpec, target_to_dict

SIDES = ("legacy", "candidate")
BATCHES_PER_TASK = 16  # gateway batches per message: fewer, larger messages cut Celery's per-message cost


class Part(NamedTuple):
    """One gateway batch inside a job: its number, the corpus position of its first input, and its inputs."""

    batch_no: int
    start: int
    texts: list[str]
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
               f"n={sum(len(p.texts) for p in self.parts)}"


class JobFactory:
    """Builds the two jobs (one per side) of each group of batches; the per-sweep parts are computed once."""

    def __init__(self, spec: SweepSpec, sweep_id: str) -> None:
        self.sweep_id, self.model = sweep_id, spec.model
        self.retry = asdict(spec.retry)
        self.sides = {"legacy": target_to_dict(spec.legacy), "candidate": target_to_dict(spec.candidate)}

    def jobs(self, parts: Sequence[Part]) -> list[SideJob]:
        return [SideJob(self.sweep_id, side, gateway, self.model, self.retry, tuple(parts))
                for side, gateway in self.sides.items()]


def describe_pairing(sweep_id: str, batch_nos: Sequence[int]) -> str:
    """Flower's display of a pairing task (it is sent by workers and by the producer's re-sends)."""
    return f"sweep={sweep_id} batch={_span(batch_nos)} batches={len(batch_nos)}"


def _span(nos: Sequence[int]) -> str:
    return f"{min(nos)}-{max(nos)}" if len(nos) > 1 else str(nos[0])


def retry_policy(d: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(**d)


def pack(result: SideResult, start: int, self_cos: list[float | None] | None, keep_doc: bool) -> bytes:
    """One JSON header line, then the vectors as raw float64 (exact: the embedded mode parses the same)."""
    vectors = result.vectors
    meta = {
        "start": start, "errors": result.errors, "status": result.status, "latency_ms": result.latency_ms,
        "attempts": result.attempts, "request": result.request, "self_cos": self_cos,
        "response": result.response if keep_doc else None,
        "shape": list(vectors.shape) if vectors is not None else None,
    }
    body = vectors.astype(np.float64).tobytes() if vectors is not None else b""
    return orjson.dumps(meta) + b"\n" + body


def unpack(payload: bytes) -> tuple[SideResult, dict[str, Any]]:
    head, _, body = payload.partition(b"\n")
    meta = orjson.loads(head)
    vectors = None
    if meta["shape"] is not None:
        vectors = np.frombuffer(body, dtype=np.float64).reshape(meta["shape"]).copy()
    result = SideResult(vectors, meta["errors"], meta["status"], meta["latency_ms"], meta["attempts"],
                        meta["request"], meta["response"])
    return result, meta

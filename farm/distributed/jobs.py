"""The plain-data messages of a distributed sweep, and the packed side results workers store.

A job names its gateway's URL, wire profile and the *name* of the token variable; never a token, never a
database URL (workers read both from their own environment).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import orjson

from farm.gateway.client import RetryPolicy, SideResult, Target
from farm.profiles import profile_from_dict, profile_to_dict
from farm.sweep.spec import SweepSpec

SIDES = ("legacy", "candidate")


def target_to_dict(target: Target) -> dict[str, Any]:
    return {"name": target.name, "url": target.url, "token_env": target.token_env,
            "profile": profile_to_dict(target.profile)}


def target_from_dict(d: dict[str, Any]) -> Target:
    return Target(d["name"], d["url"], profile_from_dict(d["profile"]), d.get("token_env"))


@dataclass(frozen=True)
class SideJob:
    """Call one gateway with one batch (and again, for A/A, when `noise`)."""

    sweep_id: str
    batch_no: int
    start: int
    texts: list[str]
    side: str
    gateway: dict[str, Any]
    model: str | None
    retry: dict[str, Any]
    noise: bool

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: `asdict` deep-copies the gateway table and the texts of every batch.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SideJob:
        return cls(**d)

    def describe(self) -> str:
        """What Flower shows instead of the arguments: short, and free of inputs and secrets."""
        return f"sweep={self.sweep_id} batch={self.batch_no} side={self.side} gateway={self.gateway['name']} " \
               f"n={len(self.texts)}"


class JobFactory:
    """Builds the two jobs of each batch; the per-sweep parts are computed once, not per batch."""

    def __init__(self, spec: SweepSpec, sweep_id: str) -> None:
        self.sweep_id, self.model = sweep_id, spec.model
        self.retry = asdict(spec.retry)
        self.sides = {"legacy": target_to_dict(spec.legacy), "candidate": target_to_dict(spec.candidate)}

    def jobs(self, batch_no: int, start: int, texts: list[str], noise: bool) -> list[SideJob]:
        return [SideJob(self.sweep_id, batch_no, start, texts, side, gateway, self.model, self.retry, noise)
                for side, gateway in self.sides.items()]


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

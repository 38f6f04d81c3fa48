"""Distributed mode: observers of disjoint batches merge into exactly the one-pass observer."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from farm.probes.embed.profile import PRESETS
from farm.wiredrift import DriftObserver
from tests.wiredrift.pairs import Batch, make_batch

OPENAI, OLLAMA = PRESETS["openai"], PRESETS["ollama"]


def _batches(count: int) -> list[Batch]:
    rng = np.random.default_rng(21)
    out = []
    for i in range(count):
        lreq, lresp, creq, cresp = make_batch(OPENAI, OLLAMA, rng, n=2 + i % 3)
        lresp["tags"] = ["x", "y"]
        cresp["tags"] = ["y", "x"] if i % 3 == 0 else ["x", "y"]
        cresp["took_ms"] = i  # varies: not a constant
        lresp["took"] = "fast" if i < 4 else "slow"
        cresp["took"] = "fast"
        out.append((lreq, lresp, creq, cresp))
    return out


def _over(batches: list[Batch]) -> DriftObserver:
    obs = DriftObserver(OPENAI, OLLAMA)
    for batch in batches:
        obs.observe(*batch)
    return obs


def test_merge_equals_one_observer_over_all_batches() -> None:
    batches = _batches(9)
    single = _over(batches)
    parts = [_over(batches[:2]), _over(batches[2:6]), _over(batches[6:])]
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    assert merged.to_dict() == single.to_dict()
    assert merged.catalog() == single.catalog()
    assert merged.adapter_map() == single.adapter_map()
    kinds = [r.kind for r in single.catalog()[6:]]
    assert kinds == ["missing", "missing", "missing", "extra", "value", "order"]


def test_merge_through_json_state_like_workers_do() -> None:
    batches = _batches(6)
    states: list[dict[str, Any]] = [json.loads(json.dumps(_over([b]).to_dict())) for b in batches]
    merged = DriftObserver.from_dict(states[0], OPENAI, OLLAMA)
    for state in states[1:]:
        merged.merge(DriftObserver.from_dict(state, OPENAI, OLLAMA))
    single = _over(batches)
    assert merged.to_dict() == single.to_dict()
    assert (merged.batches, merged.docs) == (6, 6)


def test_from_dict_rejects_unknown_versions() -> None:
    state = _over(_batches(1)).to_dict()
    state["version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        DriftObserver.from_dict(state, OPENAI, OLLAMA)


def test_merge_refuses_another_gateway_pair() -> None:
    other = DriftObserver(OLLAMA, OPENAI)
    with pytest.raises(ValueError, match="cannot merge"):
        _over(_batches(1)).merge(other)

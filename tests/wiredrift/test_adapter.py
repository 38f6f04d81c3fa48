"""The adapter map turns candidate responses into exactly the legacy documents."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import numpy as np

from farm.probes.embed.profile import PRESETS, EmbedProfile
from farm.wiredrift import DriftObserver, apply_adapter
from tests.wiredrift.pairs import Batch, make_batch


def assert_same_doc(got: Any, want: Any, where: str = "$") -> None:
    """Equal documents; numbers within 1e-9 (renormalised vectors are equal only up to rounding)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), f"{where}: {got!r:.120} vs {want!r:.120}"
        for key in want:
            assert_same_doc(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_doc(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert isinstance(got, float) and abs(got - want) <= 1e-9, f"{where}: {got} vs {want}"
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} vs {want!r}"


def _learn(legacy: EmbedProfile, candidate: EmbedProfile, count: int = 6, tweak: Any = None) -> tuple[
        dict[str, Any], list[Batch]]:
    rng = np.random.default_rng(5)
    obs = DriftObserver(legacy, candidate)
    batches = []
    for i in range(count):
        batch = make_batch(legacy, candidate, rng, n=1 + i % 4, dim=40)
        if tweak is not None:
            tweak(i, batch[1], batch[3])
        obs.observe(*batch)
        batches.append(batch)
    adapter = obs.adapter_map()
    json.dumps(adapter)  # the map is plain JSON: the flip script reads it
    return adapter, batches


def _round_trip(adapter: dict[str, Any], batches: list[Batch]) -> None:
    for _, legacy_response, _, candidate_response in batches:
        before = copy.deepcopy(candidate_response)
        assert_same_doc(apply_adapter(adapter, candidate_response), legacy_response)
        assert candidate_response == before  # the input is left alone


def test_lakehouse_candidate_to_legacy() -> None:
    adapter, batches = _learn(PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"])
    assert adapter["ops"] == [
        {"op": "move", "moves": [{"from": "vectors", "to": "embeddings"}, {"from": "dimension", "to": "dimensions"}]},
        {"op": "normalise", "path": "embeddings"},
    ]
    assert adapter["path"] == {"from": "/v1/embed", "to": "/ai/embed"}
    assert adapter["unknown"] == []
    _round_trip(adapter, batches)


def test_openai_to_ollama_even_when_rows_come_back_shuffled() -> None:
    adapter, batches = _learn(PRESETS["ollama"], PRESETS["openai"])
    assert [op["op"] for op in adapter["ops"]] == ["move", "drop", "drop", "drop", "drop"]
    assert {op["path"] for op in adapter["ops"][1:]} == {
        "data[].index", "object", "usage.prompt_tokens", "usage.total_tokens"}
    _round_trip(adapter, batches)
    _, legacy_response, _, candidate_response = max(batches, key=lambda b: len(b[1]["embeddings"]))
    shuffled = copy.deepcopy(candidate_response)
    shuffled["data"].reverse()  # OpenAI clients must honour `index`; so does the adapter
    assert_same_doc(apply_adapter(adapter, shuffled), legacy_response)


def test_ollama_to_openai_as_far_as_derivable() -> None:
    adapter, batches = _learn(PRESETS["openai"], PRESETS["ollama"])
    assert adapter["derived"] == ["data[].index"]
    assert adapter["constant"] == ["object", "usage.prompt_tokens", "usage.total_tokens"]
    _round_trip(adapter, batches)


def test_varying_usage_counts_are_unknown_not_invented() -> None:
    def usage(i: int, lresp: dict[str, Any], cresp: dict[str, Any]) -> None:
        lresp["usage"] = {"prompt_tokens": 7 * (i + 1), "total_tokens": 7 * (i + 1)}

    adapter, batches = _learn(PRESETS["openai"], PRESETS["ollama"], tweak=usage)
    assert [u["path"] for u in adapter["unknown"]] == ["usage.prompt_tokens", "usage.total_tokens"]
    assert "varies" in adapter["unknown"][0]["reason"]
    assert adapter["constant"] == ["object"]
    for _, legacy_response, _, candidate_response in batches:
        got = apply_adapter(adapter, candidate_response)
        assert "usage" not in got
        assert_same_doc(got, {k: v for k, v in legacy_response.items() if k != "usage"})


def test_ollama_to_lakehouse_legacy_derives_dimension_and_normalises() -> None:
    raw_ollama = replace(PRESETS["ollama"], unit_vectors=False)  # an Ollama build that returns raw magnitudes
    adapter, batches = _learn(PRESETS["lakehouse-legacy"], raw_ollama)
    assert {"op": "derive", "path": "dimensions", "value": "dimension", "of": "embeddings"} in adapter["ops"]
    assert {"op": "normalise", "path": "embeddings"} in adapter["ops"]
    _round_trip(adapter, batches)


def test_renamed_field_with_other_type_is_cast_back() -> None:
    def tweak(i: int, lresp: dict[str, Any], cresp: dict[str, Any]) -> None:
        lresp["took_ms"] = 10 + i
        cresp["elapsed_ms"] = str(10 + i)
        lresp["tags"] = ["a", "b"]
        cresp["tags"] = ["b", "a"]

    ollama = PRESETS["ollama"]
    adapter, batches = _learn(ollama, ollama, tweak=tweak)
    assert adapter["ops"] == [
        {"op": "move", "moves": [{"from": "elapsed_ms", "to": "took_ms"}]},
        {"op": "cast", "path": "took_ms", "to": "integer"},
        {"op": "sort", "path": "tags"},
    ]
    assert adapter["reordered"] == ["tags"]
    _round_trip(adapter, batches)

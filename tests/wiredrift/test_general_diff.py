"""General structural drift: openai vs ollama, renames, types, order, ignore_fields, unordered_arrays."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from farm.probes.embed.profile import PRESETS, EmbedProfile
from farm.wiredrift import DriftObserver, DriftRow, render_catalog
from tests.wiredrift.pairs import make_batch

OPENAI, OLLAMA = PRESETS["openai"], PRESETS["ollama"]


def _run(legacy: EmbedProfile, candidate: EmbedProfile, batches: int = 5, tweak: Any = None) -> DriftObserver:
    rng = np.random.default_rng(11)
    obs = DriftObserver(legacy, candidate)
    for i in range(batches):
        pinned = np.array([20.0, 23.0, 21.0]) if i == 0 else None  # range ends: renders "20-23"
        lreq, lresp, creq, cresp = make_batch(legacy, candidate, rng, raw_norms=pinned)
        if tweak is not None:
            tweak(i, lresp, cresp)
        obs.observe(lreq, lresp, creq, cresp)
    return obs


def _general(rows: list[DriftRow]) -> list[tuple[str, str, str, str]]:
    return [(r.kind, r.field, r.legacy, r.candidate) for r in rows[6:]]


def test_openai_vs_ollama() -> None:
    rows = _run(OPENAI, OLLAMA).catalog()
    table = render_catalog(rows, "openai", "ollama").splitlines()
    assert table[2:8] == [
        "| URL prefix | `/v1/embeddings` | `/api/embed` |",
        "| Response: vectors field | `data[].embedding` | `embeddings` |",
        "| Response: dim field | (none) | (none) ✓ same |",
        "| Response: model field | `model` | `model` ✓ same |",
        "| Request shape | `{input, model?}` | `{input, model?}` ✓ same |",
        "| L2 normalization | unit vectors (‖v‖ ≈ 1.0) | unit vectors (‖v‖ ≈ 1.0) ✓ same |",
    ]
    assert _general(rows) == [
        ("missing", "Response: missing field", "`data[].index` (in 5 of 5 responses)", "absent"),
        ("missing", "Response: missing field", "`object` (in 5 of 5 responses)", "absent"),
        ("missing", "Response: missing field", "`usage` (in 5 of 5 responses)", "absent"),
    ]
    usage = rows[8].detail
    assert usage["leaves"] == ["usage.prompt_tokens", "usage.total_tokens"]


def test_ollama_vs_openai_reports_openai_extras() -> None:
    rows = _run(OLLAMA, OPENAI).catalog()
    assert rows[1].legacy == "`embeddings`" and rows[1].candidate == "`data[].embedding`"
    assert [(r.kind, r.detail["path"]) for r in rows[6:]] == [
        ("extra", "data[].index"), ("extra", "object"), ("extra", "usage")]


def test_lakehouse_vs_openai_request_shape_and_dimension() -> None:
    rows = _run(PRESETS["lakehouse-legacy"], OPENAI).catalog()
    assert (rows[4].legacy, rows[4].candidate, rows[4].same) == ("`{texts, model?}`", "`{input, model?}`", False)
    assert (rows[2].legacy, rows[2].candidate) == ("`dimensions`", "(none)")
    assert rows[5].candidate == "unit vectors (‖v‖ ≈ 1.0)"  # OpenAI returns unit vectors


def test_vectors_are_leaves_never_walked_into() -> None:
    obs = _run(OPENAI, OLLAMA, batches=2)
    state = obs.to_dict()["response"]["paths"]
    assert set(state["legacy"]) == {"data[].embedding", "data[].index", "model", "object",
                                    "usage.prompt_tokens", "usage.total_tokens"}
    assert set(state["candidate"]) == {"embeddings", "model"}
    assert state["candidate"]["embeddings"]["types"] == {"vectors": 2}
    assert state["legacy"]["data[].embedding"]["types"] == {"vector": 2}


def _extras(i: int, lresp: dict[str, Any], cresp: dict[str, Any]) -> None:
    lresp.update(request_id=f"l{i}", tags=["a", "b", "c"], took_ms=12,
                 results=[{"id": 1, "score": 0.5}, {"id": 2, "score": 0.25}])
    cresp.update(request_id=f"c{i}", tags=["c", "a", "b"] if i % 2 else ["a", "b", "c"], took_ms="12",
                 results=[{"id": 2, "score": 0.25}, {"id": 1, "score": 0.5}])


def test_type_value_and_order_differences() -> None:
    rows = _run(OLLAMA, OLLAMA, tweak=_extras).catalog()
    assert all(r.same for r in rows[:6])
    assert _general(rows) == [
        ("type", "Response: type of `took_ms`", "integer", "string (5 of 5)"),
        ("value", "Response: value of `request_id`", '`"l0"`', '`"c0"` (differs 5 of 5)'),
        ("order", "Response: order of `results`", "reference order", "same items, other order (5 of 5)"),
        ("order", "Response: order of `tags`", "reference order", "same items, other order (2 of 5)"),
    ]


def test_ignore_fields_and_unordered_arrays_are_respected() -> None:
    legacy = dataclasses.replace(OLLAMA, name="old", ignore_fields=("request_id",), unordered_arrays=("tags",))
    candidate = dataclasses.replace(OLLAMA, name="new", unordered_arrays=("results",))
    obs = _run(legacy, candidate, tweak=_extras)
    assert _general(obs.catalog()) == [("type", "Response: type of `took_ms`", "integer", "string (5 of 5)")]
    paths = obs.to_dict()["response"]["paths"]
    assert "request_id" not in paths["legacy"] and "request_id" not in paths["candidate"]


def test_ignored_field_is_not_reported_as_extra() -> None:
    def extra(i: int, lresp: dict[str, Any], cresp: dict[str, Any]) -> None:
        cresp["trace"] = {"span": f"s{i}", "host": "go-1"}

    assert [r.kind for r in _run(OLLAMA, OLLAMA, tweak=extra).catalog()[6:]] == ["extra"]
    quiet = dataclasses.replace(OLLAMA, name="quiet", ignore_fields=("trace",))
    assert _run(OLLAMA, quiet, tweak=extra).catalog()[6:] == []


def test_generic_rename_detected_by_equal_values() -> None:
    def rename(i: int, lresp: dict[str, Any], cresp: dict[str, Any]) -> None:
        lresp["took_ms"] = 10 + i
        cresp["elapsed_ms"] = str(10 + i)

    rows = _run(OLLAMA, OLLAMA, tweak=rename).catalog()
    assert _general(rows) == [
        ("rename", "Response: renamed field", "`took_ms`", "`elapsed_ms` (equal as text, other type)"),
        ("type", "Response: type of `took_ms`", "integer", "string"),
    ]


def test_partial_presence_and_scale_of_a_second_vector_field() -> None:
    def tweak(i: int, lresp: dict[str, Any], cresp: dict[str, Any]) -> None:
        centroid = np.linspace(1.0, 2.0, 20)
        lresp["centroid"] = centroid.tolist()
        cresp["centroid"] = (centroid * 3.0).tolist()
        lresp["cached"] = False
        if i < 2:
            cresp["cached"] = False

    rows = _run(OLLAMA, OLLAMA, tweak=tweak).catalog()
    assert _general(rows) == [
        ("presence", "Response: presence of `cached`", "in 5 of 5 responses", "in 2 of 5 responses"),
        ("scale", "Response: scale of `centroid`", "reference magnitude", "×3-3 (5 of 5)"),
    ]


def test_method_difference_is_a_row() -> None:
    rows = _run(OLLAMA, dataclasses.replace(OLLAMA, name="put", method="PUT")).catalog()
    assert _general(rows) == [("method", "Request method", "`POST`", "`PUT`")]


def test_request_type_difference() -> None:
    rng = np.random.default_rng(0)
    obs = DriftObserver(OLLAMA, OLLAMA)
    for _ in range(3):
        lreq, lresp, creq, cresp = make_batch(OLLAMA, OLLAMA, rng)
        lreq["truncate"] = True
        creq["truncate"] = "true"
        obs.observe(lreq, lresp, creq, cresp)
    rows = obs.catalog()
    assert rows[4].legacy == "`{input, model?, truncate}`" and rows[4].same
    assert _general(rows) == [("type", "Request: type of `truncate`", "boolean", "string (3 of 3)")]

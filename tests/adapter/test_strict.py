"""Strict wire parity on documents: what a client could tell apart, by field path."""

from __future__ import annotations

from farm.wiredrift.strict import differences


def test_the_same_document_in_another_key_order_with_float_rounding_is_the_same() -> None:
    a = {"embeddings": [[0.1, 0.2]], "dimensions": 2, "model": "m"}
    b = {"model": "m", "dimensions": 2, "embeddings": [[0.1 + 1e-17, 0.2 * (1 + 1e-12)]]}
    assert differences(a, b) == []


def test_renames_types_values_and_lengths_are_named_by_path() -> None:
    a = {"results": [{"id": "d1", "score": 0.5}], "took_ms": 3, "n": 1}
    b = {"matches": [{"id": "d1", "score": 0.5}], "took_ms": 4, "n": "1"}
    assert differences(a, b) == ["matches", "n", "results", "took_ms"]
    assert differences({"r": [1, 2]}, {"r": [1]}) == ["r"]
    assert differences({"r": [{"s": 0.5}]}, {"r": [{"s": 0.6}]}) == ["r[].s"]
    assert differences({"x": 1}, {"x": 1.5}) == ["x"] and differences({"x": True}, {"x": 1}) == ["x"]


def test_ignored_fields_and_unordered_arrays() -> None:
    a = {"results": [{"id": "a"}, {"id": "b"}], "took_ms": 3}
    b = {"results": [{"id": "b"}, {"id": "a"}], "took_ms": 9}
    assert differences(a, b) == ["results[].id", "took_ms"]
    assert differences(a, b, ignore=("took_ms",), unordered=("results",)) == []


def test_strict_counts_travel_in_the_observer_state_and_merge() -> None:
    # Distributed sweeps: one observer per batch, serialised, merged at finalize.
    from farm.probes.embed.profile import PRESETS
    from farm.wiredrift import DriftObserver

    legacy, candidate = PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"]
    a, b = DriftObserver(legacy, candidate), DriftObserver(legacy, candidate)
    assert a.strict() is None
    a.observe_strict([[], ["vectors"]])
    b.observe_strict([["vectors", "dimension"]])
    merged = DriftObserver.from_dict(a.to_dict(), legacy, candidate)
    merged.merge(DriftObserver.from_dict(b.to_dict(), legacy, candidate))
    assert merged.strict() == {"samples": 3, "differ": 2, "paths": {"vectors": 2, "dimension": 1}}

"""The adapter document and what a proxy refuses to serve, without a sweep: documents written by hand."""

from __future__ import annotations

from typing import Any

import pytest

from farm.adapter import document
from farm.adapter.proxy import AdapterSettings, Unmapped, create_app
from farm.errors import UsageError
from farm.probes import get_probe
from farm.profiles import profile_to_dict
from farm.wiredrift.adapter import _OPS, apply_adapter, register_op


def hand_written(probe: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    presets = get_probe(probe).presets
    return {"schema": document.SCHEMA, "probe": probe, "sweep": None,
            "profiles": {"legacy": profile_to_dict(presets["lakehouse-legacy"]),
                         "candidate": profile_to_dict(presets["lakehouse-candidate"])},
            "map": {"ops": ops, "unknown": [], "path": {}, "request_fields": {}}}


def test_a_probe_registers_its_own_op_and_documents_naming_it_validate() -> None:
    doc = hand_written("embed", [{"op": "logits_to_probs", "path": "scores"}])
    with pytest.raises(UsageError, match="unknown op 'logits_to_probs'"):
        document.validate(doc, "hand.json")

    def halve(d: dict[str, Any], op: dict[str, Any]) -> None:
        d[op["path"]] = [x / 2 for x in d[op["path"]]]

    register_op("logits_to_probs", halve)
    try:
        document.validate(doc, "hand.json")
        assert apply_adapter(doc["map"], {"scores": [1.0, 4.0]}) == {"scores": [0.5, 2.0]}
        with pytest.raises(ValueError, match="built in"):
            register_op("move", halve)
    finally:
        _OPS.pop("logits_to_probs")


def test_a_wire_that_is_not_one_json_post_is_refused_naming_it() -> None:
    doc = hand_written("storage", [])
    with pytest.raises(Unmapped) as refused:
        create_app(AdapterSettings(doc, "http://127.0.0.1:9"))
    assert any("unmapped request" in line and "GET" in line for line in refused.value.lines)


def test_the_sha256_names_the_map_not_the_sweep() -> None:
    doc = hand_written("embed", [{"op": "normalise", "path": "embeddings"}])
    same = {**doc, "sweep": "another"}
    assert document.sha256(doc) == document.sha256(same)
    assert document.sha256(doc) != document.sha256(hand_written("embed", []))

"""The seed's drift table (reports/cutover/SUMMARY.md), inferred from lakehouse-legacy vs lakehouse-candidate."""

from __future__ import annotations

import json

import numpy as np

from farm.probes.embed.profile import PRESETS
from farm.wiredrift import DriftObserver, DriftRow, render_catalog
from tests.wiredrift.pairs import make_batch

LEGACY, CANDIDATE = PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"]

SEED_TABLE = """\
| Field | Rust | Go |
|---|---|---|
| URL prefix | `/ai/embed` | `/v1/embed` |
| Response: vectors field | `embeddings` | `vectors` |
| Response: dim field | `dimensions` | `dimension` |
| Response: model field | `model` | `model` ✓ same |
| Request shape | `{texts, model?}` | `{texts, model?}` ✓ same |
| L2 normalization | unit vectors (‖v‖ ≈ 1.0) | raw output (‖v‖ ≈ 20-23) |
"""


def _observer(batches: int = 8, seed: int = 3) -> DriftObserver:
    rng = np.random.default_rng(seed)
    obs = DriftObserver(LEGACY, CANDIDATE)
    for i in range(batches):
        # First batch pins the range ends so the rendered range is exactly the seed's "20-23".
        norms = np.array([20.0, 23.0, 21.5]) if i == 0 else rng.uniform(20.0, 23.0, size=3)
        obs.observe(*make_batch(LEGACY, CANDIDATE, rng, dim=48, raw_norms=norms))
    return obs


def test_seed_table_row_for_row() -> None:
    assert render_catalog(_observer().catalog(), "Rust", "Go") == SEED_TABLE


def test_rows_carry_kinds_and_evidence() -> None:
    rows = _observer().catalog()
    assert [r.kind for r in rows] == ["url", "vectors", "dim", "model", "request", "norm"]
    assert [r.same for r in rows] == [False, False, False, True, True, False]
    vectors = rows[1]
    assert vectors.detail == {"legacy_path": "embeddings", "candidate_path": "vectors"}
    assert all(not {"kind", "field", "legacy", "candidate", "same"} & r.detail.keys() for r in rows)
    norm = rows[5].detail
    assert norm["legacy_class"] == "unit" and norm["candidate_class"] == "raw"
    assert norm["candidate_norms"]["min"] == 20.0 and norm["candidate_norms"]["max"] == 23.0
    assert norm["candidate_norms"]["n"] == 24
    json.dumps([r.to_dict() for r in rows])  # plain JSON for the report and the database


def test_observed_norm_range_comes_from_the_data() -> None:
    rng = np.random.default_rng(7)
    obs = DriftObserver(LEGACY, CANDIDATE)
    for norms in ([19.84, 21.0, 22.0], [20.5, 22.93, 21.1]):
        obs.observe(*make_batch(LEGACY, CANDIDATE, rng, raw_norms=np.array(norms)))
    norm_row = obs.catalog()[5]
    assert norm_row.legacy == "unit vectors (‖v‖ ≈ 1.0)"
    assert norm_row.candidate == "raw output (‖v‖ ≈ 19.8-22.9)"


def test_unit_means_within_1e3_of_one() -> None:
    rng = np.random.default_rng(1)
    obs = DriftObserver(LEGACY, CANDIDATE)
    obs.observe(*make_batch(LEGACY, CANDIDATE, rng), norms=False)
    obs.observe_norms(np.array([1.0, 0.9995, 1.0009]), np.array([1.0, 1.0004, 0.9991]))
    row = obs.catalog()[5]
    assert (row.legacy, row.same) == ("unit vectors (‖v‖ ≈ 1.0)", True)
    obs.observe_norms(np.array([1.0]), np.array([1.002]))
    row = obs.catalog()[5]
    assert row.candidate == "mixed: 3 of 4 unit (‖v‖ ≈ 1)" and not row.same


def test_observe_norms_switches_off_norms_in_observe() -> None:
    rng = np.random.default_rng(2)
    obs = DriftObserver(LEGACY, CANDIDATE)
    obs.observe_norms(np.ones(3), np.full(3, 21.0))
    obs.observe(*make_batch(LEGACY, CANDIDATE, rng))  # norms supplied by the caller: not counted twice
    assert obs.to_dict()["norms"]["candidate"]["n"] == 3
    obs.observe(*make_batch(LEGACY, CANDIDATE, rng), norms=True)
    assert obs.to_dict()["norms"]["candidate"]["n"] == 6


def test_structural_diff_stops_at_max_docs_but_norms_go_on() -> None:
    rng = np.random.default_rng(4)
    obs = DriftObserver(LEGACY, CANDIDATE, max_docs=3)
    for _ in range(10):
        obs.observe(*make_batch(LEGACY, CANDIDATE, rng, n=2))
    state = obs.to_dict()
    assert (obs.batches, obs.docs) == (10, 3)
    assert state["response"]["paths"]["candidate"]["vectors"]["seen"] == 3
    assert state["norms"]["candidate"]["n"] == 20
    assert render_catalog(obs.catalog(), "Rust", "Go").count("\n") == 8


def test_state_round_trips_through_json() -> None:
    obs = _observer(batches=4)
    text = json.dumps(obs.to_dict())
    back = DriftObserver.from_dict(json.loads(text), LEGACY, CANDIDATE)
    assert back.to_dict() == obs.to_dict()
    assert back.catalog() == obs.catalog()


def test_render_marks_same_and_escapes_pipes() -> None:
    rows = [DriftRow("x", "a|b", "`l`", "`c`", True, {})]
    assert render_catalog(rows, "L", "C").splitlines()[-1] == "| a\\|b | `l` | `c` ✓ same |"


def test_error_bodies_are_counted_not_diffed() -> None:
    rng = np.random.default_rng(5)
    obs = DriftObserver(LEGACY, CANDIDATE)
    lreq, lresp, creq, _ = make_batch(LEGACY, CANDIDATE, rng)
    obs.observe(lreq, lresp, creq, None)
    assert obs.docs == 0 and obs.to_dict()["errors"] == {"legacy": 0, "candidate": 1}


def test_short_vectors_fall_back_to_the_declared_fields() -> None:
    rng = np.random.default_rng(6)
    obs = DriftObserver(LEGACY, CANDIDATE)
    obs.observe(*make_batch(LEGACY, CANDIDATE, rng, dim=8, raw_norms=np.array([20.0, 23.0, 21.0])))
    rows = obs.catalog()
    assert (rows[1].legacy, rows[1].candidate) == ("`embeddings`", "`vectors`")
    assert (rows[2].legacy, rows[2].candidate) == ("`dimensions`", "`dimension`")
    assert rows[5].candidate == "raw output (‖v‖ ≈ 20-23)"


def test_request_shape_keeps_the_optional_model_when_none_was_sent() -> None:
    rng = np.random.default_rng(8)
    obs = DriftObserver(LEGACY, CANDIDATE)
    obs.observe(*make_batch(LEGACY, CANDIDATE, rng, model=None))
    row = obs.catalog()[4]
    assert (row.legacy, row.candidate, row.same) == ("`{texts, model?}`", "`{texts, model?}`", True)
    assert obs.catalog()[3].legacy == "`model`"  # declared and present, though no request model to match

"""The flip for the seed's embed pair: the adapter in front of `/v1/embed` answers `/ai/embed` as the legacy
gateway does, proven by a strict-wire sweep; maps it cannot serve are refused; bad requests get legacy's errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from farm.adapter import document
from farm.gateway.process import GatewayProcess
from tests.adapter.conftest import SMALL, AdapterProcess, export, run, serve_adapter, sweep

HAND_WRITTEN = """# Cutover parity log

Prose a person wrote, kept byte for byte.

| Endpoint | Date | Legacy path | Candidate path | Verdict | Notes |
|---|---|---|---|---|---|
| `sql` (by hand) | 2026-04-30 | `/query` | `/v1/sql` | ✅ PASS 3/3 | another endpoint |

## After the table

More   prose, odd   spacing.
"""


@pytest.fixture(scope="module")
def embed_map(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path, str]]:
    """A sweep of the seed's pair, its map exported to a file: (env, map file, sweep id)."""
    legacy, candidate = lakehouse_pair
    tmp = tmp_path_factory.mktemp("embed-adapter")
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp}/farm.db", "FARM_CONFIG": ""}
    first = sweep(env, "embed", legacy.url, candidate.url, "--samples", "64")
    map_file = export(env, first["sweep_id"], tmp / "embed.adapter.json")
    yield env, map_file, first["sweep_id"]


@pytest.fixture(scope="module")
def adapter(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
            embed_map: tuple[dict[str, str], Path, str]) -> Iterator[AdapterProcess]:
    proc = serve_adapter(embed_map[1], lakehouse_pair[1].url)
    try:
        yield proc
    finally:
        proc.stop()


def test_the_adapter_answers_the_legacy_path_with_legacy_fields_and_unit_vectors(
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess], adapter: AdapterProcess) -> None:
    legacy, _ = lakehouse_pair
    texts = ["the flip", "a second input", "ünïcode too"]
    got = httpx.post(adapter.url + "/ai/embed", json={"texts": texts}, timeout=10).json()
    want = httpx.post(legacy.url + "/ai/embed", json={"texts": texts}, timeout=10).json()
    assert set(got) == set(want) and "vectors" not in got
    vectors = np.asarray(got["embeddings"])
    assert vectors.shape == (3, got["dimensions"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-9)
    assert np.allclose(vectors, np.asarray(want["embeddings"]), atol=1e-12)


def test_a_strict_sweep_through_the_adapter_passes_against_the_legacy_gateway(
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess], adapter: AdapterProcess,
        embed_map: tuple[dict[str, str], Path, str], tmp_path: Path) -> None:
    env, map_file, _ = embed_map
    legacy, candidate = lakehouse_pair
    summary = tmp_path / "cutover" / "SUMMARY.md"
    summary.parent.mkdir()
    summary.write_text(HAND_WRITTEN)
    out = sweep(env, "embed", legacy.url, adapter.url, "--candidate-profile", "lakehouse-legacy", "--strict-wire",
                *SMALL, reports=tmp_path)
    assert out["verdict"] == "PASS", out["reason"]
    assert out["strict_wire"] == {"samples": 300, "differ": 0, "paths": {}}
    # The flip in the parity log: the row names the map the PASS went through; the prose stays byte for byte.
    digest = document.sha256(document.load(map_file))
    text = summary.read_text()
    [row] = [ln for ln in text.splitlines() if out["sweep_id"] in ln]
    assert f"Drop-in through adapter (map sha256 {digest[:12]}): strict wire parity." in row
    assert "| `/ai/embed` | `/ai/embed` | ✅ PASS 300/300" in row
    assert text.replace(row + "\n", "") == HAND_WRITTEN
    [report] = [p for p in tmp_path.rglob("*.md") if p.name != "SUMMARY.md"]
    assert "## Strict wire parity" in report.read_text() and "All 300 samples' response documents are the same" in \
        report.read_text()
    # Without the adapter the vectors agree (the probe's comparison) but the documents do not: strict FAILs,
    # naming the paths.
    raw = sweep(env, "embed", legacy.url, candidate.url, "--strict-wire", *SMALL)
    assert raw["verdict"] == "FAIL", raw["reason"]
    assert raw["strict_wire"]["differ"] == 300
    assert {"embeddings", "vectors", "dimension", "dimensions"} <= set(raw["strict_wire"]["paths"])


def test_bad_requests_get_the_legacy_error_shape(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                 adapter: AdapterProcess) -> None:
    legacy, _ = lakehouse_pair
    for body in (b'{"text": ["misspelt field"]}', b"not json", b"[1, 2]"):
        got = httpx.post(adapter.url + "/ai/embed", content=body, timeout=10)
        want = httpx.post(legacy.url + "/ai/embed", content=body, timeout=10)
        assert got.status_code == want.status_code == 400
        assert set(got.json()) == set(want.json()) == {"error"}
    assert got.json()["error"].startswith("bad request")


def test_show_export_and_serve_round_trip(embed_map: tuple[dict[str, str], Path, str], tmp_path: Path) -> None:
    env, map_file, sweep_id = embed_map
    code, shown, err = run(env, "adapter", "show", "--sweep", sweep_id)
    assert code == 0, err
    assert "move  vectors -> embeddings" in shown and "normalise embeddings" in shown
    doc = json.loads(map_file.read_text())
    assert doc["schema"] == document.SCHEMA and doc["probe"] == "embed"
    assert doc["profiles"]["legacy"]["path"] == "/ai/embed" and doc["profiles"]["candidate"]["path"] == "/v1/embed"
    # The file read back exports to the same bytes (a stable document).
    code, again, err = run(env, "adapter", "export", "--map", str(map_file))
    assert code == 0 and again == map_file.read_text(), err


def test_a_map_with_an_unmapped_field_refuses_to_start_naming_it(
        embed_map: tuple[dict[str, str], Path, str], tmp_path: Path) -> None:
    env, map_file, _ = embed_map
    doc = json.loads(map_file.read_text())
    doc["map"]["unknown"] = [{"path": "request_id", "reason": "varies in legacy responses and has no counterpart"},
                             {"path": "usage.tokens", "reason": "present in only 3 of 10 legacy responses"}]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run(env, "adapter", "serve", "--map", str(bad), "--upstream", "http://127.0.0.1:9",
                       "--listen", "127.0.0.1:0")
    assert code == 2
    lines = err.strip().splitlines()
    assert any("`request_id`" in ln for ln in lines) and any("`usage.tokens`" in ln for ln in lines)
    assert "Traceback" not in err


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(schema="farm.adapter/0"), "schema"),
    (lambda d: d["map"]["ops"].append({"op": "teleport"}), "unknown op 'teleport'"),
    (lambda d: d.pop("profiles"), "profiles is missing"),
])
def test_a_broken_document_is_one_line(embed_map: tuple[dict[str, str], Path, str], tmp_path: Path,
                                       edit: object, message: str) -> None:
    env, map_file, _ = embed_map
    doc = json.loads(map_file.read_text())
    edit(doc)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run(env, "adapter", "show", "--map", str(bad))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err

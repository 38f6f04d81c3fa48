"""`--legacy-secondary` (the noise floor from a second legacy replica) and `--corpus-format requests`
(captured traffic as a corpus), over real HTTP against the demo gateways."""

from __future__ import annotations

import json
from pathlib import Path

from farm.gateway.process import GatewayProcess, spawn
from tests.integration.test_embed_sweep import sweep


def test_noise_floor_from_a_second_legacy_replica(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                 tmp_path: Path, sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    log = tmp_path / "secondary.jsonl"
    # A replica with nondeterministic jitter: legacy against it falls below tau, legacy against itself never.
    with spawn("lakehouse-legacy", "--noise", "0.03", "--request-log", str(log)) as secondary:
        code, out = sweep(sqlite_url, legacy.url, candidate.url, "--samples", "640", "--legacy-secondary",
                          secondary.url, "--noise-sample", "0.5", reports=tmp_path)
    noise = out["statistics"]["noise"]
    assert noise["measured"] and noise["legacy"]["n"] > 0 and noise["legacy"]["below_tau"] > 0
    assert noise["candidate"]["below_tau"] == 0  # the candidate is still asked twice itself
    served = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(r["n"] for r in served) == noise["legacy"]["n"]  # only the noise batches went to the replica
    assert out["parameters"]["legacy_secondary"] == secondary.url + "/ai/embed"
    assert "### Noise floor (each gateway against itself)" in Path(out["report"]).read_text()
    assert code in (0, 3)


def test_captured_request_bodies_as_a_corpus(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                            tmp_path: Path, sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    corpus = tmp_path / "requests.jsonl"
    bodies = [json.dumps({"texts": [f"captured {i}-{j}" for j in range(3)], "model": "nomic-embed-text"})
              for i in range(40)]
    bad = ["not json at all", json.dumps({"input": ["wrong field"]}), json.dumps(["a", "list"])]
    corpus.write_text("\n".join(bodies[:20] + bad + bodies[20:]) + "\n")
    code, out = sweep(sqlite_url, legacy.url, candidate.url, "--corpus", str(corpus), "--corpus-format",
                      "requests", "--p-max", "0.05")
    assert out["n"] == 120 and out["verdict"] == "PASS" and code == 0, out["reason"]
    assert out["corpus_bad_lines"]["count"] == 3
    assert "requests.jsonl:21: not JSON" in out["corpus_bad_lines"]["first"]  # file:line of the first bad one
    assert out["parameters"]["corpus"].startswith("requests:")

"""The chat probe over real HTTP against its demo gateways: SSE legacy against NDJSON candidate, streamed and
plain, exact and semantic, drift of token counts and finish reasons, streams cut off mid-answer; embedded and
distributed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn
from farm.store.db import upgrade
from tests.integration.cluster import Cluster
from tests.integration.test_distributed import samples_of


@pytest.fixture(scope="module")
def chat_gateways() -> Iterator[dict[str, GatewayProcess]]:
    with spawn("lakehouse-legacy", probe="chat") as legacy, \
            spawn("lakehouse-candidate", probe="chat") as candidate, \
            spawn("lakehouse-candidate", "--drift-rate", "0.05", probe="chat") as drifting, \
            spawn("lakehouse-candidate", "--count-bos", "1", "--finish-names", "stop=end_turn,length=finished",
                  "--chunking", "3", probe="chat") as renamed, \
            spawn("lakehouse-candidate", "--cut-rate", "0.2", probe="chat") as cutting:
        yield {"legacy": legacy, "candidate": candidate, "drifting": drifting, "renamed": renamed,
               "cutting": cutting}


def _sweep(env: dict[str, str], *args: str) -> tuple[int, dict]:
    short = () if "--max-tokens" in args else ("--max-tokens", "24")  # short answers: fewer chunks, faster tests
    result = CliRunner().invoke(main_group, ["sweep", "chat", "--json", "--quiet", *short, *args], env=env,
                                catch_exceptions=False)
    assert result.exit_code != 2, result.output
    return result.exit_code, json.loads(result.stdout)


def _catalog(out: dict) -> dict[str, dict]:
    return {r["kind"]: r for r in out["drift_catalog"]}


def test_same_model_at_temperature_0_sse_against_ndjson_passes(chat_gateways: dict[str, GatewayProcess],
                                                               tmp_path: Path, sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    code, out = _sweep(env, "--legacy", chat_gateways["legacy"].url, "--candidate", chat_gateways["candidate"].url,
                       "--samples", "320", "--reports-dir", str(tmp_path))
    assert code == 0 and out["verdict"] == "PASS" and out["n"] == 320, out["reason"]
    assert out["reason"].startswith("PASS: disagreement <= 1% at 95% (0 of 320 below exact match")
    assert out["parameters"]["probe_options"]["stream"] == 1
    cat = _catalog(out)
    assert cat["framing"]["legacy"].startswith("Server-Sent Events") and cat["framing"]["candidate"].startswith(
        "NDJSON") and not cat["framing"]["same"]
    assert cat["done"]["legacy"] == "`data: [DONE]`" and not cat["done"]["same"]
    assert cat["usage"]["candidate_paths"] == ["prompt_eval_count", "eval_count"]
    assert all(cat["usage"]["candidate_observed"].values())  # the declared fields were in the answers
    renames = {(r["legacy_path"], r["candidate_path"]) for r in out["drift_catalog"]
               if r["kind"] == "rename"}
    assert ("usage.prompt_tokens", "prompt_eval_count") in renames  # found by the structural diff as well
    assert cat["tokens_prompt"]["same"] and cat["tokens_completion"]["same"]
    moves = [m for op in out["adapter_map"]["ops"] if op["op"] == "move" for m in op["moves"]]
    assert {"from": "message.content", "to": "choices[].message.content"} in moves
    # Stream against plain: the first input of each of the 10 batches asked both ways, on each side.
    checks = out["statistics"]["stream_checks"]
    assert checks["legacy"] == checks["candidate"] == {"checked": 10, "equal": 10, "differ": 0}
    timing = out["statistics"]["timing"]
    assert timing["ttft_ms"]["legacy"]["n"] == 320 and timing["tokens_per_s"]["candidate"]["mean"] > 0
    report = Path(out["report"]).read_text()
    for heading in ("## Similarity against the noise floor", "## Worst samples, both answers side by side",
                    "## Token accounting", "## Finish reasons", "## Time to first token and tokens per second"):
        assert heading in report
    assert (tmp_path / "cutover" / "SUMMARY.md").read_text().count("/v1/chat") == 1  # the parity-log row


def test_a_drifting_candidate_fails(chat_gateways: dict[str, GatewayProcess], sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    code, out = _sweep(env, "--legacy", chat_gateways["legacy"].url, "--candidate", chat_gateways["drifting"].url,
                       "--samples", "320", "--no-report", "--stream", "0")
    assert code == 1 and out["verdict"] == "FAIL" and 6 <= out["disagreements"] <= 35, out["reason"]
    assert out["parameters"]["probe_options"]["stream"] == 0
    assert out["statistics"]["stream_checks"]["legacy"]["checked"] == 0  # nothing streamed, nothing to check


def test_temperature_0_8_passes_in_semantic_mode_above_a_nonzero_noise_floor(
        chat_gateways: dict[str, GatewayProcess], sqlite_url: str, tmp_path: Path) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    code, out = _sweep(env, "--legacy", chat_gateways["legacy"].url, "--candidate", chat_gateways["candidate"].url,
                       "--samples", "400", "--temperature", "0.8", "--reports-dir", str(tmp_path))
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    semantic = out["statistics"]["semantic"]
    assert 0.3 < semantic["legacy_self_mean"] < 0.95 and semantic["legacy_self_n"] >= 32  # legacy differs from itself
    assert semantic["r_min"] == pytest.approx(semantic["legacy_self_mean"] - 0.1)
    assert "r_min = legacy A/A chrF" in out["reason"] and out["reason"].startswith("PASS: mean chrF")
    assert out["statistics"]["exact_matches"] < 400  # sampled answers do differ
    assert list(tmp_path.glob("cutover/*_chrf.png"))  # the similarity against noise plot
    # The same at temperature 0.8 without an A/A noise floor cannot be judged.
    code, out = _sweep(env, "--legacy", chat_gateways["legacy"].url, "--candidate", chat_gateways["candidate"].url,
                       "--samples", "64", "--temperature", "0.8", "--noise-sample", "0", "--no-report")
    assert code == 3 and "needs the legacy A/A noise floor" in out["reason"]


def test_a_constant_token_offset_and_renamed_finish_reasons_are_drift(chat_gateways: dict[str, GatewayProcess],
                                                                      sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    code, out = _sweep(env, "--legacy", chat_gateways["legacy"].url, "--candidate", chat_gateways["renamed"].url,
                       "--samples", "320", "--no-report")
    assert code == 0 and out["verdict"] == "PASS", out["reason"]  # same texts: an offset is drift, not a failure
    cat = _catalog(out)
    assert cat["tokens_prompt"]["candidate"] == "candidate counts 1 more prompt token" and not cat["tokens_prompt"][
        "same"]
    assert cat["tokens_prompt"]["offset"] == 1 and cat["tokens_prompt"]["inconsistent"] == 0
    assert cat["tokens_completion"]["same"]
    assert "`stop` → `end_turn`" in cat["finish_names"]["candidate"]
    assert "unmapped: `finished`" in cat["finish_names"]["candidate"]
    pairs = {(p["legacy"], p["candidate"]): p["same_meaning"] for p in out["statistics"]["finish"]["pairs"]}
    assert pairs[("stop", "end_turn")] is True
    assert out["statistics"]["tokens"]["prompt"]["offset"] == 1


def test_streams_cut_off_mid_answer_are_classified(chat_gateways: dict[str, GatewayProcess],
                                                   sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    code, out = _sweep(env, "--legacy", chat_gateways["legacy"].url, "--candidate", chat_gateways["cutting"].url,
                       "--samples", "200", "--no-report")
    assert code == 1 and out["verdict"] == "FAIL", out["reason"]
    errors = out["statistics"]["errors"]["candidate"]
    assert set(errors["classes"]) == {"stream_truncated"} and 20 <= errors["count"] <= 60
    assert out["statistics"]["errors"]["legacy"]["count"] == 0




@pytest.mark.services
@pytest.mark.slow
def test_the_chat_probe_runs_distributed(chat_gateways: dict[str, GatewayProcess], tmp_path: Path, pg_url: str,
                                         broker_url: str) -> None:
    upgrade(pg_url)
    env = {"FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url, "FARM_CONFIG": "",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cluster = Cluster(tmp_path, env)
    try:
        cluster.worker("legacy", "probe.legacy")
        cluster.worker("candidate", "probe.candidate")
        cluster.worker("aggregate", "farm.aggregate")
        code, out = _sweep(env, "--legacy", chat_gateways["legacy"].url, "--candidate",
                           chat_gateways["renamed"].url, "--samples", "160", "--distributed", "--no-report",
                           "--stall-timeout", "60", "--p-max", "0.05", "--batch-size", "16",
                           "--batches-per-task", "2")
    finally:
        cluster.stop()
    assert code == 0 and out["verdict"] == "PASS" and out["mode"] == "distributed", out.get("reason")
    assert samples_of(pg_url, out["sweep_id"]) == (160, 160, 0, 159)
    cat = _catalog(out)
    assert cat["tokens_prompt"]["offset"] == 1 and not cat["framing"]["same"]
    assert out["statistics"]["stream_checks"]["candidate"]["checked"] == 10
    assert out["statistics"]["timing"]["ttft_ms"]["candidate"]["n"] == 160  # per-sample timing travelled


def test_farm_demo_runs_the_chat_probe(tmp_path: Path) -> None:
    # 40 samples cannot prove 1% (that takes ~300, as the parity-log test above does): INCONCLUSIVE, exit 3.
    proc = subprocess.run([sys.executable, "-m", "farm", "demo", "--probe", "chat", "--samples", "40", "--json",
                           "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "INCONCLUSIVE" and out["n"] == 40 and out["disagreements"] == 0
    assert "more samples needed" in out["reason"] and Path(tmp_path / out["report"]).exists()


def test_conversations_from_jsonl_and_captured_requests(chat_gateways: dict[str, GatewayProcess], tmp_path: Path,
                                                        sqlite_url: str) -> None:
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    jsonl = tmp_path / "conversations.jsonl"
    lines = [{"conversation": {"messages": [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": f"Question {i} about the river?"}],
                               "max_tokens": 8 + i % 5}} for i in range(60)]
    lines.append({"conversation": {"messages": "not a list"}})  # a bad line is a usage error, not a traceback
    jsonl.write_text("\n".join(json.dumps(x) for x in lines[:60]) + "\n")
    base = ["--legacy", chat_gateways["legacy"].url, "--candidate", chat_gateways["candidate"].url, "--no-report",
            "--p-max", "0.05"]
    code, out = _sweep(env, *base, "--corpus", str(jsonl), "--field", "conversation")
    assert code == 0 and out["n"] == 60 and out["verdict"] == "PASS", out["reason"]
    assert "length" in {p["legacy"] for p in out["statistics"]["finish"]["pairs"]}  # max_tokens 8..12 cut answers
    captured = tmp_path / "requests.jsonl"
    captured.write_text("\n".join(json.dumps({"messages": [{"role": "user", "content": f"hello {i}"}],
                                              "temperature": 0, "max_tokens": 20, "stream": True})
                                  for i in range(60)) + "\n{\"messages\": 3}\n")
    code, out = _sweep(env, *base, "--corpus", str(captured), "--corpus-format", "requests")
    assert code == 0 and out["n"] == 60, out["reason"]  # the bad body is counted and skipped
    jsonl.write_text(json.dumps(lines[60]) + "\n" + jsonl.read_text())
    result = CliRunner().invoke(main_group, ["sweep", "chat", "--json", "--quiet", *base, "--corpus", str(jsonl),
                                             "--field", "conversation"], env=env)
    assert result.exit_code == 2 and "Traceback" not in result.output and "messages" in result.output, result.output

"""The statistics engine end to end over real HTTP: noise floor, sequential stop, report re-rendering."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn


def farm(db: str, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main_group, list(args), env={"FARM_DATABASE_URL": db, "FARM_CONFIG": ""},
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def self_sweep(db: str, gw: GatewayProcess, *args: str) -> tuple[int, dict]:
    return farm(db, "sweep", "embed", "--legacy", gw.url, "--candidate", gw.url, "--legacy-profile",
                "lakehouse-legacy", "--candidate-profile", "lakehouse-legacy", "--json", "--quiet", "--no-report",
                *args)


def test_jittery_gateway_shows_a_noise_floor_and_passes_against_itself(sqlite_url: str) -> None:
    with spawn("lakehouse-legacy", "--noise", "0.012") as jittery:
        code, out = self_sweep(sqlite_url, jittery, "--samples", "3000", "--noise-sample", "0.2")
        naive_code, naive = self_sweep(sqlite_url, jittery, "--samples", "3000")
    noise = out["statistics"]["noise"]
    assert noise["measured"] and noise["legacy"]["n"] > 0
    assert noise["legacy"]["self_disagreement_rate"] > 0 and noise["legacy"]["min"] < 0.9999  # a noise floor
    assert out["parameters"]["noise_sample"] == 0.2
    assert (code, out["verdict"]) == (0, "PASS")
    # Without the A/A subsample the same jitter reads as disagreement: the noise rule is what saves it.
    assert (naive_code, naive["verdict"]) == (1, "FAIL")


def test_until_decided_stops_near_the_rule_of_three(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                    sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    code, out = farm(sqlite_url, "sweep", "embed", "--legacy", legacy.url, "--candidate", candidate.url,
                     "--until-decided", "--max-samples", "20000", "--json", "--quiet", "--no-report")
    assert (code, out["verdict"]) == (0, "PASS")
    assert 2995 <= out["stopped_at"] <= 4500 and out["n"] < 5000
    assert "sequential" in json.dumps(out["methods"])


def test_until_decided_fails_a_drifting_candidate_early(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                       sqlite_url: str) -> None:
    legacy, _ = lakehouse_pair
    with spawn("lakehouse-candidate", "--drift-rate", "0.02", "--drift-cos", "0.995") as drifting:
        code, out = farm(sqlite_url, "sweep", "embed", "--legacy", legacy.url, "--candidate", drifting.url,
                         "--until-decided", "--max-samples", "20000", "--json", "--quiet", "--no-report")
    assert (code, out["verdict"]) == (1, "FAIL") and out["stopped_at"] < 3000


def test_report_rerenders_from_the_database(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                            sqlite_url: str, tmp_path: Path) -> None:
    legacy, candidate = lakehouse_pair
    _, out = farm(sqlite_url, "sweep", "embed", "--legacy", legacy.url, "--candidate", candidate.url,
                  "--samples", "500", "--json", "--quiet", "--no-report")
    result = CliRunner().invoke(main_group, ["report", out["sweep_id"][:15], "--reports-dir", str(tmp_path)],
                                env={"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""})
    assert result.exit_code == 0
    report = Path(result.output.strip()).read_text()
    assert report.splitlines()[2].startswith("**Verdict: ⚠️ INCONCLUSIVE**")
    assert out["sweep_id"] in report and "![embed_parity_" in report
    assert not (tmp_path / "cutover" / "SUMMARY.md").exists()  # only a PASS enters the parity log
    code, again = farm(sqlite_url, "report", out["sweep_id"], "--json")
    assert code == 0 and {k: again[k] for k in ("verdict", "reason", "n")} == {k: out[k] for k in
                                                                             ("verdict", "reason", "n")}


def test_openai_against_ollama_catalogs_the_wire_drift(sqlite_url: str, tmp_path: Path) -> None:
    with spawn("openai") as openai, spawn("ollama") as ollama:
        _, out = farm(sqlite_url, "sweep", "embed", "--legacy", openai.url, "--candidate", ollama.url,
                      "--legacy-profile", "openai", "--candidate-profile", "ollama", "--samples", "300",
                      "--json", "--quiet", "--no-report")
    rows = {(r["field"], r["legacy"], r["candidate"]) for r in out["drift_catalog"]}
    assert ("URL prefix", "`/v1/embeddings`", "`/api/embed`") in rows
    assert ("Response: vectors field", "`data[].embedding`", "`embeddings`") in rows
    missing = {r["legacy"].split("`")[1] for r in out["drift_catalog"] if r["field"] == "Response: missing field"}
    assert missing == {"data[].index", "object", "usage"}  # what ollama lacks, as the adapter must supply
    assert out["errors"] == 0 and out["disagreements"] == 0

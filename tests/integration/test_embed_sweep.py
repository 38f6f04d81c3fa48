"""End to end over real HTTP: the demo gateways, the `farm` CLI, SQLite and Postgres."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn
from farm.probes import get_probe
from farm.store.db import upgrade
from farm.store.sweeps import load_sample_arrays, recent_sweeps, sample_count

SEED_TABLE = [
    ("URL prefix", "`/ai/embed`", "`/v1/embed`"),
    ("Response: vectors field", "`embeddings`", "`vectors`"),
    ("Response: dim field", "`dimensions`", "`dimension`"),
    ("Response: model field", "`model`", "`model` ✓ same"),
    ("Request shape", "`{texts, model?}`", "`{texts, model?}` ✓ same"),
]


def sweep(db: str, legacy: str, candidate: str, *args: str, reports: Path | None = None) -> tuple[int, dict]:
    argv = ["sweep", "embed", "--legacy", legacy, "--candidate", candidate, "--json", "--quiet", *args]
    argv += ["--reports-dir", str(reports)] if reports else ["--no-report"]
    result = CliRunner().invoke(main_group, argv, env={"FARM_DATABASE_URL": db, "FARM_CONFIG": ""},
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def catalog_rows(report: str) -> list[tuple[str, ...]]:
    section = report.split("## Wire-drift catalog", 1)[1]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| Field")]
    return [tuple(c.strip() for c in ln.strip("|").split("|")) for ln in rows]


def test_clean_pair_passes_with_the_seed_drift_table(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                    sqlite_url: str, tmp_path: Path) -> None:
    legacy, candidate = lakehouse_pair
    code, out = sweep(sqlite_url, legacy.url, candidate.url, "--samples", "3000", reports=tmp_path)
    assert (code, out["verdict"], out["n"], out["disagreements"], out["errors"]) == (0, "PASS", 3000, 0, 0)
    assert out["reason"].startswith("PASS: disagreement <= 0.1% at 95%")
    assert out["parameters"]["tau"] == 0.9999 and out["probe"] == "embed"
    report = Path(out["report"]).read_text()
    assert report.startswith("# Embed parity") and "**Verdict: ✅ PASS**" in report
    rows = catalog_rows(report)
    assert rows[:5] == SEED_TABLE
    assert rows[5][0] == "L2 normalization" and rows[5][1] == "unit vectors (‖v‖ ≈ 1.0)"
    assert rows[5][2].startswith("raw output (‖v‖ ≈ 2")
    summary = (tmp_path / "cutover" / "SUMMARY.md").read_text()
    assert summary.count("| `embed` (gateway default) |") == 1
    assert (tmp_path / "cutover" / Path(out["report"]).name.replace(".md", "_cosine.png")).stat().st_size > 1000
    # A later sweep the same day gets a report of its own: the PASS row keeps pointing at the PASS.
    _, later = sweep(sqlite_url, legacy.url, candidate.url, "--samples", "5", reports=tmp_path)
    assert later["verdict"] == "INCONCLUSIVE" and Path(later["report"]).name == \
        Path(out["report"]).name.replace(".md", f"_{later['sweep_id']}.md")
    assert "**Verdict: ✅ PASS**" in Path(out["report"]).read_text() and Path(out["report"]).name in summary


def test_a_legacy_side_failing_on_many_samples_is_no_pass(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                          sqlite_url: str) -> None:
    _, candidate = lakehouse_pair
    # 0.2: the first three batches all failing (the side-health stop, exit 4) is then 0.8%, not 2.7%, a sweep.
    with spawn("lakehouse-legacy", "--error-rate", "0.2") as flaky:
        code, out = sweep(sqlite_url, flaky.url, candidate.url, "--samples", "2000", "--retries", "0", "--p-max",
                          "0.01")
    # Every compared sample agrees; the ones legacy failed on could hide disagreements.
    assert out["disagreements"] == 0 and 1000 < out["n"] < 2000  # 0 of over 1,000: alone, a PASS at 1%
    assert code == 3 and out["reason"].startswith("INCONCLUSIVE: legacy failed on "), out["reason"]
    # --until-decided does not stop at a PASS those samples could undo: it samples on, to its cap.
    with spawn("lakehouse-legacy", "--error-rate", "0.2") as flaky:
        code, out = sweep(sqlite_url, flaky.url, candidate.url, "--until-decided", "--max-samples", "1500",
                          "--retries", "0", "--p-max", "0.01")
    assert sample_count(sqlite_url, out["sweep_id"]) == 1500 and "stopped_at" not in out
    assert code == 3 and out["reason"].startswith("INCONCLUSIVE: legacy failed on "), out["reason"]


def test_drifting_candidate_fails(lakehouse_pair: tuple[GatewayProcess, GatewayProcess], sqlite_url: str) -> None:
    legacy, _ = lakehouse_pair
    with spawn("lakehouse-candidate", "--drift-rate", "0.01", "--drift-cos", "0.95") as drifting:
        code, out = sweep(sqlite_url, legacy.url, drifting.url, "--samples", "3000")
    assert code == 1 and out["verdict"] == "FAIL"
    assert 10 <= out["disagreements"] <= 60  # 1% of 3,000, drawn by a hash of each input
    assert out["reason"].startswith("FAIL")


def test_five_samples_are_inconclusive(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                       sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    code, out = sweep(sqlite_url, legacy.url, candidate.url, "--samples", "5")
    assert code == 3 and out["verdict"] == "INCONCLUSIVE" and out["n"] == 5
    assert 2900 <= out["needed"] <= 3000


def test_error_injection_is_classified_and_counted(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                   sqlite_url: str) -> None:
    legacy, _ = lakehouse_pair
    with spawn("lakehouse-candidate", "--error-rate", "0.2") as flaky:
        # No retries: every injected 503 must surface, classified, and the sweep still finishes.
        code, out = sweep(sqlite_url, legacy.url, flaky.url, "--samples", "1000", "--batch-size", "10",
                          "--retries", "0")
    _, columns, _ = load_sample_arrays(sqlite_url, out["sweep_id"], get_probe("embed"))
    errors = [e for e in columns["candidate_error"] if e is not None]
    assert len(columns["candidate_error"]) == 1000
    assert set(errors) == {"http_status"} and 100 <= len(errors) <= 300
    assert out["errors"] == len(errors) and all(e is None for e in columns["legacy_error"])
    assert code == 1 and out["verdict"] == "FAIL"


def test_retries_absorb_transient_errors(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                         sqlite_url: str) -> None:
    legacy, _ = lakehouse_pair
    with spawn("lakehouse-candidate", "--error-rate", "0.2") as flaky:
        _code, out = sweep(sqlite_url, legacy.url, flaky.url, "--samples", "500", "--batch-size", "10",
                          "--retries", "8")
    assert out["errors"] == 0 and out["n"] == 500


def test_unreachable_gateway_is_classified(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                           sqlite_url: str) -> None:
    from tests.isolation import dead_port

    legacy, _ = lakehouse_pair
    with dead_port() as port:
        url = f"http://127.0.0.1:{port}"
        result = CliRunner().invoke(main_group, ["sweep", "embed", "--legacy", legacy.url, "--candidate", url,
                                                 "--json", "--quiet", "--no-report", "--samples", "40", "--retries",
                                                 "0"],
                                    env={"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}, catch_exceptions=False)
    # Every candidate sample failed: not a FAIL of parity but a side that never answered (exit 4, its own code).
    assert result.exit_code == 4, result.output
    assert f"candidate unreachable: 40 of 40 connection refused or lost at {url}/v1/embed" in result.output


def test_postgres_and_sqlite_give_the_same_verdict(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                    sqlite_url: str, pg_url: str) -> None:
    from farm.store.db import upgrade

    legacy, _ = lakehouse_pair
    upgrade(pg_url)
    with spawn("lakehouse-candidate", "--drift-rate", "0.002", "--drift-cos", "0.999") as candidate:
        results = [sweep(url, legacy.url, candidate.url, "--samples", "2000") for url in (sqlite_url, pg_url)]
    (code_a, a), (code_b, b) = results
    assert code_a == code_b
    keys = ("verdict", "reason", "n", "disagreements", "errors", "lower", "upper")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert a["disagreements"] > 0


def test_farm_demo_runs(tmp_path: Path) -> None:
    # `farm demo` alone runs every probe (sql shows SQLite against DuckDB, a FAIL by design): embed here.
    proc = subprocess.run([sys.executable, "-m", "farm", "demo", "--probe", "embed", "--json", "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "PASS" and out["n"] == 3000
    assert (tmp_path / ".farm" / "farm.db").exists()
    assert (tmp_path / "reports" / "cutover" / "SUMMARY.md").exists()
    assert Path(tmp_path / out["report"]).exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_sweep_says_so_and_is_marked_failed(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                           tmp_path: Path, sig: signal.Signals) -> None:
    legacy, _ = lakehouse_pair
    db = f"sqlite:///{tmp_path}/farm.db"
    upgrade(db)  # here, not racing the sweep's own first migration
    with spawn("lakehouse-candidate", "--latency-ms", "100") as slow:
        proc = subprocess.Popen([sys.executable, "-m", "farm", "sweep", "embed", "--legacy", legacy.url,
                                 "--candidate", slow.url, "--samples", "100000", "--quiet", "--no-report"],
                                env={**os.environ, "FARM_DATABASE_URL": db, "FARM_CONFIG": ""},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until samples are being written
                sweeps = recent_sweeps(db, 1)
                if sweeps and sample_count(db, sweeps[0].id) > 0:
                    break
                time.sleep(0.2)
            sent = time.monotonic()
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
            stopped_in = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    name = "SIGTERM" if sig == signal.SIGTERM else "Ctrl-C"
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == f"farm: interrupted ({name})", err
    assert "Traceback" not in err and "Aborted" not in err and stopped_in < 15
    assert recent_sweeps(db, 1)[0].status == "failed"


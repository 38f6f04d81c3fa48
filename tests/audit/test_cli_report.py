from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from farm.audit import run_audit
from farm.audit.fleet import write_fleet_report
from farm.audit.report import format_report
from farm.cli import main_group
from tests.audit.conftest import rewrite


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FARM_DATABASE_URL", f"sqlite:///{tmp_path}/farm.db")
    monkeypatch.delenv("FARM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_cli_pass_append_and_baselines_round_trip(runner: CliRunner, root: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    res = runner.invoke(main_group, ["audit", "--root", str(root), "--out", str(out), "--append-baseline"])
    assert res.exit_code == 0, res.output
    assert "audit PASS (9/9 required pass); report in" in res.output
    assert "| `p3_accepted` | count | - | 386 |" in out.read_text()
    log = root / "data/_kb/audit_baselines.jsonl"
    res = runner.invoke(main_group, ["audit", "--root", str(root), "--json", "--append-baseline"])
    assert res.exit_code == 0
    data = orjson.loads(res.stdout)
    assert data["passed"] and {r["status"] for r in data["drift"]} == {"OK"}
    exported = tmp_path / "exported.jsonl"
    assert runner.invoke(main_group, ["baselines", "export", "--out", str(exported)]).exit_code == 0
    assert exported.read_bytes() == log.read_bytes()
    assert runner.invoke(main_group, ["baselines", "import", str(log)]).exit_code == 0
    res = runner.invoke(main_group, ["baselines", "export"])
    assert res.stdout_bytes == log.read_bytes()
    res = runner.invoke(main_group, ["audit", "compare", f"{log}@0", f"{log}@-1"])
    assert res.exit_code == 0 and "AGREE: 28 metrics equal, 0 different" in res.output


def test_cli_fail_and_usage_exit_codes(runner: CliRunner, root: Path, tmp_path: Path) -> None:
    rewrite(root / "data/exports/sft.jsonl", lambda i, r: {**r, "sig_hash": "ABC"} if i == 0 else None)
    out = tmp_path / "r.md"
    res = runner.invoke(main_group, ["audit", "--root", str(root), "--out", str(out)])
    # the rewrite also changed the file's bytes: its receipt no longer matches (advisory)
    assert res.exit_code == 1 and "audit FAIL (8/9 required pass), 1 advisory FAIL; report in" in res.output
    text = out.read_text()
    assert "### `p4_sig_hash_format` (1, required)" in text and "data/exports/sft.jsonl:1: sig_hash 'ABC'" in text
    res = runner.invoke(main_group, ["audit", "--root", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "is not a directory" in res.output and "Traceback" not in res.output
    assert runner.invoke(main_group, ["audit"]).exit_code == 2
    assert runner.invoke(main_group, ["audit", "--root", str(root), "--profile", "missing"]).exit_code == 2
    assert runner.invoke(main_group, ["audit", "--root", str(root), "--phases", "x"]).exit_code == 2
    res = runner.invoke(main_group, ["audit", "compare", str(tmp_path / "none.jsonl"), str(root)])
    assert res.exit_code == 2 and "not a baseline log" in res.output


def test_cli_fixture_and_compare_roots(runner: CliRunner, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert runner.invoke(main_group, ["audit", "fixture", "--root", str(a)]).exit_code == 0
    assert runner.invoke(main_group, ["audit", "fixture", "--root", str(b), "--rows", "5000"]).exit_code == 0
    assert runner.invoke(main_group, ["audit", "fixture", "--root", str(a)]).exit_code == 2  # not empty
    res = runner.invoke(main_group, ["audit", "compare", str(a), str(a)])
    assert res.exit_code == 0
    res = runner.invoke(main_group, ["audit", "compare", str(a), str(b), "--json"])
    assert res.exit_code == 1
    rows = {r["metric"]: r for r in orjson.loads(res.stdout)["rows"]}
    assert rows["p3_accepted"]["status"] == "DIFFERENT" and rows["p3_accepted"]["a"] == 386


def test_markdown_report_and_fleet_report(root: Path, tmp_path: Path) -> None:
    clean = run_audit(str(root), host="alpha")
    text = format_report(clean)
    assert text.startswith("# Audit: PASS (9/9 required pass)\n")
    assert "| 4 | contamination firewall | PASS | 5/5 |" in text
    assert "## Drift against the baseline" in text and "NO_BASELINE" in text
    (tmp_path / "empty").mkdir()
    empty = run_audit(str(tmp_path / "empty"), host="beta")
    path = tmp_path / "fleet" / "fleet.md"
    write_fleet_report([clean, empty], path)
    fleet = path.read_text()
    assert fleet.startswith("# Fleet audit: 1/2 hosts pass")
    assert "| alpha |" in fleet and "| beta |" in fleet and "`p0_required_files`" in fleet

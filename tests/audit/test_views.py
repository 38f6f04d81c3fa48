"""What a reader sees: the honest headline, failures first, differences first, and the one drift table, whose
Markdown is parsed back by a real Markdown table parser (markdown-it-py)."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner
from markdown_it import MarkdownIt

from farm.audit import run_audit
from farm.audit.fleet import format_fleet_report
from farm.audit.markdown import DRIFT_COLUMNS
from farm.audit.report import format_report
from farm.cli import main_group
from tests.audit.handroot import PATHS, SUMMARIES, audit, hand_root, write

DOCS = Path(__file__).resolve().parents[2] / "docs/audit-layout.md"


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table in the text as rows of cells (header first), each cell's text as rendered (escapes undone)."""
    out: list[list[list[str]]] = []
    row: list[str] | None = None
    cell_open = False
    for tok in MarkdownIt("commonmark").enable("table").parse(markdown):
        if tok.type == "table_open":
            out.append([])
        elif tok.type == "tr_open":
            row = []
        elif tok.type in ("th_open", "td_open"):
            cell_open = True
        elif tok.type == "inline" and cell_open and row is not None:
            row.append("".join(c.content for c in tok.children or []))
            cell_open = False
        elif tok.type in ("th_close", "td_close") and cell_open and row is not None:
            row.append("")  # an empty cell has no inline token
            cell_open = False
        elif tok.type == "tr_close" and row is not None:
            out[-1].append(row)
    return out


def section_table(markdown: str, heading: str) -> list[list[str]]:
    return tables(markdown.split(heading, 1)[1])[0]


def broken_advisory_root(tmp_path: Path) -> Path:
    """Required checks all pass; phases 5 (receipt), 6 (replay) and 7 (lineage) fail."""
    root = hand_root(tmp_path / "root")
    rec = (root / PATHS["receipts"]).read_text().replace('"rows":3,', '"rows":4,', 1)
    (root / PATHS["receipts"]).write_text(rec)
    write(root, PATHS["summaries"], [SUMMARIES[0].replace('"accepted": 2', '"accepted": 5'),
                                     SUMMARIES[1].replace('"seq": 1', '"seq": 7')])
    return root


def test_headline_counts_advisory_failures_and_lists_them_first(tmp_path: Path) -> None:
    root = broken_advisory_root(tmp_path)
    out = tmp_path / "report.md"
    res = CliRunner().invoke(main_group, ["audit", "--root", str(root), "--out", str(out)])
    assert res.exit_code == 0
    assert res.stdout == f"audit PASS (9/9 required pass), 3 advisory FAIL; report in {out}\n"
    text = out.read_text()
    assert text.startswith("# Audit: PASS (9/9 required pass), 3 advisory FAIL\n")
    phases = section_table(text, "## Phases")
    assert phases[0] == ["phase", "name", "status", "checks", "seconds"]
    assert [(r[0], r[2]) for r in phases[1:4]] == [("5", "FAIL (advisory)"), ("6", "FAIL (advisory)"),
                                                   ("7", "FAIL (advisory)")]
    assert {r[2] for r in phases[4:]} <= {"PASS", "SKIP"}
    checks = section_table(text, "## Checks")
    assert [r[0] for r in checks[1:4]] == ["p5_receipts", "p6_replay", "p7_lineage"]
    _, report = audit(root)
    assert report["headline"] == "PASS (9/9 required pass), 3 advisory FAIL" and report["verdict"] == "PASS"


def test_required_failure_headline_and_phase_order(tmp_path: Path) -> None:
    root = broken_advisory_root(tmp_path)
    write(root, PATHS["sft"], ['{"id": 1}'])
    report = run_audit(str(root))
    # p1 schema only: phase 4 skips the line phase 1 could not read (it used to fail p4_sig_hash_format too)
    assert report.headline() == "FAIL (8/9 required pass), 3 advisory FAIL"
    phases = section_table(format_report(report), "## Phases")
    assert phases[1][2] == "FAIL (required)"


def test_compare_lists_differing_metrics_first(tmp_path: Path) -> None:
    a = hand_root(tmp_path / "a", receipts=False)
    b = hand_root(tmp_path / "b", receipts=False)
    write(b, PATHS["rag"], ['{"id": "r", "source_id": "s2", "text": "t", "sig_hash": "' + "0" * 64 + '"}'])
    runner = CliRunner()
    res = runner.invoke(main_group, ["audit", "compare", str(a), str(b), "--json"])
    assert res.exit_code == 1
    rows = orjson.loads(res.stdout)["rows"]
    assert [r["status"] for r in rows[:2]] == ["DIFFERENT", "DIFFERENT"]
    assert {r["metric"] for r in rows if r["status"] == "DIFFERENT"} == {"p1_records", "p4_rag_rows"}
    md = runner.invoke(main_group, ["audit", "compare", str(a), str(b)]).stdout
    table = tables(md)[0]
    assert [r[0] for r in table[1:3]] == ["p1_records", "p4_rag_rows"] and table[1][3] == "DIFFERENT"


def drift_log(tmp_path: Path) -> Path:
    path = tmp_path / "log.jsonl"
    base = {"p3_partial": 0, "p3_accepted": 100, "ratio": 1.5, "p4_sft_contaminated": 0, "gone": 1}
    cur = {"p3_partial": 132, "p3_accepted": 130, "ratio": 1.25, "p4_sft_contaminated": 2, "new|metric": 3}
    path.write_bytes(orjson.dumps({"metrics": base, "timestamp": "2026-05-01T00:00:00Z"}) + b"\n"
                     + orjson.dumps({"metrics": cur, "timestamp": "2026-05-02T00:00:00Z"}) + b"\n")
    return path


def test_baselines_drift_renders_the_documented_table(tmp_path: Path) -> None:
    res = CliRunner().invoke(main_group, ["baselines", "drift", str(drift_log(tmp_path))])
    assert res.exit_code == 1  # flagged rows
    (table,) = tables(res.stdout)
    assert tuple(table[0]) == DRIFT_COLUMNS
    assert f"`{' | '.join(DRIFT_COLUMNS)}`" in DOCS.read_text()  # the columns the docs promise
    assert all(len(r) == len(DRIFT_COLUMNS) for r in table)
    rows = {r[0]: dict(zip(DRIFT_COLUMNS, r, strict=True)) for r in table[1:]}
    assert rows["p3_partial"]["baseline (run)"] == "0 (#0 (2026-05-01T00:00:00Z))"
    assert rows["p3_partial"]["abs delta"] == "132" and rows["p3_partial"]["status"] == "NEW_NONZERO"
    assert rows["p3_accepted"]["abs delta"] == "30" and rows["p3_accepted"]["rel delta"] == "+30.0%"
    assert rows["p3_accepted"]["rule"] == "|d| > 5 and |d|/max(|b|, 5) > 0.1"  # pipes escaped, parsed back
    assert rows["ratio"]["abs delta"] == "-0.25"
    assert rows["new|metric"]["status"] == "NEW_METRIC" and rows["new|metric"]["baseline (run)"] == "-"
    assert rows["gone"]["current"] == "-" and rows["gone"]["status"] == "MISSING"
    assert not any(c in ("None", "132.0") for r in table for c in r)
    statuses = [r[7] for r in table[1:]]
    assert "OK" in statuses and statuses == sorted(statuses, key=lambda st: st == "OK")  # flagged rows first


def test_report_and_fleet_report_render_the_same_drift_table(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    log = tmp_path / "log.jsonl"
    first = run_audit(str(root), log_path=log)
    from farm.audit import append_baseline

    append_baseline(log, first.envelope())
    write(root, PATHS["rag"], [])  # rag drops to 0 rows: -100%
    second = run_audit(str(root), log_path=log, host="alpha")
    report_table = section_table(format_report(second), "## Drift against the baseline")
    fleet_table = section_table(format_fleet_report([second]), "## Drift flags per host")
    assert tuple(report_table[0]) == tuple(fleet_table[0]) == DRIFT_COLUMNS
    rag = next(r for r in report_table if r[0] == "p4_rag_rows")
    assert rag[2].startswith("2 (#0 (") and rag[3] == "0" and rag[4] == "-2" and rag[5] == "-100.0%"
    empty = next(r for r in report_table if r[0] == "p0_required_empty")
    assert empty[3:] == ["1", "1", "-", "invariant: must be 0", "FAIL"]
    assert empty in fleet_table and len(fleet_table) < len(report_table)  # the very same row; flagged rows only

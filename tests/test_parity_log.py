from __future__ import annotations

from pathlib import Path

from farm.report.parity_log import ParityRow, record, upsert

SEED = """# G5 cutover prep — verified-parity log

What works on Go gateway. Append a row when a new endpoint clears parity.

| Endpoint | Date | Rust path | Go path | Verdict | Notes |
|---|---|---|---|---|---|
| `embed` (forced v1) | 2026-04-30 | `/ai/embed` | `/v1/embed` | ✅ PASS 5/5 cos=1.000 | bit-identical |

## Wire-format drift catalog

Hand-written prose   with  odd   spacing.
"""


def _row(date: str, verdict: str = "✅ PASS 2,995/2,995") -> ParityRow:
    return ParityRow("`embed` (nomic-embed-text)", date, "/ai/embed", "/v1/embed", verdict, "notes")


def test_new_row_is_appended_to_the_table_and_all_else_kept() -> None:
    out = upsert(SEED, _row("2026-11-23"))
    before, after = SEED.split("\n\n## Wire")
    assert out.startswith(before + "\n| `embed` (nomic-embed-text) | 2026-11-23 |")
    assert out.endswith("\n\n## Wire" + after)
    assert out.replace(_row("2026-11-23").line() + "\n", "") == SEED


def test_same_day_rerun_replaces_its_row_only() -> None:
    once = upsert(SEED, _row("2026-11-23"))
    twice = upsert(once, _row("2026-11-23", "✅ PASS 3,000/3,000"))
    assert twice.count("2026-11-23") == 1 and "3,000/3,000" in twice
    assert twice.replace(_row("2026-11-23", "✅ PASS 3,000/3,000").line() + "\n", "") == SEED
    other_day = upsert(twice, _row("2026-11-24"))
    assert other_day.count("(nomic-embed-text)") == 2


def test_fresh_file_and_record(tmp_path: Path) -> None:
    path = tmp_path / "cutover" / "SUMMARY.md"
    record(path, _row("2026-11-23"))
    text = path.read_text()
    assert "| Endpoint | Date | Legacy path | Candidate path | Verdict | Notes |" in text
    assert text.count("| `embed` (nomic-embed-text) | 2026-11-23 |") == 1
    record(path, _row("2026-11-23"))
    assert path.read_text() == text


def test_pipes_in_cells_are_escaped() -> None:
    line = ParityRow("e", "d", "/a", "/b", "PASS", "a | b").line()
    assert line.endswith("| a \\| b |")

from __future__ import annotations

from pathlib import Path

from farm.report.parity_log import ParityRow, pair_note, record, revoke, upsert

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


def _farm_row(date: str, candidate: str = "candidate", url: str = "http://c:2",
              verdict: str = "✅ PASS 100/100") -> ParityRow:
    return ParityRow("`embed` (gateway default)", date, "/ai/embed", "/v1/embed", verdict,
                     f"{pair_note('legacy', candidate, 'http://l:1', url)} PASS: reason. Sweep `s`, see `r.md`.")


def test_farm_rows_are_keyed_by_endpoint_and_gateway_names_not_date_or_port() -> None:
    once = upsert(SEED, _farm_row("2026-12-01"))
    assert _farm_row("2026-12-01").line().endswith("| Gateways `legacy` (http://l:1) → `candidate` (http://c:2). "
                                                   "PASS: reason. Sweep `s`, see `r.md`. |")
    # The same pair of names on other ports (the demo's fresh ports) the next day: the row is replaced.
    later = upsert(once, _farm_row("2026-12-03", url="http://c:3", verdict="✅ PASS 200/200"))
    assert later == once.replace(_farm_row("2026-12-01").line(),
                                 _farm_row("2026-12-03", url="http://c:3", verdict="✅ PASS 200/200").line())
    other_pair = upsert(later, _farm_row("2026-12-03", candidate="go-prod"))
    assert other_pair.count("`embed` (gateway default)") == 2
    assert other_pair.replace(_farm_row("2026-12-03", candidate="go-prod").line() + "\n", "") == later


def test_revoke_marks_standing_passes_of_the_endpoint_and_keeps_every_other_byte() -> None:
    seed = upsert(SEED, _farm_row("2026-12-01")).replace("\n", "\r\n")
    seed = seed.replace("\r\n\r\n## Wire", "\r\n| `sql` (x) | 2026-04-30 | `/query` | `/v1/sql` | ✅ PASS 3/3 | "
                                           "a \\| b |\r\n\r\n## Wire")
    out = revoke(seed, ("embed", "/ai/embed", "/v1/embed"), "2026-12-07", "FAIL", "Revoked by sweep `f`.")
    lines = out.split("\r\n")
    assert lines[6] == ("| `embed` (forced v1) | 2026-04-30 | `/ai/embed` | `/v1/embed` | ❌ PASS on 2026-04-30, "
                        "FAIL on 2026-12-07: revoked | bit-identical Revoked by sweep `f`. |")
    assert lines[7] == ("| `embed` (gateway default) | 2026-12-01 | `/ai/embed` | `/v1/embed` | ❌ PASS on "
                        "2026-12-01, FAIL on 2026-12-07: revoked | Gateways `legacy` (http://l:1) → `candidate` "
                        "(http://c:2). PASS: reason. Sweep `s`, see `r.md`. Revoked by sweep `f`. |")
    assert lines[8] == "| `sql` (x) | 2026-04-30 | `/query` | `/v1/sql` | ✅ PASS 3/3 | a \\| b |"  # not this endpoint
    assert [ln for i, ln in enumerate(lines) if i not in (6, 7)] == [
        ln for i, ln in enumerate(seed.split("\r\n")) if i not in (6, 7)]
    # Revoked once stays revoked once; a PASS dated after the FAIL is not revoked by it.
    assert revoke(out, ("embed", "/ai/embed", "/v1/embed"), "2026-12-08", "INCONCLUSIVE", "again") == out
    assert revoke(seed, ("embed", "/ai/embed", "/v1/embed"), "2026-11-30", "FAIL", "x").count("revoked") == 1
    assert revoke("no table here\n", ("embed", "/a", "/b"), "2026-12-07", "FAIL", "x") == "no table here\n"

"""One definition of a readable line for every phase: the lines phase 1 counts as bad are the lines phases 3 to 7
never count (docs/audit-layout.md, "every other phase skips them"), and the Files table's `bad` is that count."""

from __future__ import annotations

from pathlib import Path

from tests.audit.handroot import CLEAN, PATHS, QUARANTINE, SCORED, audit, check, hand_root, write

BAD_SCORED = [
    '{"run_id": "r9", "record_id": 5, "source_id": "s9", "verdict": "accepted", "score": 1}',  # record_id not str
    '{"run_id": "r9", "record_id": "x", "verdict": "accepted", "score": 1}',  # no source_id
    '{"run_id": "r1", "record_id": "z", "source_id": "s2", "verdict": "accepted", "score": "high"}',  # run r1
    '{"run_id": "r1", "record_id": "a", "source_id": "s1", "verdict": "rejected", "score": "x"}',  # repeat, s1
    'not json at all',
]


def test_bad_scored_lines_are_counted_by_phase_1_only(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    write(root, PATHS["scored"], SCORED + BAD_SCORED)
    write(root, PATHS["quarantine"], [*QUARANTINE, '{"source_id": "s2"}'])  # no reason: not a quarantine record
    _, report = audit(root, "--no-mirror")
    metrics = report["metrics"]
    assert metrics["p1_bad_lines"] == len(BAD_SCORED) + 1
    for name in ("p3_accepted", "p3_partial", "p3_rejected", "p3_human", "p3_duplicate_records",
                 "p4_total_quarantined", "p4_duplicate_quarantine"):
        assert metrics[name] == CLEAN[name], name
    # s1 and s2 feed the exports: a bad line naming them contaminates nothing
    assert metrics["p4_sft_contaminated"] == metrics["p4_rag_contaminated"] == 0
    assert check(report, "p4_firewall")["status"] == "PASS"
    assert check(report, "p3_unique_records")["status"] == "PASS"
    # run r1's summary says 2 accepted, 1 rejected: the bad r1 lines are not replayed either
    assert metrics["p6_replay_mismatches"] == 0
    assert report["verdict"] == "FAIL" and check(report, "p1_schema_valid")["status"] == "FAIL"
    offenders = check(report, "p1_schema_valid")["offenders"]
    assert offenders[0] == f"{PATHS['scored']}:7: field 'record_id' should be str, got int 5"
    assert offenders[1] == f"{PATHS['scored']}:8: missing field 'source_id'"


def test_files_table_bad_column_agrees_with_p1_bad_lines(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    write(root, PATHS["scored"], SCORED + BAD_SCORED + [""])
    _, report = audit(root, "--no-mirror")
    row = next(f for f in report["files"] if f["path"] == PATHS["scored"])
    assert row["bad"] == len(BAD_SCORED) == report["metrics"]["p1_bad_lines"]
    assert row["records"] == len(SCORED) and row["blank"] == 1
    assert row["lines"] == row["blank"] + row["records"] + row["bad"]


def test_a_phase_run_alone_skips_the_same_lines(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    write(root, PATHS["scored"], SCORED + BAD_SCORED)
    _, report = audit(root, "--phases", "3,4")
    assert report["metrics"]["p3_accepted"] == CLEAN["p3_accepted"]
    assert report["metrics"]["p4_sft_contaminated"] == 0

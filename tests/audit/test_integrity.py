"""Counts that cannot silently double and empty inputs that cannot pass, on roots written by hand from the docs."""

from __future__ import annotations

from pathlib import Path

from tests.audit.handroot import CLEAN, PATHS, PREF, QUARANTINE, RAG, SCORED, SFT, audit, check, hand_root, write


def test_hand_written_root_passes_with_its_figures(tmp_path: Path) -> None:
    res, report = audit(hand_root(tmp_path))
    assert res.exit_code == 0 and report["verdict"] == "PASS"
    assert {k: report["metrics"][k] for k in CLEAN} == CLEAN
    assert report["headline"] == "PASS (9/9 required pass)"


def test_two_sft_rows_with_one_sig_hash_fail(tmp_path: Path) -> None:
    root = hand_root(tmp_path)
    write(root, PATHS["sft"], [*SFT, SFT[1].replace('"sft-1"', '"sft-9"')])
    res, report = audit(root)
    assert res.exit_code == 1
    c = check(report, "p4_unique_sig_hash")
    assert c["required"] and c["status"] == "FAIL" and c["offender_count"] == 1
    assert c["offenders"][0].startswith("data/exports/sft.jsonl:4: sig_hash ")
    assert c["offenders"][0].endswith("already at data/exports/sft.jsonl:2")
    assert report["metrics"]["p4_duplicate_sig_hash"] == 1 and report["metrics"]["p4_sft_rows"] == 4


def test_one_sig_hash_across_sft_and_rag_fails(tmp_path: Path) -> None:
    root = hand_root(tmp_path)
    sig = SFT[0].rsplit('"sig_hash": "', 1)[1][:64]
    write(root, PATHS["rag"], [RAG[0], RAG[1].rsplit('"sig_hash"', 1)[0] + f'"sig_hash": "{sig}"}}'])
    res, report = audit(root)
    assert res.exit_code == 1
    assert check(report, "p4_unique_sig_hash")["offenders"] == [
        f"data/exports/rag.jsonl:2: sig_hash {sig[:16]}... already at data/exports/sft.jsonl:1"]


def test_a_scored_record_written_twice_counts_once_and_fails(tmp_path: Path) -> None:
    root = hand_root(tmp_path)
    write(root, PATHS["scored"], [*SCORED, SCORED[0]])
    res, report = audit(root)
    assert res.exit_code == 1
    assert {k: report["metrics"][k] for k in CLEAN if k != "p3_duplicate_records"} == {
        k: v for k, v in CLEAN.items() if k != "p3_duplicate_records"}  # p3_accepted stays 3
    assert report["metrics"]["p3_duplicate_records"] == 1
    c = check(report, "p3_unique_records")
    assert c["required"] and c["status"] == "FAIL"
    assert c["offenders"] == ["data/scored/scored_runs.jsonl:7: scored record 'a' of run 'r1' already at "
                              "data/scored/scored_runs.jsonl:1"]
    assert check(report, "p6_replay")["status"] == "PASS"  # the replay counts distinct records too


def test_a_duplicated_quarantine_line_counts_one_source(tmp_path: Path) -> None:
    root = hand_root(tmp_path)
    write(root, PATHS["quarantine"], [*QUARANTINE, QUARANTINE[1]])
    res, report = audit(root)
    assert res.exit_code == 0  # harmless to the firewall: advisory, and shown in the headline
    assert report["headline"] == "PASS (9/9 required pass), 1 advisory FAIL"
    assert report["metrics"]["p4_total_quarantined"] == 2 and report["metrics"]["p4_duplicate_quarantine"] == 1
    firewall = check(report, "p4_firewall")["detail"]
    assert "any of 3 contaminated sources" in firewall  # q1, q2 and the rejected s3: the same sources as counted
    c = check(report, "p4_unique_quarantine")
    assert not c["required"] and c["offenders"] == [
        "data/quarantine/quarantine.jsonl:3: source 'q2' already quarantined at data/quarantine/quarantine.jsonl:2"]


def test_an_empty_required_export_fails(tmp_path: Path) -> None:
    root = hand_root(tmp_path, receipts=False)
    write(root, PATHS["sft"], [])
    res, report = audit(root)
    assert res.exit_code == 1
    c = check(report, "p0_required_nonempty")
    assert c["required"] and c["status"] == "FAIL"
    assert c["offenders"] == ["data/exports/sft.jsonl: no records (required dataset sft is empty)"]
    write(root, PATHS["sft"], ["", "  ", "\r"])  # blank lines only: still empty
    res, report = audit(root)
    assert res.exit_code == 1 and check(report, "p0_required_nonempty")["offender_count"] == 1


def test_an_empty_quarantine_fails_and_a_firewall_with_nothing_to_check_is_inconclusive(tmp_path: Path) -> None:
    root = hand_root(tmp_path)
    write(root, PATHS["quarantine"], [])
    res, report = audit(root)
    assert res.exit_code == 1
    assert check(report, "p0_required_nonempty")["offenders"] == [
        "data/quarantine/quarantine.jsonl: no records (required dataset quarantine is empty)"]
    assert check(report, "p4_firewall")["status"] == "PASS"  # the rejected source s3 is still checked
    # no rejected record either, and a profile where quarantine is optional: nothing to check against
    write(root, PATHS["scored"], [s.replace('"rejected"', '"partial"') for s in SCORED])
    (root / PATHS["summaries"]).unlink()
    (root / "farm.toml").write_text('[audit.profiles.noq]\nrequired = ["scored_runs", "sft", "rag", "preference"]\n')
    res, report = audit(root, "--profile", "noq", env={"FARM_CONFIG": str(root / "farm.toml")})
    assert res.exit_code == 3 and report["verdict"] == "INCONCLUSIVE"
    c = check(report, "p4_firewall")
    assert c["status"] == "INCONCLUSIVE" and "no quarantined or rejected source to check against" in c["detail"]
    assert report["headline"].startswith("INCONCLUSIVE (8/9 required pass, 1 inconclusive)")


def test_receipt_rows_count_non_blank_lines(tmp_path: Path) -> None:
    root = hand_root(tmp_path, receipts=False)
    write(root, PATHS["pref"], [PREF[0], ""])  # a trailing blank line is not a row
    from tests.audit.handroot import write_receipts

    write_receipts(root)
    res, report = audit(root)
    assert res.exit_code == 0 and check(report, "p5_receipts")["status"] == "PASS"
    rec = (root / PATHS["receipts"]).read_text().replace('"rows":1,', '"rows":2,')  # counting the blank line
    (root / PATHS["receipts"]).write_text(rec)
    _, report = audit(root)
    c = check(report, "p5_receipts")
    assert c["status"] == "FAIL" and "says 2 rows, file has 1" in c["offenders"][0]
    pref = next(f for f in report["files"] if f["path"] == PATHS["pref"])
    assert pref == {"dataset": "preference", "path": PATHS["pref"], "lines": 2, "blank": 1, "records": 1, "bad": 0}


def test_bom_nan_and_crlf(tmp_path: Path) -> None:
    root = hand_root(tmp_path, receipts=False)
    write(root, PATHS["rag"], RAG, end="\r\n")  # CRLF: accepted, same records
    res, report = audit(root)
    assert res.exit_code == 0 and report["metrics"]["p4_rag_rows"] == 2
    (root / PATHS["sft"]).write_bytes(b"\xef\xbb\xbf" + (root / PATHS["sft"]).read_bytes())
    write(root, PATHS["scored"], [*SCORED, SCORED[1].replace('"b"', '"z"').replace("0.8", "NaN")])
    res, report = audit(root)
    assert res.exit_code == 1
    assert check(report, "p1_schema_valid")["offenders"] == [
        "data/scored/scored_runs.jsonl:7: not JSON (unexpected character, expected a JSON value)",
        "data/exports/sft.jsonl:1: not JSON (UTF-8 byte order mark (BOM) is not supported)",
    ]

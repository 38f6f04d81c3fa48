from __future__ import annotations

import sys
from pathlib import Path

import orjson

from farm.audit import AuditProfile, PhaseResult, assemble, run_audit, run_phase
from farm.audit.fixtures import SEED_METRICS
from farm.audit.profile import Materializer
from tests.audit.conftest import rewrite

REQUIRED = {"p0_required_files", "p0_required_nonempty", "p1_schema_valid", "p3_scored_runs_present",
            "p3_unique_records", "p4_firewall", "p4_no_self_pairs", "p4_sig_hash_format", "p4_unique_sig_hash"}


def status(report_checks: list, name: str) -> str:  # type: ignore[type-arg]
    return next(c.status for c in report_checks if c.name == name)


def test_clean_fixture_yields_seed_figures_and_passes(root: Path) -> None:
    report = run_audit(str(root))
    assert {k: report.metrics[k] for k in SEED_METRICS} == SEED_METRICS
    assert {c.name for c in report.required_checks} == REQUIRED
    assert all(c.status == "PASS" for c in report.required_checks)
    assert report.passed
    for name in ("p5_receipts", "p6_replay", "p7_lineage"):
        assert status(report.checks, name) == "PASS"
    assert status(report.checks, "p2_materializer_dry_run") == "SKIP"


def test_empty_root_fails_cleanly(tmp_path: Path) -> None:
    report = run_audit(str(tmp_path))
    assert not report.passed
    assert status(report.checks, "p0_required_files") == "FAIL"
    assert status(report.checks, "p3_scored_runs_present") == "FAIL"
    assert report.metrics["p3_accepted"] == 0 and report.metrics["p4_sft_rows"] == 0
    assert status(report.checks, "p7_lineage") == "SKIP"


def test_sft_row_from_rejected_or_quarantined_source_is_caught(root: Path) -> None:
    sft = root / "data/exports/sft.jsonl"
    # scored sources 386+132 .. are rejected; quarantine ids are q-XXXXXXXX
    rewrite(sft, lambda i, r: {**r, "source_id": "src-00000520"} if i == 3 else
            ({**r, "source_id": "q-00000007"} if i == 10 else None))
    result = run_phase(str(root), 4, AuditProfile())
    assert result.metrics["p4_sft_contaminated"] == 2
    check = next(c for c in result.checks if c.name == "p4_firewall")
    assert check.status == "FAIL" and check.offender_count == 2
    assert check.offenders[0].startswith("data/exports/sft.jsonl:4: sft row from rejected source")
    assert "quarantined" in check.offenders[1] and ":11:" in check.offenders[1]


def test_preference_self_pair_is_caught(root: Path) -> None:
    rewrite(root / "data/exports/preference.jsonl",
            lambda i, r: {**r, "rejected": f" {r['chosen']} "} if i == 5 else None)
    result = run_phase(str(root), 4, AuditProfile())
    assert result.metrics["p4_self_pairs"] == 1
    assert next(c for c in result.checks if c.name == "p4_no_self_pairs").offenders == [
        "data/exports/preference.jsonl:6: preference pair has the same text on both sides"]


def test_sig_hash_must_be_64_lowercase_hex(root: Path) -> None:
    good = "a" * 64
    bad = {0: "a" * 63, 1: "a" * 65, 2: "A" * 64, 3: "g" * 64}
    rewrite(root / "data/exports/rag.jsonl",
            lambda i, r: {**r, "sig_hash": bad.get(i, good) if i < 5 else r["sig_hash"]})
    result = run_phase(str(root), 4, AuditProfile())
    assert result.metrics["p4_bad_sig_hash"] == 4
    check = next(c for c in result.checks if c.name == "p4_sig_hash_format")
    assert [o.split(":")[1] for o in check.offenders] == ["1", "2", "3", "4"]


def test_corrupt_jsonl_lines_are_reported_never_raised(root: Path) -> None:
    path = root / "data/scored/scored_runs.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"run_id": "run-0002", "verdict": \n'
    lines[4] = b"[1, 2]\n"
    rec = orjson.loads(lines[6])
    rec["verdict"] = "maybe"
    lines[6] = orjson.dumps(rec) + b"\n"
    lines.insert(8, b"\n")
    path.write_bytes(b"".join(lines) + b'{"run_id": 7')
    result = run_phase(str(root), 1, AuditProfile())
    check = result.checks[0]
    assert check.status == "FAIL" and result.metrics["p1_bad_lines"] == 4
    where = [o.split(": ", 1)[0] for o in check.offenders]
    assert where == ["data/scored/scored_runs.jsonl:3", "data/scored/scored_runs.jsonl:5",
                     "data/scored/scored_runs.jsonl:7", f"data/scored/scored_runs.jsonl:{len(lines) + 1}"]
    assert "not JSON" in check.offenders[0] and "expected a JSON object" in check.offenders[1]
    assert "'maybe' is not one of" in check.offenders[2]
    report = run_audit(str(root))  # the other phases skip the bad lines
    assert not report.passed and report.metrics["p3_accepted"] == 386 - 3


def test_receipts_mismatch_is_reported(root: Path) -> None:
    with open(root / "data/exports/rag.jsonl", "ab") as fh:
        fh.write(b'{"id": "extra", "source_id": "src-00000001", "text": "x", "sig_hash": "' + b"0" * 64 + b'"}\n')
    result = run_phase(str(root), 5, AuditProfile())
    assert result.metrics["p5_receipt_mismatches"] == 2  # rows and sha256
    assert "says 448 rows, file has 449" in result.checks[0].offenders[0]


def test_replay_mismatch_is_reported(root: Path) -> None:
    rewrite(root / "data/runs/run_summaries.jsonl",
            lambda i, r: {**r, "counts": {**r["counts"], "accepted": r["counts"]["accepted"] + 1}} if i == 0 else None)
    result = run_phase(str(root), 6, AuditProfile(replay_sample=1000))
    assert result.metrics["p6_replay_mismatches"] == 1
    assert "run run-0000: summary vs replay: accepted" in result.checks[0].offenders[0]


def test_lineage_missing_parent_cycle_and_gap(root: Path) -> None:
    def edit(i: int, r: dict[str, object]) -> dict[str, object] | None:
        if i == 10:
            return {**r, "parents": ["run-9999"]}
        if i == 20:
            return {**r, "seq": 25}
        if i == 0:
            return {**r, "parents": ["run-0002"], "seq": 3}
        return None

    rewrite(root / "data/runs/run_summaries.jsonl", edit)
    result = run_phase(str(root), 7, AuditProfile())
    text = "\n".join(result.checks[0].offenders)
    assert "run-0010: parent run-9999 has no summary" in text
    assert "gap in lineage (seq 25, expected 20)" in text
    assert "lineage cycle" in text
    assert result.checks[0].status == "FAIL"


def test_materializer_dry_run(root: Path, tmp_path: Path) -> None:
    script = tmp_path / "mat.py"
    script.write_text("import sys\nassert sys.argv[1] == '--plan'\nprint('data/exports/sft.jsonl')\n"
                      "print('{\"output\": \"data/exports/rag.jsonl\"}')\n")
    mat = Materializer((sys.executable, str(script)), "--plan", ("data/exports/sft.jsonl", "data/exports/rag.jsonl"))
    ok = run_phase(str(root), 2, AuditProfile(materializer=mat))
    assert ok.checks[0].status == "PASS" and ok.metrics["p2_missing_outputs"] == 0
    mat2 = Materializer((sys.executable, str(script)), "--plan", ("data/exports/preference.jsonl",))
    missing = run_phase(str(root), 2, AuditProfile(materializer=mat2))
    assert missing.checks[0].status == "FAIL" and missing.metrics["p2_missing_outputs"] == 1
    failing = run_phase(str(root), 2, AuditProfile(materializer=Materializer((sys.executable, str(script)))))
    assert failing.checks[0].status == "FAIL" and "exited 1" in failing.checks[0].detail


def test_profile_remaps_paths_fields_and_values(tmp_path: Path, root: Path) -> None:
    from farm.audit.profile import parse_profile

    src = root / "data/scored/scored_runs.jsonl"
    target = root / "other/scored-part-1.jsonl"
    target.parent.mkdir()
    rename = {"accepted": "ACCEPT", "partial": "PARTIAL", "rejected": "REJECT", "human": "HUMAN"}
    with open(target, "wb") as out:
        for line in src.read_bytes().splitlines():
            r = orjson.loads(line)
            r["label"] = rename[r.pop("verdict")]
            out.write(orjson.dumps(r) + b"\n")
    src.unlink()
    profile = parse_profile("lake", {
        "paths": {"scored_runs": "other/scored-*.jsonl"}, "fields": {"scored_runs": {"verdict": "label"}},
        "values": {"verdict": rename},
    }, "farm.toml")
    report = run_audit(str(root), profile)
    assert {k: report.metrics[k] for k in SEED_METRICS} == SEED_METRICS
    assert report.passed


def test_phase_results_round_trip_through_json_and_assemble(root: Path) -> None:
    results = [PhaseResult.from_dict(orjson.loads(orjson.dumps(run_phase(str(root), p, AuditProfile()).to_dict())))
               for p in range(8)]
    report = assemble(list(reversed(results)), root=str(root), host="h1")
    direct = run_audit(str(root))
    assert report.metrics == direct.metrics and report.passed
    assert [p.phase for p in report.phases] == list(range(8))


def test_profile_round_trips_through_plain_data() -> None:
    profile = AuditProfile(materializer=Materializer(("make", "plan"), "--dry", ("a.jsonl",), 5.0), replay_sample=7)
    data = orjson.loads(orjson.dumps(profile.to_dict()))
    assert AuditProfile.from_dict(data) == profile
    assert AuditProfile.from_dict(AuditProfile().to_dict()) == AuditProfile()

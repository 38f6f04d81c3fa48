"""Safe file discovery: globs never follow a symlink out of the root or around a loop, each file is read once,
and what was read (with line counts) or skipped is listed."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from farm.audit.paths import discover
from farm.cli import main_group
from tests.audit.handroot import CLEAN, PATHS, SCORED, audit, check, hand_root, write

GLOB_PROFILE = '[audit.profiles.glob]\npaths = { scored_runs = "data/scored/**/*.jsonl" }\n'


def glob_audit(root: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    (root / "farm.toml").write_text(GLOB_PROFILE)
    res, report = audit(root, "--profile", "glob", env={"FARM_CONFIG": str(root / "farm.toml")})
    return res.exit_code, report


def test_recursive_glob_with_a_symlink_to_its_own_directory_reads_each_file_once(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    scored = root / "data/scored"
    os.symlink(".", scored / "self")  # `**` through it would read the same file again and again
    write(root, "data/scored/2026/shard-2.jsonl", [])  # a real subdirectory is still searched
    os.symlink("scored_runs.jsonl", scored / "alias.jsonl")  # the same file under a second name
    code, report = glob_audit(root)
    assert code == 0, report["headline"]
    assert {k: report["metrics"][k] for k in CLEAN} == CLEAN  # p3_accepted 3, not 3 x the times it was reached
    read = [f["path"] for f in report["files"] if f["dataset"] == "scored_runs" and "lines" in f]
    assert read == ["data/scored/2026/shard-2.jsonl", "data/scored/scored_runs.jsonl"]
    scored_file = next(f for f in report["files"] if f["path"] == "data/scored/scored_runs.jsonl")
    assert scored_file["lines"] == len(SCORED) and scored_file["records"] == len(SCORED)
    skipped = {f["path"]: f["skipped"] for f in report["files"] if "skipped" in f}
    assert skipped == {"data/scored/self": "directory symlink not followed by **",
                       "data/scored/alias.jsonl": "same file as data/scored/scored_runs.jsonl: read once"}


def test_symlinks_out_of_the_root_and_loops_are_named_not_read(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    outside = write(tmp_path, "elsewhere/extra.jsonl", SCORED)
    os.symlink(outside, root / "data/scored/extra.jsonl")
    os.symlink("loop-b.jsonl", root / "data/scored/loop-a.jsonl")
    os.symlink("loop-a.jsonl", root / "data/scored/loop-b.jsonl")
    os.symlink(tmp_path / "elsewhere", root / "data/scored/outdir")
    code, report = glob_audit(root)
    assert report["metrics"]["p3_accepted"] == 3  # nothing from outside the root
    c = check(report, "p0_file_discovery")
    assert code == 0 and not c["required"] and c["status"] == "FAIL" and c["offender_count"] == 3
    assert c["offenders"] == [
        f"data/scored/extra.jsonl: symlink leads outside the root ({outside}) (not read; required dataset "
        "scored_runs)",
        "data/scored/loop-a.jsonl: symlink loop (not read; required dataset scored_runs)",
        "data/scored/loop-b.jsonl: symlink loop (not read; required dataset scored_runs)",
    ]
    assert report["headline"] == "PASS (9/9 required pass), 1 advisory FAIL"


def test_a_required_file_that_is_a_symlink_loop_is_reported_as_one(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    sft = root / PATHS["sft"]
    sft.unlink()
    os.symlink(sft.name, sft)  # points at itself
    res, report = audit(root)
    assert res.exit_code == 1
    assert check(report, "p0_required_files")["offenders"] == [
        "data/exports/sft.jsonl: symlink loop (required dataset sft)"]


def test_a_literal_or_star_segment_follows_a_directory_symlink_inside_the_root_only(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    os.symlink("scored", root / "data/current")  # a `current -> ...` link, common in pipelines
    os.symlink(tmp_path, root / "data/away")
    write(tmp_path, "x.jsonl", SCORED)
    assert discover(root, "data/current/*.jsonl").files == ["data/current/scored_runs.jsonl"]
    found = discover(root, "data/*/*.jsonl")
    assert "data/current/scored_runs.jsonl" not in found.files  # the same file as data/scored/...: read once
    assert "data/scored/scored_runs.jsonl" in found.files and not any(f.startswith("data/away") for f in found.files)
    assert ("data/current/scored_runs.jsonl", "same file as data/scored/scored_runs.jsonl: read once") in found.notes
    assert any(rel == "data/away" and "outside the root" in why for rel, why in found.notes)


def test_discover_refuses_paths_that_leave_the_root(tmp_path: Path) -> None:
    assert discover(tmp_path, "../x.jsonl").problems == [("../x.jsonl", "path leaves the root (absolute or with ..)")]
    assert discover(tmp_path, "data/*.jsonl").files == []


def test_root_that_is_a_file_or_a_loop_is_one_line_exit_2(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    loop = tmp_path / "loop"
    os.symlink("loop", loop)
    runner = CliRunner()
    for root, why in ((afile, "it is a file"), (loop, "symlink loop"), (tmp_path / "nope", "missing")):
        res = runner.invoke(main_group, ["audit", "--root", str(root)])
        assert res.exit_code == 2
        assert res.stderr == f"farm: error: audit root {str(root)!r} is not a directory: {why}\n"
        assert res.stdout == ""
    for argv in (["audit"], ["audit", "--bogus"], ["audit", "fixture", "--root", str(tmp_path / "f"), "--rows", "2"],
                 ["baselines", "drift"], ["audit", "--root", str(tmp_path), "--baseline-log", str(loop)],
                 ["audit", "--root", str(tmp_path), "--out", str(afile / "report.md")]):
        res = runner.invoke(main_group, argv)
        assert res.exit_code == 2, (argv, res.output)
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("farm: error: "), (argv, res.stderr)

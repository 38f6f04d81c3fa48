"""The baseline log is never a place to lose data: appending to a file that is not a log is refused, a torn line
is cut only in a real log (and said), lines that are not entries are warned about wherever the log is read, and
a mirror failure after the append says the line is already in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.audit import append_baseline, load_log
from farm.cli import main_group
from farm.errors import UsageError
from tests.audit.handroot import hand_root


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FARM_DATABASE_URL", f"sqlite:///{tmp_path}/farm.db")
    monkeypatch.delenv("FARM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def append_cli(runner: CliRunner, root: Path, log: Path, *extra: str) -> tuple[int, str]:
    res = runner.invoke(main_group, ["audit", "--root", str(root), "--append-baseline", "--baseline-log", str(log),
                                     "--out", str(root.parent / "r.md"), *extra])
    return res.exit_code, res.stderr


def test_append_refuses_a_file_that_is_not_a_baseline_log(runner: CliRunner, tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"notes\nfinal line without newline")
    code, err = append_cli(runner, root, notes, "--no-mirror")
    assert code == 2
    assert err == (f"farm: error: refusing to append to {str(notes)!r}: it is not empty and holds no baseline "
                   "entry (not a baseline log?)\n")
    assert notes.read_bytes() == b"notes\nfinal line without newline"


def test_a_torn_line_in_a_real_log_is_cut_and_said(runner: CliRunner, tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    log = tmp_path / "log.jsonl"
    append_baseline(log, {"metrics": {"x": 1}})
    good = log.read_bytes()
    log.write_bytes(good + b'{"metrics": {"x"')
    code, err = append_cli(runner, root, log, "--no-mirror")
    assert code == 0
    assert f"farm: warning: {log}: cut a torn final line (16 bytes, not a baseline entry" in err
    assert f"farm: warning: {log}: 1 line is not a baseline entry and ignored (first at {log}:2)" in err
    assert log.read_bytes().startswith(good) and len(load_log(log).valid) == 2 and not load_log(log).torn


def test_an_empty_or_blank_file_is_appended_to(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n")
    append_baseline(log, {"metrics": {"x": 1}})
    assert load_log(log).last() is not None


def test_garbage_is_warned_once_with_its_first_line(runner: CliRunner, tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    log = tmp_path / "log.jsonl"
    append_baseline(log, {"metrics": {"x": 1}, "timestamp": "t1"})
    with log.open("ab") as fh:
        fh.write(b"garbage\n\nmore garbage\n")
    append_baseline(log, {"metrics": {"x": 2}, "timestamp": "t2"})
    warning = f"farm: warning: {log}: 2 lines are not a baseline entry and ignored (first at {log}:2)\n"
    code, err = append_cli(runner, root, log, "--no-mirror")
    assert code == 0 and err.count(warning) == 1 and err.count("farm: warning") == 1
    res = runner.invoke(main_group, ["baselines", "drift", str(log)])
    assert res.stderr == warning
    res = runner.invoke(main_group, ["audit", "compare", str(log), f"{log}@0"])
    assert res.stderr == warning * 2
    res = runner.invoke(main_group, ["baselines", "import", str(log)])
    assert res.exit_code == 0 and res.stderr == warning


def test_import_of_a_file_with_no_entry_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "garbage.jsonl"
    for data in (b"garbage\n", b"garbage"):
        bad.write_bytes(data)
        res = runner.invoke(main_group, ["baselines", "import", str(bad)])
        assert res.exit_code == 2 and res.stdout == ""
        assert res.stderr == (f"farm: error: {str(bad)!r} holds no baseline entry: nothing imported (not a "
                              "baseline log?)\n")


def test_a_mirror_failure_says_the_line_is_in_the_file(runner: CliRunner, tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    log = tmp_path / "log.jsonl"
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not an SQLite database" * 100)
    res = runner.invoke(main_group, ["audit", "--root", str(root), "--append-baseline", "--baseline-log", str(log),
                                     "--out", str(tmp_path / "r.md")], env={"FARM_DATABASE_URL": f"sqlite:///{broken}"})
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.output
    assert res.stderr.startswith(f"farm: error: baseline appended to {log} (line 1), but the database mirror was "
                                 "not updated (database: file is not a database")
    assert f"`farm baselines import {log}` brings the mirror level" in res.stderr
    assert len(load_log(log).valid) == 1  # in the file ...
    res = runner.invoke(main_group, ["baselines", "import", str(log)])  # ... and what the message says works
    assert res.exit_code == 0 and res.stdout == f"imported 1 baseline lines from {log}\n"
    res = runner.invoke(main_group, ["baselines", "export"])
    assert res.stdout_bytes == log.read_bytes()


def test_append_baseline_itself_refuses_under_the_lock(tmp_path: Path) -> None:
    # the library call (a Celery aggregation task) is guarded too, not only the CLI's early check
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"notes\nfinal line without newline")
    with pytest.raises(UsageError, match="holds no baseline entry"):
        append_baseline(notes, {"metrics": {"x": 1}})
    assert notes.read_bytes() == b"notes\nfinal line without newline"
    cut: list[str] = []
    log = tmp_path / "log.jsonl"
    log.write_bytes(b'{"metrics": {}}\n{"metr')
    append_baseline(log, {"metrics": {"x": 1}}, warn=cut.append)
    assert log.read_bytes() == b'{"metrics": {}}\n{"metrics":{"x":1}}\n' and len(cut) == 1

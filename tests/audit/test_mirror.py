"""The database mirror of a baseline log catches up with the file: appenders SIGKILLed between their file
write and their database commit leave the mirror behind; the next append or `farm baselines export` brings it
level (export says so on stderr). Real subprocesses, real SQLite and Postgres databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.audit import append_baseline, load_log
from farm.audit.mirror import export, import_log, log_key, reconcile_log
from farm.cli import main_group
from farm.store.baselines import mirrored_lines
from farm.store.db import upgrade

REPO = Path(__file__).resolve().parents[2]
APPENDER = """
import os, sys
from farm.audit.baselines import append_baseline
path, url = sys.argv[1], sys.argv[2]
print("ready", flush=True)
i = 0
while True:
    append_baseline(path, {"metrics": {"i": i}, "run_id": f"{os.getpid()}-{i}", "timestamp": str(i)},
                    database_url=url)
    i += 1
"""


def mirrored(url: str, path: Path) -> list[str]:
    return mirrored_lines(url, log_key(path))


def kill_appenders(path: Path, url: str, n: int = 2, grow_by: int = 12) -> None:
    """Start `n` appender processes, let the log grow by about `grow_by` lines, SIGKILL them all."""
    start = len(load_log(path).entries) if path.exists() else 0
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), url], stdout=subprocess.PIPE, cwd=REPO)
             for _ in range(n)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not path.exists() or len(load_log(path).entries) < start + grow_by):
            time.sleep(0.005)
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
        for p in procs:
            p.wait()
            assert p.stdout is not None
            p.stdout.close()


def kill_until_behind(path: Path, url: str, rounds: int = 8) -> tuple[int, int]:
    """Kill rounds until the mirror is behind the file (a writer died between file and database); returns
    (file lines, mirrored lines). The mirror is always a prefix of the file: reconciling happens under the lock."""
    for _ in range(rounds):
        kill_appenders(path, url)
        lines = [e.raw.decode() for e in load_log(path).entries]
        rows = mirrored(url, path)
        assert lines[:len(rows)] == rows
        if len(rows) < len(lines):
            return len(lines), len(rows)
    raise AssertionError(f"{rounds} kill rounds never left the mirror behind")


def check_catches_up(path: Path, url: str, runner: CliRunner) -> None:
    n_file, n_db = kill_until_behind(path, url)
    assert all(e.valid for e in load_log(path).entries) and load_log(path).torn == b""
    # `farm baselines export` warns, reconciles, and gives the file back byte for byte
    res = runner.invoke(main_group, ["baselines", "export", "--log-path", log_key(path)],
                        env={"FARM_DATABASE_URL": url})
    assert res.exit_code == 0, res.output
    assert res.stdout_bytes == path.read_bytes()
    assert f"was behind its file ({n_db} of {n_file} lines mirrored); reconciled from the file" in res.stderr
    assert len(mirrored(url, path)) == n_file
    again = runner.invoke(main_group, ["baselines", "export", "--log-path", log_key(path)],
                          env={"FARM_DATABASE_URL": url})
    assert again.exit_code == 0 and again.stderr == "" and again.stdout_bytes == path.read_bytes()
    # killed again: the next append alone (no export) brings the mirror level
    kill_until_behind(path, url)
    append_baseline(path, {"metrics": {"x": 1}, "run_id": "after-kill"}, database_url=url)
    assert "".join(mirrored(url, path)).encode() == path.read_bytes()


def test_killed_appenders_mirror_catches_up_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/farm.db"
    upgrade(url)  # once, before the appenders (each would otherwise race to migrate)
    check_catches_up(tmp_path / "log.jsonl", url, CliRunner())


@pytest.mark.services
def test_killed_appenders_mirror_catches_up_postgres(tmp_path: Path, pg_url: str) -> None:
    upgrade(pg_url)
    check_catches_up(tmp_path / "log.jsonl", pg_url, CliRunner())


def test_reconcile_rewrites_a_mirror_that_differs_and_keeps_repeated_run_ids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/farm.db"
    path = tmp_path / "log.jsonl"
    a = b'{"metrics":{"x":1},"run_id":"r1"}\n'
    b = b'{"metrics":{"x":2},"run_id":"r2"}\n'
    path.write_bytes(a + b)
    assert import_log(url, path) == 2
    # the file was edited by hand and a line repeated (same run id twice): the file wins, bytes kept
    edited = b'{"metrics":{"x":9},"run_id":"r1"}\n'
    path.write_bytes(edited + b + b)
    result = reconcile_log(url, path)
    assert result.rewritten and result.before == 2 and result.lines == 3
    assert "".join(mirrored(url, path)).encode() == path.read_bytes()
    out = export(url, log_key(path))
    assert out.data == path.read_bytes() and out.warning() is None  # the reconcile above already levelled it
    # the file lost its last line: the mirror follows
    path.write_bytes(edited + b)
    assert export(url, log_key(path)).warning() is not None
    assert "".join(mirrored(url, path)).encode() == path.read_bytes()


def test_export_of_a_log_not_on_this_host_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/farm.db"
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"metrics":{"x":1}}\n')
    import_log(url, path, "fleet/hosta")
    out = export(url, "fleet/hosta")
    assert out.data == path.read_bytes() and out.reconciled is None
    assert out.warning() == "fleet/hosta is not a file on this host: exported as mirrored, not checked against a file"

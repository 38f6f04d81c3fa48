"""`farm demo` decides: each probe's pair reaches the verdict it is built to show, the demo ends with a table
saying so, and the exit code is 0 exactly when every probe showed its design."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farm", "demo", "--quiet", *args], cwd=tmp_path,
                          env={**os.environ, "FARM_CONFIG": ""}, capture_output=True, text=True, timeout=300)


def test_the_sql_demo_fails_by_design_and_the_demo_exits_0(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--probe", "sql")
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = proc.stdout.splitlines()
    assert table[-2].split()[:4] == ["probe", "verdict", "n", "as"]
    row = table[-1].split()
    assert row[:2] == ["sql", "FAIL"] and row[3:5] == ["yes", "(FAIL)"], proc.stdout
    assert "SQLite / DuckDB differences" in table[-1]


def test_a_demo_pushed_off_its_design_says_so_in_its_exit_code(tmp_path: Path) -> None:
    # A drifting candidate: the embed pair FAILs; the user asked for it, so the exit code is the verdict's (1).
    proc = _demo(tmp_path, "--probe", "embed", "--samples", "1000", "--drift-rate", "0.05")
    assert proc.returncode == 1, proc.stderr[-2000:]
    row = proc.stdout.splitlines()[-1].split()
    assert row[:4] == ["embed", "FAIL", "1,000", "NO"], proc.stdout

"""Progress on stderr when it is a terminal (a long audit is not silent), nothing when it is not."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from farm.audit.fixtures import generate_root
from farm.cli import main_group

FARM = "import sys; from farm.cli import main; sys.argv[0] = 'farm'; main()"


def test_progress_is_drawn_on_a_terminal(tmp_path: Path) -> None:
    root = tmp_path / "root"
    generate_root(root, 20_000)
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "FARM_CONFIG"}
    env.update(TERM="xterm", COLUMNS="120")
    proc = subprocess.run([sys.executable, "-c", FARM, "audit", "--root", str(root), "--out", str(tmp_path / "r.md")],
                          stdout=subprocess.PIPE, stderr=follower, env=env, cwd=tmp_path, timeout=120, check=False)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert proc.returncode == 0, drawn
    assert b"scanning 7 files" in drawn
    assert proc.stdout.startswith(b"audit PASS")  # the report's own output is untouched


def test_silent_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    root = tmp_path / "root"
    generate_root(root)
    res = CliRunner().invoke(main_group, ["audit", "--root", str(root), "--out", str(tmp_path / "r.md")],
                             env={"FARM_CONFIG": ""})
    assert res.exit_code == 0 and res.stderr == ""

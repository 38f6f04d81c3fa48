"""`farm gateways serve` / `faults` as a user runs them: real processes, real sockets on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def _farm(argv: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farm", *argv], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "FARM_CONFIG": "", "FARM_DATABASE_URL": f"sqlite:///{cwd}/f.db"},
                          stdin=subprocess.DEVNULL, timeout=timeout)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 with a live listener on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("argv", [
    ["gateways", "serve", "--profile", "lakehouse-legacy"],
    ["gateways", "faults", "--upstream", "http://127.0.0.1:9", "--fault", "503"],
])
def test_a_port_in_use_is_one_line_and_exit_2_before_any_banner(argv: list[str], busy_port: int,
                                                                tmp_path: Path) -> None:
    proc = _farm([*argv, "--port", str(busy_port)], tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert lines == [f"farm: error: port {busy_port} on 127.0.0.1 is in use"], proc.stderr
    assert proc.stdout == ""

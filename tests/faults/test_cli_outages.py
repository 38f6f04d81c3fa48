"""A `farm` command with the database or the broker down, or the disk full, prints one line and exits 2;
a side that fails on every sample stops an embedded sweep early with exit 4. Real processes, real sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.errors import ServiceUnavailable, outage
from farm.gateway.process import GatewayProcess, free_port, spawn
from farm.reconnect import retrying
from tests.isolation import dead_port


def _farm(*args: str, env: dict[str, str], cwd: Path, stdout: int | None = subprocess.PIPE,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farm", *args], env={**os.environ, "FARM_CONFIG": "", **env},
                          cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout)


def _one_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("farm: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("args", [("sweep", "status"), ("db", "upgrade"), ("sweep", "embed", "--samples", "40")])
def test_the_database_down_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    with dead_port() as port:
        down = f"postgresql://postgres@127.0.0.1:{port}/farm"
        line = _one_line(_farm(*args, env={"FARM_DATABASE_URL": down}, cwd=tmp_path))
    assert "cannot reach" in line and "Connection refused" in line


def test_the_broker_down_is_one_line_and_exit_2_before_anything_is_recorded(tmp_path: Path) -> None:
    with dead_port() as port:
        env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_BROKER_URL": f"redis://127.0.0.1:{port}/0"}
        began = time.monotonic()
        line = _one_line(_farm("sweep", "embed", "--distributed", "--samples", "40", "--quiet", env=env,
                               cwd=tmp_path))
    assert "broker unreachable at redis://127.0.0.1:" in line and "Connection refused" in line
    assert time.monotonic() - began < 30
    listed = _farm("sweep", "status", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.strip() == ""  # no sweep left "running" behind


def test_a_full_disk_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:  # every write fails with ENOSPC
        result = subprocess.run([sys.executable, "-m", "farm", "stack", "compose"], stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=60, env={**os.environ, "FARM_CONFIG": ""})
    assert _one_line(result) == "farm: error: disk full: cannot write a file"


def test_retrying_gives_up_after_its_budget_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    monkeypatch.setenv("FARM_RECONNECT_WAIT", "1")
    port = free_port()
    began = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        retrying(psycopg.connect, f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=1)
    assert 1.0 <= time.monotonic() - began < 5
    assert str(caught.value).startswith("database unreachable: connection failed") and "\n" not in str(caught.value)


def test_retrying_rides_out_a_service_that_comes_back() -> None:
    import socket
    import threading

    port = free_port()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def come_back() -> None:
        time.sleep(0.8)
        server.bind(("127.0.0.1", port))
        server.listen()

    threading.Thread(target=come_back, daemon=True).start()
    began = time.monotonic()
    conn = retrying(socket.create_connection, ("127.0.0.1", port), timeout=1)
    conn.close()
    server.close()
    assert 0.8 <= time.monotonic() - began < 5


def test_outage_names_only_outages() -> None:
    assert outage(ConnectionRefusedError(111, "Connection refused")) == "a service unreachable: [Errno 111] " \
                                                                        "Connection refused"
    assert outage(ValueError("no")) is None and outage(KeyError("k")) is None
    assert outage(OSError(28, "No space left on device", "/data/farm.db")) == "disk full: cannot write /data/farm.db"


@pytest.fixture(scope="module")
def legacy_gw() -> Iterator[GatewayProcess]:
    with spawn("lakehouse-legacy") as gw:
        yield gw


def test_both_gateways_wrong_ends_in_exit_4_not_inconclusive(tmp_path: Path) -> None:
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db"}
    with dead_port() as legacy, dead_port() as candidate:
        result = _farm("sweep", "embed", "--legacy", f"http://127.0.0.1:{legacy}", "--candidate",
                       f"http://127.0.0.1:{candidate}", "--samples", "40", "--quiet", "--no-report", env=env,
                       cwd=tmp_path)
    line = _one_line(result, code=4)
    assert "legacy unreachable: 40 of 40 connection refused or lost at http://127.0.0.1:" in line
    assert "candidate unreachable: 40 of 40 connection refused or lost" in line
    assert "INCONCLUSIVE" not in result.stderr + result.stdout


def test_a_wrong_path_on_one_side_stops_the_sweep_early(tmp_path: Path, legacy_gw: GatewayProcess) -> None:
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db"}
    # The candidate profile's path (/v1/embed) does not exist on the legacy demo gateway: 404 on every sample.
    began = time.monotonic()
    result = _farm("sweep", "embed", "--legacy", legacy_gw.url, "--candidate", legacy_gw.url, "--candidate-profile",
                   "lakehouse-candidate", "--samples", "20000", "--quiet", "--no-report", env=env, cwd=tmp_path)
    line = _one_line(result, code=4)
    assert "candidate failing:" in line and "HTTP error status (HTTP 404" in line, line  # the status and body start
    assert ") at " + legacy_gw.url + "/v1/embed" in line, line
    assert "legacy " not in line  # the legacy side answered
    stopped_at = int(line.split("candidate failing: ")[1].split(" of ")[0].replace(",", ""))
    assert 3 * 32 <= stopped_at <= 32 * 32 and time.monotonic() - began < 30  # early: 20,000 were planned


def test_a_closed_pipe_is_not_an_outage() -> None:
    assert outage(BrokenPipeError(32, "Broken pipe")) is None

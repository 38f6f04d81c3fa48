"""`farm stack up` runs its services under supervisord: a service killed with SIGKILL comes back by itself,
and `farm stack status` shows the restart and how the service died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from farm.gateway.process import free_port
from tests.faults.conftest import record

PORT = free_port()  # this process's legacy gateway (xdist workers each have their own)


def _farm(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp}/farm.db", "FARM_CONFIG": ""}
    return subprocess.run([sys.executable, "-m", "farm", *args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=120)


def _line(tmp: Path, name: str) -> list[str]:
    out = _farm(tmp, "stack", "status").stdout
    return next(line.split() for line in out.splitlines() if line.startswith(name + " "))


def _healthy(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def test_a_killed_stack_service_comes_back_by_itself(tmp_path: Path) -> None:
    up = _farm(tmp_path, "stack", "up", "--only", "gateway-legacy", "--legacy-port", str(PORT))
    assert up.returncode == 0 and "started gateway-legacy" in up.stdout, up.stderr
    try:
        assert _healthy(1)  # `up` said "started" once it answered
        again = _farm(tmp_path, "stack", "up", "--only", "gateway-legacy", "--legacy-port", str(PORT))
        assert again.returncode == 2 and "already runs" in again.stderr and "Traceback" not in again.stderr
        first = _line(tmp_path, "gateway-legacy")
        assert first[1] in ("running", "starting") and first[2] == "answering" and first[-1] == "0", first
        pid = int(first[4])
        os.kill(pid, signal.SIGKILL)
        began = time.monotonic()
        deadline = began + 20
        while time.monotonic() < deadline:
            now = _line(tmp_path, "gateway-legacy")
            if now[3] == "pid" and int(now[4]) != pid:
                break
            time.sleep(0.3)
        assert _healthy(20), "the gateway did not come back"
        back = time.monotonic() - began
        status = _farm(tmp_path, "stack", "status").stdout
        assert "restarts 1  (last exit: terminated by SIGKILL; not expected)" in status, status
        assert back < 15, back
        record({"fault": "stack service killed (kill -9 of gateway-legacy)", "seconds_back": round(back, 1)})
        log = (tmp_path / ".farm" / "stack" / "supervisord.log").read_text()
        assert "exited: gateway-legacy (terminated by SIGKILL; not expected)" in log
    finally:
        down = _farm(tmp_path, "stack", "down")
    assert down.returncode == 0 and "stopped gateway-legacy" in down.stdout, down.stderr
    assert _line(tmp_path, "gateway-legacy")[1] == "stopped"
    assert not _healthy(1)

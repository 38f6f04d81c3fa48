"""`farm shadow` as a real process in front of real demo gateways, and a bounded client sending through it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from farm.gateway.process import free_port


@dataclass
class Shadow:
    legacy: str
    candidate: str
    database_url: str
    args: list[str] = field(default_factory=list)
    probe: str = "embed"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Shadow:
        env = {**os.environ, "FARM_DATABASE_URL": self.database_url, "FARM_CONFIG": ""}
        # Load shedding (the mirror standing back while the proxy's loop lags) is the benchmark's subject; here a
        # loaded test machine would shed copies the tests count exactly, so it is off unless a test sets it.
        shed = [] if "--shed-lag-ms" in self.args else ["--shed-lag-ms", "60000"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "farm", "shadow", "--probe", self.probe, "--legacy", self.legacy, "--candidate",
             self.candidate, "--listen", f"127.0.0.1:{self.port}", "--json", *shed, *self.args],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # ready when a request reaches legacy through it
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("farm shadow did not start")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> tuple[int, dict[str, Any], str]:
        """Signal it (unless it ended by itself) and return (exit code, the --json document, stderr)."""
        assert self.proc is not None
        if self.proc.poll() is None and sig:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        text = out.decode().strip()
        return self.proc.returncode, json.loads(text.splitlines()[-1]) if text else {}, err.decode()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def texts(batch: int, size: int) -> list[str]:
    return [f"shadow text {batch} {i} about gateways and parity number {batch * size + i}" for i in range(size)]

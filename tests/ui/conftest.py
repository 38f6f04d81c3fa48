"""`farm ui` as a real server process on a free loopback port, driven by Debian's headless Chromium via
Playwright (never `playwright install`: the browser is /usr/bin/chromium, which .ci/run installs).

Sweeps and audits run as `farm` subprocesses: Playwright's sync API keeps an event loop on the main thread,
where an in-process `asyncio.run` (the embedded sweep) would clash with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from farm.gateway.process import free_port

CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 30.0


def farm_env(db: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FARM_UI_AUTH", "FARM_FLOWER_AUTH")}
    return {**env, "FARM_DATABASE_URL": db, "FARM_CONFIG": "", **extra}


def run_sweep(db: str, legacy: str, candidate: str, *args: str) -> dict[str, object]:
    """A real embedded sweep (`farm sweep embed ... --json`); returns its JSON outcome."""
    argv = [sys.executable, "-m", "farm", "sweep", "embed", "--legacy", legacy, "--candidate", candidate, "--json",
            "--quiet", "--no-report", *args]
    done = subprocess.run(argv, env=farm_env(db), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1, 3), done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


@dataclass
class UiServer:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start_ui(db: str, log: Path, *args: str, env: dict[str, str] | None = None) -> UiServer:
    """`farm ui` on a free port; returns once it answers HTTP (any status: 401 counts as up)."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "farm", "ui", "--port", str(port), *args],
                                env={**farm_env(db), **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = UiServer(proc, port, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"farm ui exited with {proc.returncode}: {log.read_text()}")
        try:
            httpx.get(server.url + "/static/live.js", timeout=1.0)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError(f"farm ui did not answer within {START_TIMEOUT:.0f}s: {log.read_text()}")


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Callable[..., UiServer]]:
    """Start `farm ui` servers (stopped after the test): `ui(db, *cli_args, env={...})`."""
    servers: list[UiServer] = []

    def start(db: str, *args: str, env: dict[str, str] | None = None) -> UiServer:
        server = start_ui(db, tmp_path / f"ui-{len(servers)}.log", *args, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()

"""Start and stop demo gateways as child processes on loopback (used by `farm demo`, the stack, tests)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from farm.errors import FarmError, UsageError


def free_port() -> int:
    """A port free on 127.0.0.1 right now (a tiny race with other binders is acceptable on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(app: Any, sock: socket.socket) -> None:
    """Serve an ASGI app with uvicorn on a socket `bind_socket` bound, until stopped (the demo gateways, `farm ui`,
    `farm adapter serve`)."""
    import uvicorn  # lazily: only the serving commands need it

    with sock:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to HOST:PORT for a server to listen on: a port in use is one clear error before the server
    prints anything (uvicorn would log its own error and exit 3, which reads as INCONCLUSIVE)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    # As uvicorn and asyncio do: a port left in TIME_WAIT by a previous run is free; a live listener is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is in use") from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


@dataclass
class GatewayProcess:
    """A running `farm gateways serve` child. Use as a context manager, or call `stop()`."""

    profile: str
    port: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    probe: str = "embed"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "farm", "gateways", "serve", "--probe", self.probe, "--profile", self.profile,
                "--port", str(self.port), *self.args]

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        env = {**os.environ, **(self.env or {})}
        self.proc = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise FarmError(f"demo gateway {self.profile} exited with code {self.proc.returncode} on start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise FarmError(f"demo gateway {self.profile} did not answer on {self.url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> GatewayProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


@dataclass
class FaultProxyProcess(GatewayProcess):
    """A running `farm gateways faults` child in front of `upstream` (its `profile` is the fault list)."""

    upstream: str = ""

    def command(self) -> list[str]:
        faults = [a for f in self.profile.split(",") for a in ("--fault", f)]
        return [sys.executable, "-m", "farm", "gateways", "faults", "--upstream", self.upstream, *faults,
                "--port", str(self.port), *self.args]


def spawn_faults(upstream: str, *faults: str, args: tuple[str, ...] = (), port: int | None = None,
                 env: dict[str, str] | None = None) -> FaultProxyProcess:
    """Start a fault proxy in front of `upstream` injecting `faults`, extra CLI options in `args`."""
    proc = FaultProxyProcess(",".join(faults), port or free_port(), list(args), env, upstream=upstream)
    proc.start()
    return proc


def spawn(profile: str, *args: str, port: int | None = None, env: dict[str, str] | None = None,
          probe: str = "embed") -> GatewayProcess:
    """Start a demo gateway of `probe` speaking `profile`, extra CLI knobs in `args` (e.g. "--drift-rate", "0.01")."""
    return GatewayProcess(profile, port or free_port(), list(args), env, probe=probe).start()

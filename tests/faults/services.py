"""Private Redis and Postgres servers for fault tests: started by the test on ports of its own, restarted and
stopped at will. The machine's shared services (6379, 5432) are never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate: object, timeout: float, what: str) -> None:
    """Poll `predicate` every 50 ms until true; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout}s")


@dataclass
class PrivateRedis:
    """redis-server without persistence, as the stack runs it: a restart forgets every queue."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert not _port_open(self.port), f"port {self.port} is taken"
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--protected-mode", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: _port_open(self.port), 10, f"redis on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # as a crash: nothing flushed (there is no persistence anyway)
            self.proc.wait(timeout=10)
        wait_until(lambda: not _port_open(self.port), 10, "redis down")

    def restart(self, down_for: float = 1.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


@dataclass
class PrivatePostgres:
    """A throwaway Postgres cluster (initdb in a temporary directory, run as the postgres user)."""

    port: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="farm-pg-")))

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)

    def init(self) -> None:
        shutil.chown(self.root, "postgres")
        os.chmod(self.root, 0o700)
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres",
                          "--no-sync")
        self.start()

    def _ctl(self, *args: str) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "log"),
                          "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                          "-w", *args)

    def start(self) -> None:
        assert not _port_open(self.port), f"port {self.port} is taken"
        self._ctl("start")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut (AdminShutdown), then it comes back."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

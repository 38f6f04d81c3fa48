"""Real processes for distributed tests: Celery workers, Flower, a broker database of our own."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from farm.stack import WORKER_OPTS, start_process, stop_pid


def wait_for_log(log: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"{log.name}: process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"{log.name}: no {needle!r} within {timeout}s:\n{log.read_text()[-3000:]}")


@dataclass
class Cluster:
    """Worker processes sharing one environment (broker, database, config); stopped by `stop()`."""

    tmp: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def worker(self, name: str, queue: str, concurrency: int = 2, extra_env: dict[str, str] | None = None) -> None:
        argv = ["celery", "-A", "workers", "worker", "-Q", queue, "-n", f"{name}@%h", "--concurrency",
                str(concurrency), "-E", *WORKER_OPTS]
        log = self.log(name)
        log.unlink(missing_ok=True)
        proc = start_process(argv, log, {**self.env, **(extra_env or {})}, cwd=self.tmp)
        self.procs[name] = proc
        wait_for_log(log, "ready.", proc)

    def sweep_workers(self, legacy_env: dict[str, str] | None = None) -> None:
        """What a sweep needs: a worker per gateway queue (`legacy_env`: the legacy one's own), the aggregator."""
        self.worker("legacy", "probe.legacy", extra_env=legacy_env)
        self.worker("candidate", "probe.candidate")
        self.worker("aggregate", "farm.aggregate")

    def kill9(self, name: str) -> None:
        import os
        import signal

        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def start(self, name: str, argv: list[str], ready: str, extra_env: dict[str, str] | None = None) -> None:
        proc = start_process(argv, self.log(name), {**self.env, **(extra_env or {})}, cwd=self.tmp)
        self.procs[name] = proc
        wait_for_log(self.log(name), ready, proc)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            stop_pid(proc.pid)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.tmp.glob("*.log"))

"""Real processes for distributed tests: Celery workers, Flower, a broker database of our own."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from farm.stack import WORKER_OPTS, start_process, stop_pid

SWEEP_QUEUES = {"legacy": "probe.legacy", "candidate": "probe.candidate", "aggregate": "farm.aggregate"}


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

    def _spawn_worker(self, name: str, queue: str, concurrency: int, extra_env: dict[str, str] | None) -> None:
        argv = ["celery", "-A", "workers", "worker", "-Q", queue, "-n", f"{name}@%h", "--concurrency",
                str(concurrency), "-E", *WORKER_OPTS]
        log = self.log(name)
        log.unlink(missing_ok=True)
        self.procs[name] = start_process(argv, log, {**self.env, **(extra_env or {})}, cwd=self.tmp)

    def worker(self, name: str, queue: str, concurrency: int = 2, extra_env: dict[str, str] | None = None) -> None:
        self._spawn_worker(name, queue, concurrency, extra_env)
        wait_for_log(self.log(name), "ready.", self.procs[name])

    def workers(self, queues: dict[str, str], env: dict[str, dict[str, str]] | None = None) -> None:
        """Several workers (name -> queue) started at once, then waited for: their start-ups overlap."""
        for name, queue in queues.items():
            self._spawn_worker(name, queue, 2, (env or {}).get(name))
        for name in queues:
            wait_for_log(self.log(name), "ready.", self.procs[name])

    def sweep_workers(self, legacy_env: dict[str, str] | None = None) -> None:
        """What a sweep needs: a worker per gateway queue (`legacy_env`: the legacy one's own), the aggregator."""
        self.workers(SWEEP_QUEUES, {"legacy": legacy_env or {}})

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
        """Warm shutdown of every process at once (SIGTERM to each leader, as the stack does), SIGKILL after 15 s."""
        procs = [self.procs.pop(name) for name in list(self.procs)]
        threads = [threading.Thread(target=stop_pid, args=(proc.pid,)) for proc in procs]
        for thread in threads:
            thread.start()
        for thread, proc in zip(threads, procs, strict=True):
            thread.join()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.tmp.glob("*.log"))


ClusterFactory = Callable[[dict[str, str]], Cluster]  # the `celery_cluster` fixture (tests/conftest.py)

"""Fixtures of the fault suite: private Redis and Postgres servers (ports of their own), demo gateways, worker
processes, and the fault matrix's figures (written to $FARM_FAULT_MATRIX as JSON lines when set)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from farm.gateway.process import GatewayProcess, free_port, spawn
from farm.stack import WORKER_OPTS, start_process
from farm.store.db import _ENGINES, _READY, upgrade
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.integration.cluster import wait_for_log


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(free_port())
    server.init()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def slow_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Demo gateways answering in about 250 ms, so a 4,000-sample sweep lasts long enough to hurt mid-way."""
    with spawn("lakehouse-legacy", "--latency-ms", "250") as legacy, \
            spawn("lakehouse-candidate", "--latency-ms", "250") as candidate:
        yield legacy, candidate


@pytest.fixture(scope="module")
def fault_db(private_pg: PrivatePostgres) -> Iterator[str]:
    name = f"farm_fault_{secrets.token_hex(4)}"
    admin = private_pg.url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = private_pg.url.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    for key in [u for u in _ENGINES if u.endswith("/" + name)]:
        _ENGINES.pop(key).dispose()
        _READY.discard(key)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.OperationalError:
        pass  # the server was left down by the test: destroyed with the session


@dataclass
class Workers:
    """The three sweep workers as real processes, started together."""

    tmp: Path
    env: dict[str, str]

    def __post_init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *names: str) -> None:
        queues = {"legacy": "probe.legacy", "candidate": "probe.candidate", "aggregate": "farm.aggregate"}
        for name in names:
            log = self.tmp / f"{name}.log"
            log.unlink(missing_ok=True)
            argv = ["celery", "-A", "workers", "worker", "-Q", queues[name], "-n", f"{name}@%h", "--concurrency", "2",
                    *WORKER_OPTS]
            self.procs[name] = start_process(argv, log, self.env, cwd=self.tmp)
        for name in names:
            wait_for_log(self.tmp / f"{name}.log", "ready.", self.procs[name])

    def kill9(self, name: str) -> None:
        import signal

        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.procs):  # SIGKILL: what they were doing is over; a warm stop costs ~10 s
            self.kill9(name)

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, fault_db: str, private_redis: PrivateRedis,
            slow_pair: tuple[GatewayProcess, GatewayProcess]) -> Iterator[tuple[Workers, dict[str, str]]]:
    """One set of workers for the module's faults (each test leaves them running, or says why not)."""
    import redis

    redis.Redis(port=private_redis.port).flushall()
    tmp_path = tmp_path_factory.mktemp("cluster")
    legacy, candidate = slow_pair
    config = tmp_path / "farm.toml"
    config.write_text(f'[gateways.legacy]\nurl = "{legacy.url}"\nprofile = "lakehouse-legacy"\n\n'
                      f'[gateways.candidate]\nurl = "{candidate.url}"\nprofile = "lakehouse-candidate"\n')
    env = {"FARM_DATABASE_URL": fault_db, "FARM_BROKER_URL": private_redis.url, "FARM_CONFIG": str(config),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    workers = Workers(tmp_path, env)
    workers.start("legacy", "candidate", "aggregate")
    try:
        yield workers, env
    finally:
        workers.stop()


PLANNED = 1600
SWEEP = ("--samples", str(PLANNED), "--batches-per-task", "2", "--max-inflight", "16", "--p-max", "0.01")


@dataclass
class SweepProcess:
    """`farm sweep embed --distributed` as a child process (the operator's terminal), watched from here."""

    proc: subprocess.Popen[str]
    began: float

    def wait(self, timeout: float = 240) -> tuple[int, dict[str, Any], str, float]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # never left running into the next tests
            self.proc.communicate()
            raise
        seconds = time.monotonic() - self.began
        try:
            payload = json.loads(out) if out.strip() else {}
        except json.JSONDecodeError:
            payload = {}
        return self.proc.returncode, payload, err, seconds


_STARTED: list[subprocess.Popen[str]] = []


def start_sweep(env: dict[str, str], *extra: str, cwd: Path) -> SweepProcess:
    argv = [sys.executable, "-m", "farm", "sweep", "embed", "--distributed", "--json", "--quiet", "--no-report",
            *SWEEP, *extra]
    proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _STARTED.append(proc)
    return SweepProcess(proc, time.monotonic())


@pytest.fixture(autouse=True)
def _no_sweep_left_running() -> Iterator[None]:
    """A test that failed half-way leaves no `farm sweep` child sending into the next test's queues."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def newest_sweep(db_url: str) -> tuple[str, int]:
    """(id, batches paired) of the sweep started last."""
    plain = db_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, connect_timeout=2) as conn:
        row = conn.execute("SELECT id, batches_done FROM sweeps ORDER BY created_at DESC LIMIT 1").fetchone()
    return (str(row[0]), int(row[1])) if row else ("", 0)


def wait_progress(db_url: str, batches: int, after: str = "", timeout: float = 120) -> None:
    """Block until a sweep started after sweep `after` has `batches` paired."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sweep_id, done = newest_sweep(db_url)
            if sweep_id and sweep_id != after and done >= batches:
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the sweep did not reach {batches} batches within {timeout}s")


def counts(db_url: str, sweep_id: str) -> tuple[int, int]:
    """(samples recorded, distinct sample indices) of a sweep."""
    plain = db_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT idx) FROM samples WHERE sweep_id = %s",
                           (sweep_id,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def record(row: dict[str, Any]) -> None:
    """One row of the fault matrix (docs/reliability.md), when $FARM_FAULT_MATRIX names a file."""
    path = os.environ.get("FARM_FAULT_MATRIX")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, sort_keys=True) + "\n")

"""Shared fixtures: real demo gateways on loopback (`lakehouse_pair`), SQLite and real Postgres databases
(`sqlite_url`, `pg_url`: a fresh database per test), a Redis database per pytest process (`redis_db`,
`broker_url`), Celery worker processes (`celery_cluster`) and the in-process sweep runner (`sweep_runner`).

Built for pytest-xdist (`./scripts/test` runs two workers): session fixtures run once per worker, every server
binds a free port, and each run has a base temporary directory of its own. A test that needs Postgres, Redis or
RabbitMQ fails when the service is down: it is never skipped, because CI (.ci/run) starts those services first.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from farm.gateway.process import GatewayProcess, spawn
from tests.cli import sweep_json
from tests.integration.cluster import Cluster, ClusterFactory
from tests.isolation import RedisDbClaim

PG_ADMIN = os.environ.get("FARM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A base temporary directory of this run's own (xdist workers get `popen-gwN` under it). pytest's default,
    /tmp/pytest-of-USER/pytest-N, keeps only the newest three runs of *any* checkout: with several pytest runs on
    the machine, another one deleted the directories our Celery workers, configs and logs were living in."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="farm-pytest-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove this run's base directory when every test passed; keep it (logs) when one failed."""
    own = session.config.stash.get(_OWN_BASETEMP, None)
    if own is not None and exitstatus == 0:
        shutil.rmtree(own, ignore_errors=True)


_OWN_BASETEMP = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def lakehouse_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """The seed's pair: unit vectors on /ai/embed, raw magnitudes on /v1/embed, same model weights."""
    with spawn("lakehouse-legacy") as legacy, spawn("lakehouse-candidate") as candidate:
        yield legacy, candidate


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/farm.db"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN} (start it: see .ci/run): {exc}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated-on-demand Postgres database, dropped afterwards."""
    name = f"farm_test_{secrets.token_hex(4)}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from farm.store.db import _ENGINES, _READY

        for url in [u for u in _ENGINES if u.endswith("/" + name)]:
            _ENGINES.pop(url).dispose()
            _READY.discard(url)
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_db() -> Iterator[RedisDbClaim]:
    """A database of the machine's Redis claimed by this pytest process (one per xdist worker) for the session;
    see tests/isolation.py for the claim. Tests take `broker_url`, which flushes it around each test."""
    try:
        claim = RedisDbClaim()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required at 127.0.0.1:6379 (see .ci/run): {exc}")
    yield claim
    claim.release()


@pytest.fixture
def broker_url(redis_db: RedisDbClaim) -> Iterator[str]:
    """The machine's Redis as a Celery broker, on a database claimed by this test process (`redis_db`), so
    parallel workers and other checkouts never read each other's queues; flushed before and after.

    A module's `REDIS_DB` constant (the old convention: a fixed database per module) is ignored: it may stay in
    a module, it picks nothing any more."""
    redis_db.flush()
    yield redis_db.url
    redis_db.flush()


@pytest.fixture
def celery_cluster(tmp_path: Path) -> Iterator[ClusterFactory]:
    """Celery worker processes for one test: `celery_cluster(env)` is a `Cluster` on that environment (broker,
    database, config: FARM_* variables); `.sweep_workers()` starts the three a sweep needs at once. Every process
    started is stopped after the test, however it ended."""
    started: list[Cluster] = []

    def make(env: dict[str, str]) -> Cluster:
        cluster = Cluster(tmp_path, env)
        started.append(cluster)
        return cluster

    yield make
    for cluster in started:
        cluster.stop()


@pytest.fixture
def sweep_runner() -> Callable[..., tuple[int, dict[str, Any]]]:
    """`sweep_runner(probe, env, *args)`: `farm sweep PROBE --json --quiet ARGS` in this process, (exit code, JSON)."""
    return sweep_json

"""Shared fixtures: real demo gateways on loopback, SQLite and real Postgres databases.

A test that needs Postgres, Redis or RabbitMQ fails when the service is down: it is never skipped,
because CI (.ci/run) starts those services first.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
import redis

from farm.gateway.process import GatewayProcess, spawn

PG_ADMIN = os.environ.get("FARM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


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


@pytest.fixture
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine's Redis as a Celery broker, on the test module's own database (`REDIS_DB`, default 9), so
    suites never read each other's queues; flushed before and after."""
    db = int(getattr(request.module, "REDIS_DB", 9))
    client = redis.Redis(host="127.0.0.1", port=6379, db=db, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required at 127.0.0.1:6379 (see .ci/run): {exc}")
    yield f"redis://127.0.0.1:6379/{db}"
    client.flushdb()

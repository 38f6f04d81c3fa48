"""The fault matrix against the probes with their own exchanges (sql: a request per statement; storage: HEAD, GET,
ranges and listing pages): each of the fault proxy's faults, over real HTTP in front of a real demo gateway, ends
as an error class of the sample or a counted disagreement, within the retry budget; never a hang, never an
answer compared as if nothing happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.client import RetryPolicy, Target, call_gateway, make_client
from farm.gateway.faults import FAULTS, FaultPlan
from farm.gateway.process import GatewayProcess, spawn, spawn_faults
from farm.probes import get_probe
from farm.stats.params import VerdictParams
from farm.wire import SideResult
from tests.faults.proxy import fault_proxy

POLICY = RetryPolicy(attempts=2, backoff=0.01, timeout=1.0, deadline=2.0, max_body_bytes=2**20, retry_after_max=5.0)
# Bodies drip 4 bytes every 0.2 s: each piece well within the 1 s read timeout, every body past the 2 s deadline.
PLAN = {"retry_after": 0.3, "oversize_mb": 2, "drip_interval": 0.2, "drip_bytes": 4}

SQL = ["SELECT id, name FROM customers ORDER BY id LIMIT 3", "SELECT count(*) AS n FROM orders",
       "SELECT 7 / 2 AS half"]
# fault -> error class of every statement on the faulty side (None: read, and compared as agreeing)
SQL_EXPECTED: dict[str, str | None] = {
    "reset": "connection_reset", "drip": "deadline", "truncate": "truncated_json", "oversize": "body_too_large",
    "content-type": "content_type", "utf8": "invalid_utf8", "nan": "non_finite_json", "429": "http_status",
    "503": "http_status", "http10": None, "blackhole": "timeout",
}

OBJECT = "faults/object.bin"  # read whole (no ranged reads for this key: tests/faults/test_probe_faults.py)
STORAGE_ITEMS = [{"op": "list", "prefix": "faults/", "page_size": 1000}, {"op": "object", "key": OBJECT}]
# fault -> (listing, object) on the faulty side: an error class, or "differs" (an answer that reads but is not the
# object: a body changed in flight is what the comparison exists to catch), or None (agrees)
STORAGE_EXPECTED: dict[str, tuple[str | None, str | None]] = {
    "reset": ("connection_reset", "connection_reset"), "drip": ("deadline", "deadline"),
    "truncate": ("truncated_json", "differs"), "oversize": ("body_too_large", "body_too_large"),
    "content-type": ("content_type", "differs"), "utf8": ("invalid_utf8", "differs"),
    "nan": ("non_finite_json", "differs"), "429": ("http_status", "http_status"),
    "503": ("http_status", "http_status"), "http10": (None, None), "blackhole": ("timeout", "timeout"),
}


def _budget(requests_in_turn: int) -> float:
    """Every attempt of `requests_in_turn` requests sent one after another hits the deadline, plus backoff."""
    return requests_in_turn * POLICY.attempts * (POLICY.request_deadline + 0.4) + 1.0


@pytest.fixture(scope="module")
def sql_gateway() -> Iterator[GatewayProcess]:
    with spawn("lakehouse-legacy", "--rows", "200", probe="sql") as gw:
        yield gw


@pytest.fixture(scope="module")
def storage_gateway() -> Iterator[GatewayProcess]:
    from farm.probes.storage.exchange import ranges_for
    from farm.probes.storage.store import BUCKET, moto_server, s3_client

    assert ranges_for(OBJECT) == []
    with moto_server() as endpoint:
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=OBJECT, Body=bytes(range(256)) * 16, ContentType="application/octet-stream")
        with spawn("lakehouse-legacy", "--s3-endpoint", endpoint, probe="storage") as gw:
            yield gw


def _sides(probe_name: str, direct: str, spoiled: str, items: Sequence[Any],
           options: dict[str, Any]) -> tuple[SideResult, SideResult, float]:
    probe = get_probe(probe_name)
    preset = probe.presets["lakehouse-legacy"]

    async def go() -> tuple[SideResult, SideResult, float]:
        async with make_client(4, POLICY.timeout) as client:
            legacy = await call_gateway(client, probe, Target("legacy", direct, preset), items, None, POLICY, None,
                                        options)
            began = time.monotonic()
            candidate = await call_gateway(client, probe, Target("candidate", spoiled, preset), items, None, POLICY,
                                           None, options)
            return legacy, candidate, time.monotonic() - began

    return asyncio.run(go())


def _outcomes(probe_name: str, legacy: SideResult, candidate: SideResult, options: dict[str, Any]) -> list[str | None]:
    """Per sample: the faulty side's error class, "differs" for a disagreement, None for an agreement."""
    compared = get_probe(probe_name).compare(legacy, candidate, len(legacy.errors), VerdictParams(), options)
    assert compared.legacy_errors == [None] * len(legacy.errors)
    return [err if err is not None else None if agreed else "differs"
            for err, agreed in zip(compared.candidate_errors, compared.agreed, strict=True)]


def test_the_matrices_cover_every_fault() -> None:
    assert set(SQL_EXPECTED) == set(STORAGE_EXPECTED) == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(SQL_EXPECTED))
def test_sql_classifies_each_fault(sql_gateway: GatewayProcess, fault: str) -> None:
    with fault_proxy(sql_gateway.url, FaultPlan([fault], **PLAN)) as url:
        legacy, candidate, seconds = _sides("sql", sql_gateway.url, url, SQL, {})
    assert _outcomes("sql", legacy, candidate, {}) == [SQL_EXPECTED[fault]] * len(SQL), candidate.errors
    assert seconds < _budget(1), (fault, seconds)  # the statements of a batch go out together
    if fault in ("429", "503"):
        assert seconds >= 0.3  # Retry-After honoured


@pytest.mark.parametrize("fault", sorted(STORAGE_EXPECTED))
def test_storage_classifies_each_fault(storage_gateway: GatewayProcess, fault: str) -> None:
    options = {"bucket": "farm-demo"}
    with fault_proxy(storage_gateway.url, FaultPlan([fault], **PLAN)) as url:
        legacy, candidate, seconds = _sides("storage", storage_gateway.url, url, STORAGE_ITEMS, options)
    assert _outcomes("storage", legacy, candidate, options) == list(STORAGE_EXPECTED[fault]), candidate.value
    assert seconds < _budget(2), (fault, seconds)  # an object is a HEAD then a GET; inputs go out together


def test_a_dripping_sql_gateway_stops_the_sweep_on_deadline(sql_gateway: GatewayProcess, tmp_path: Path) -> None:
    """The issue's case: `farm sweep sql --deadline 3 --timeout 2 --retries 0` over 8 statements behind
    `farm gateways faults --fault drip --drip-interval 1` ran 66 s and compared every answer as agreeing."""
    corpus = tmp_path / "statements.sql"
    # Answers of a few hundred bytes: 64 bytes a second is past the 3 s deadline, each piece within the timeout.
    corpus.write_text("".join(f"SELECT * FROM customers ORDER BY id LIMIT 8 OFFSET {i};\n"
                              for i in range(8)), encoding="utf-8")
    proxy = spawn_faults(sql_gateway.url, "drip", args=("--drip-interval", "1"))
    try:
        began = time.monotonic()
        result = CliRunner().invoke(main_group, [
            "sweep", "sql", "--json", "--quiet", "--no-report", "--legacy", sql_gateway.url, "--candidate",
            proxy.url, "--candidate-profile", "lakehouse-legacy", "--corpus", str(corpus), "--deadline", "3",
            "--timeout", "2", "--retries", "0"],
            env={"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}, catch_exceptions=False)
        seconds = time.monotonic() - began
    finally:
        proxy.stop()
    assert result.exit_code == 4, result.output
    assert "candidate unreachable: 8 of 8 past the request deadline" in result.output, result.output
    assert seconds < 0.5 * 3 * 8, seconds  # well within deadline x statements (24 s)

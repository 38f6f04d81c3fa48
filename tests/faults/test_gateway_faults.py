"""Every gateway fault of the matrix, injected over real HTTP by the fault proxy in front of a real demo
gateway, is classified by the shared client within its retry budget: never a crash, never a hang."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.client import RetryPolicy, Target, call_gateway, make_client
from farm.gateway.faults import FAULTS, FaultPlan
from farm.gateway.process import GatewayProcess, spawn, spawn_faults
from farm.probes import get_probe
from farm.probes.base import SideResult
from tests.faults.proxy import fault_proxy

POLICY = RetryPolicy(attempts=2, backoff=0.01, timeout=1.0, deadline=2.0, max_body_bytes=2**20, retry_after_max=5.0)
ITEMS = [f"text number {i}" for i in range(8)]

# fault -> (error class of every sample, HTTP status seen, attempts made)
EXPECTED: dict[str, tuple[str | None, int | None, int]] = {
    "reset": ("connection_reset", 200, 2),
    "drip": ("deadline", 200, 2),
    "truncate": ("truncated_json", 200, 2),
    "oversize": ("body_too_large", 200, 1),
    "content-type": ("content_type", 200, 1),
    "utf8": ("invalid_utf8", 200, 1),
    "nan": ("non_finite_json", 200, 1),
    "429": ("http_status", 429, 2),
    "503": ("http_status", 503, 2),
    "http10": (None, 200, 1),
    "blackhole": ("timeout", None, 2),
}


@pytest.fixture(scope="module")
def legacy() -> Iterator[GatewayProcess]:
    with spawn("lakehouse-legacy") as gw:
        yield gw


def _call(url: str, policy: RetryPolicy = POLICY) -> tuple[SideResult, float]:
    probe = get_probe("embed")
    target = Target("legacy", url, probe.presets["lakehouse-legacy"])

    async def go() -> SideResult:
        async with make_client(4, policy.timeout) as client:
            return await call_gateway(client, probe, target, ITEMS, None, policy)

    began = time.monotonic()
    result = asyncio.run(go())
    return result, time.monotonic() - began


def test_the_matrix_covers_every_fault() -> None:
    assert set(EXPECTED) == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_gateway_fault_is_classified(legacy: GatewayProcess, fault: str) -> None:
    error, status, attempts = EXPECTED[fault]
    plan = FaultPlan([fault], retry_after=0.3, oversize_mb=8, drip_interval=0.05)
    with fault_proxy(legacy.url, plan) as url:
        result, seconds = _call(url)
        stats = httpx.get(url + "/faults/stats").json()
    assert result.errors == [error] * len(ITEMS), (fault, result.errors[:1], result.status)
    assert (result.status, result.attempts) == (status, attempts), fault
    assert stats[fault] == attempts  # each attempt met the fault: nothing passed by accident
    # Within the budget: 2 attempts x the 2 s deadline, plus backoff; never a hang.
    assert seconds < 2 * POLICY.request_deadline + 1.0, (fault, seconds)
    if fault in ("429", "503"):
        assert seconds >= 0.3  # Retry-After honoured before the second attempt
    if error is None:
        assert result.value is not None and result.value.shape[0] == len(ITEMS)


def test_retry_after_is_capped(legacy: GatewayProcess) -> None:
    plan = FaultPlan(["503"], retry_after=120)
    with fault_proxy(legacy.url, plan) as url:
        result, seconds = _call(url, RetryPolicy(attempts=3, timeout=1.0, retry_after_max=0.2))
    assert result.errors[0] == "http_status" and result.attempts == 3
    assert 0.4 <= seconds < 3.0  # two waits of the 0.2 s cap, not 120 s


def test_a_partial_fault_rate_is_ridden_out_by_retries(legacy: GatewayProcess) -> None:
    plan = FaultPlan(["reset", "503", "truncate"], rate=0.3, retry_after=0.05, seed=7)
    with fault_proxy(legacy.url, plan) as url:
        results = [_call(url, RetryPolicy(attempts=6, backoff=0.01, timeout=1.0))[0] for _ in range(10)]
        stats = httpx.get(url + "/faults/stats").json()
    assert all(r.ok for r in results), [r.errors[0] for r in results]
    assert sum(v for k, v in stats.items() if k != "requests") >= 1  # some were spoiled, and retried away


def test_the_fault_proxy_command_in_a_sweep(legacy: GatewayProcess, sqlite_url: str) -> None:
    """`farm gateways faults` as a process: a sweep through a proxy spoiling 20% of the answers finishes,
    every spoiled sample counted under its class."""
    proxy = spawn_faults(legacy.url, "nan", "content-type", args=("--fault-rate", "0.2", "--seed", "3"))
    try:
        result = CliRunner().invoke(main_group, [
            "sweep", "embed", "--json", "--quiet", "--no-report", "--legacy", legacy.url, "--candidate",
            proxy.url, "--candidate-profile", "lakehouse-legacy", "--samples", "640", "--batch-size", "16"],
            env={"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}, catch_exceptions=False)
        stats = httpx.get(proxy.url + "/faults/stats").json()
    finally:
        proxy.stop()
    out = json.loads(result.stdout)
    errors = out["statistics"]["errors"]["candidate"]
    spoiled = stats.get("nan", 0) + stats.get("content-type", 0)
    assert 0 < spoiled < 40 and errors["count"] == spoiled * 16, (stats, errors)
    assert out["statistics"]["errors"]["legacy"]["count"] == 0
    assert result.exit_code in (1, 3), out["reason"]  # candidate-only errors: never a PASS, never a crash


def test_the_size_cap_is_set_from_the_command_line(legacy: GatewayProcess, sqlite_url: str) -> None:
    """`--max-body-mb`: a candidate whose every answer is over the cap is unreadable, and the sweep says so."""
    with fault_proxy(legacy.url, FaultPlan(["oversize"], oversize_mb=4)) as url:
        result = CliRunner().invoke(main_group, [
            "sweep", "embed", "--quiet", "--no-report", "--legacy", legacy.url, "--candidate", url,
            "--candidate-profile", "lakehouse-legacy", "--samples", "64", "--max-body-mb", "0.5", "--retries", "0"],
            env={"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}, catch_exceptions=False)
    assert result.exit_code == 4, result.output
    assert "candidate unreadable: 64 of 64 body over the size cap at " + url + "/ai/embed" in result.output

"""`farm gateways serve` / `faults` as a user runs them: real processes, real sockets on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.demo import MAX_BODY_BYTES
from farm.gateway.process import spawn
from farm.probes import get_probe
from farm.probes.embed.embedder import MAX_TEXT_CHARS


def _farm(argv: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farm", *argv], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "FARM_CONFIG": "", "FARM_DATABASE_URL": f"sqlite:///{cwd}/f.db"},
                          stdin=subprocess.DEVNULL, timeout=timeout)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 with a live listener on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("argv", [
    ["gateways", "serve", "--profile", "lakehouse-legacy"],
    ["gateways", "faults", "--upstream", "http://127.0.0.1:9", "--fault", "503"],
])
def test_a_port_in_use_is_one_line_and_exit_2_before_any_banner(argv: list[str], busy_port: int,
                                                                tmp_path: Path) -> None:
    proc = _farm([*argv, "--port", str(busy_port)], tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert lines == [f"farm: error: port {busy_port} on 127.0.0.1 is in use"], proc.stderr
    assert proc.stdout == ""


@pytest.fixture(scope="module")
def embed_gateway() -> Iterator[str]:
    with spawn("lakehouse-legacy") as gateway:
        yield gateway.url


def test_a_5_mb_input_is_a_quick_400_and_the_gateway_lives_on(embed_gateway: str) -> None:
    huge = "lorem ipsum " * (5 * 1024 * 1024 // 12)
    started = time.monotonic()
    refused = httpx.post(embed_gateway + "/ai/embed", json={"texts": ["fine", huge]}, timeout=30)
    assert refused.status_code == 400 and "at most 100,000" in refused.json()["error"]
    assert "input 1 " in refused.json()["error"]
    assert time.monotonic() - started < 5
    after = httpx.post(embed_gateway + "/ai/embed", json={"texts": ["still here"]}, timeout=30)
    assert after.status_code == 200 and len(after.json()["embeddings"]) == 1
    edge = httpx.post(embed_gateway + "/ai/embed", json={"texts": ["x" * MAX_TEXT_CHARS]}, timeout=30)
    assert edge.status_code == 200


def test_a_body_over_the_cap_is_413_declared_or_chunked(embed_gateway: str) -> None:
    body = b'{"texts": ["' + b"a" * MAX_BODY_BYTES + b'"]}'
    declared = httpx.post(embed_gateway + "/ai/embed", content=body,
                          headers={"content-type": "application/json"}, timeout=30)
    assert declared.status_code == 413

    def pieces() -> Iterator[bytes]:  # no Content-Length: the cap counts what streams in
        for start in range(0, len(body), 1 << 20):
            yield body[start:start + (1 << 20)]

    chunked = httpx.post(embed_gateway + "/ai/embed", content=pieces(), timeout=30)
    assert chunked.status_code == 413
    health = httpx.get(embed_gateway + "/healthz", timeout=5).json()
    assert health["ok"] is True


@pytest.mark.parametrize(("probe", "flag", "value"), [
    ("sql", "--rows", "-5"),
    ("sql", "--rows", "0"),
    ("embed", "--scale", "0"),
    ("embed", "--noise", "-0.1"),
    ("embed", "--drift-cos", "1.5"),
    ("search", "--docs", "-1"),
    ("search", "--ef", "0"),
    ("search", "--duplicates", "0.5"),
    ("retrieve", "--docs", "10"),
    ("retrieve", "--alpha", "2"),
    ("retrieve", "--bm25-b", "-1"),
    ("embed", "--latency-ms", "-1"),
])
def test_demo_sizes_and_rates_out_of_range_are_one_line_exit_2(probe: str, flag: str, value: str,
                                                                busy_port: int) -> None:
    # A busy port: were the value accepted, the command would fail on the port instead of serving forever.
    result = CliRunner().invoke(main_group, ["gateways", "serve", "--probe", probe, "--profile", "lakehouse-legacy",
                                             "--port", str(busy_port), flag, value], env={"FARM_CONFIG": ""})
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("farm: error: ") and flag in lines[0] and "Traceback" not in result.output


def test_a_drift_cosine_of_zero_is_honoured_not_replaced_by_the_default() -> None:
    probe = get_probe("embed")
    profile = probe.presets["lakehouse-legacy"]
    backend = probe.demo_backend(profile, {"drift_rate": 1.0, "drift_cos": 0.0})
    truth = probe.demo_backend(profile, {})
    texts = ["one input", "another input"]
    drifted = np.asarray(backend({"texts": texts})[1]()["embeddings"])
    plain = np.asarray(truth({"texts": texts})[1]()["embeddings"])
    assert np.allclose(np.sum(drifted * plain, axis=1), 0.0, atol=1e-9)

"""The stack: docker-compose.yml and `farm stack up` come from one description and run real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from farm.cli import main_group
from farm.stack import compose_yaml, services

REPO = Path(__file__).resolve().parents[2]


def test_compose_file_is_generated_from_the_stack_description() -> None:
    assert (REPO / "docker-compose.yml").read_text() == compose_yaml()


def test_every_compose_command_exists_in_the_project() -> None:
    import workers

    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    app_services = {name: svc for name, svc in doc["services"].items() if svc.get("build") == "."}
    assert set(app_services) == {s.name for s in services()}
    assert {"redis", "postgres"} <= set(doc["services"])
    for name, svc in app_services.items():
        argv = svc["command"]
        if argv[0] == "farm":
            # Parse the arguments with the real CLI: an unknown command or option raises here.
            ctx = main_group.make_context("farm", list(argv[1:]), resilient_parsing=False)
            sub = main_group.get_command(ctx, argv[1])
            assert sub is not None, name
        else:
            assert argv[:3] == ["celery", "-A", "workers"], name
            assert argv[3] in ("worker", "beat"), name
            if argv[3] == "worker":
                queue = argv[argv.index("-Q") + 1]
                assert queue in ("probe.legacy", "probe.candidate", "farm.aggregate"), name
    routes = workers.app.conf.task_routes
    assert {r["queue"] for r in routes.values()} == {"farm.aggregate"}
    assert "FARM_FLOWER_AUTH" in app_services["flower"]["environment"]
    assert all("depends_on" in svc for svc in app_services.values())


@pytest.mark.services
@pytest.mark.slow
def test_stack_up_then_a_sweep_with_no_arguments(tmp_path: Path, pg_url: str) -> None:
    from farm.store.db import upgrade

    upgrade(pg_url)
    broker = redis.Redis(host="127.0.0.1", port=6379, db=10)
    broker.flushdb()
    env = {**os.environ, "FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": "redis://127.0.0.1:6379/10",
           "FARM_FLOWER_AUTH": "ops:pw", "FARM_CONFIG": ""}

    def farm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "farm", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=timeout)

    try:
        up = farm("stack", "up")
        assert up.returncode == 0, up.stderr
        assert "started worker-legacy" in up.stdout and "started flower" in up.stdout
        _wait_ready(tmp_path / ".farm" / "stack")
        sweep = farm("sweep", "embed", "--distributed", "--samples", "1200", "--json", "--quiet")
        assert sweep.returncode == 3, sweep.stderr  # 1,200 clean samples: INCONCLUSIVE, as it should be
        out = json.loads(sweep.stdout)
        assert out["n"] == 1200 and out["mode"] == "distributed" and out["errors"] == 0
        assert out["legacy"]["url"] == "http://127.0.0.1:8101/ai/embed"
        status = farm("stack", "status")
        assert status.stdout.count("running") == 8, status.stdout
        assert httpx.get("http://127.0.0.1:5555/api/workers", timeout=10).status_code == 401
        board = httpx.get("http://127.0.0.1:8300/", timeout=10)  # the UI, on loopback: no auth asked
        assert board.status_code == 200 and out["sweep_id"] in board.text
    finally:
        down = farm("stack", "down")
        broker.flushdb()
    assert down.returncode == 0 and "stopped worker-legacy" in down.stdout
    assert farm("stack", "status").stdout.count("stopped") == 8


def _wait_ready(state: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    logs = ("worker-legacy", "worker-candidate", "worker-aggregate")
    while time.monotonic() < deadline:
        if all("ready." in (state / f"{n}.log").read_text(errors="replace") for n in logs
               if (state / f"{n}.log").exists()) and all((state / f"{n}.log").exists() for n in logs):
            return
        time.sleep(0.5)
    raise AssertionError("stack workers not ready: " + " | ".join(
        (state / f"{n}.log").read_text(errors="replace")[-500:] for n in logs if (state / f"{n}.log").exists()))

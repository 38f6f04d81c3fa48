"""The stack: docker-compose.yml and `farm stack up` come from one description and run real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from farm.cli import main_group
from farm.gateway.process import free_port
from farm.stack import compose_yaml, services
from tests.isolation import dead_port

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


def _farm(cwd: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farm", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


@pytest.mark.services
@pytest.mark.slow
def test_stack_up_then_a_sweep_with_no_arguments(tmp_path: Path, pg_url: str, broker_url: str) -> None:
    from farm.store.db import upgrade

    upgrade(pg_url)
    legacy, candidate, flower, ui = free_port(), free_port(), free_port(), free_port()
    (tmp_path / "farm.toml").write_text(f"[stack]\nlegacy_port = {legacy}\ncandidate_port = {candidate}\n"
                                        f"flower_port = {flower}\nui_port = {ui}\n")
    env = {**os.environ, "FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url, "FARM_FLOWER_AUTH": "ops:pw",
           "FARM_CONFIG": str(tmp_path / "farm.toml")}
    try:
        up = _farm(tmp_path, env, "stack", "up")
        assert up.returncode == 0, up.stderr
        # "started" only once it answers: no waiting on logs here.
        assert "started worker-legacy" in up.stdout and "started flower" in up.stdout
        assert up.stdout.count("answering") == 8, up.stdout
        status = _farm(tmp_path, env, "stack", "status")
        assert status.stdout.count("running") == 8, status.stdout
        lines = {ln.split()[0]: ln.split() for ln in status.stdout.splitlines()}
        assert all(lines[n][2] == "answering" for n in lines if n != "beat"), status.stdout
        assert lines["beat"][2] == "-"
        assert httpx.get(f"http://127.0.0.1:{flower}/api/workers", timeout=10).status_code == 401
        sweep = _farm(tmp_path, env, "sweep", "embed", "--distributed", "--samples", "1200", "--json", "--quiet")
        assert sweep.returncode == 3, sweep.stderr  # 1,200 clean samples: INCONCLUSIVE, as it should be
        out = json.loads(sweep.stdout)
        assert out["n"] == 1200 and out["mode"] == "distributed" and out["errors"] == 0
        assert out["legacy"]["url"] == f"http://127.0.0.1:{legacy}/ai/embed"
        board = httpx.get(f"http://127.0.0.1:{ui}/", timeout=10)  # the UI, on loopback: no auth asked
        assert board.status_code == 200 and out["sweep_id"] in board.text
    finally:
        down = _farm(tmp_path, env, "stack", "down")
    assert down.returncode == 0 and "stopped worker-legacy" in down.stdout
    status = _farm(tmp_path, env, "stack", "status").stdout
    assert status.count("stopped") == 8 and "answering" not in status, status


def test_a_port_in_use_is_named_and_nothing_starts(tmp_path: Path) -> None:
    env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_FLOWER_AUTH": "ops:pw",
           "FARM_CONFIG": ""}
    candidate, flower = free_port(), free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        up = _farm(tmp_path, env, "stack", "up", "--legacy-port", str(taken), "--candidate-port", str(candidate),
                   "--flower-port", str(flower), "--ui-port", str(free_port()), timeout=60)
    assert up.returncode == 2, up.stdout + up.stderr
    assert up.stderr.strip() == (f"farm: error: stack service gateway-legacy: port {taken} on 127.0.0.1 is in use; "
                                 "choose another with [stack] in farm.toml or `farm stack up --legacy-port`"), up.stderr
    assert "started" not in up.stdout
    assert not (tmp_path / ".farm" / "stack" / "supervisord.pid").exists()
    assert not _answers(f"http://127.0.0.1:{candidate}/healthz")


@pytest.mark.services
def test_a_service_that_cannot_start_stops_the_whole_stack(tmp_path: Path) -> None:
    """Workers whose broker is down never answer a ping: `up` names them, exits 2 and stops the gateways it had
    started (they were answering)."""
    legacy, candidate = free_port(), free_port()
    with dead_port() as broker:
        env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": "",
               "FARM_BROKER_URL": f"redis://127.0.0.1:{broker}/0"}
        up = _farm(tmp_path, env, "stack", "up", "--only", "gateway-legacy", "--only", "gateway-candidate", "--only",
                   "worker-legacy", "--legacy-port", str(legacy), "--candidate-port", str(candidate), "--timeout",
                   "8", timeout=120)
    assert up.returncode == 2, up.stdout + up.stderr
    assert len(up.stderr.strip().splitlines()) == 1 and "Traceback" not in up.stderr
    assert "stack service worker-legacy did not answer within 8s" in up.stderr, up.stderr
    assert "started" not in up.stdout
    assert not (tmp_path / ".farm" / "stack" / "supervisord.pid").exists()
    assert not _answers(f"http://127.0.0.1:{legacy}/healthz") and not _answers(f"http://127.0.0.1:{candidate}/healthz")
    status = _farm(tmp_path, env, "stack", "status").stdout
    assert status.count("stopped") == 8, status

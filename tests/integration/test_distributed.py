"""Distributed sweeps with real parts: Redis or RabbitMQ, Postgres, Celery worker processes, Flower, HTTP."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import func, select, update

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, free_port, spawn
from farm.store.db import transaction, upgrade
from farm.store.models import Sample, Sweep
from farm.store.models import SideResult as SideRow
from tests.integration.cluster import ClusterFactory

pytestmark = [pytest.mark.services, pytest.mark.slow]
SENTINEL = "sk-sentinel-" + secrets.token_hex(8)


def farm_toml(tmp: Path, legacy: GatewayProcess, candidate: GatewayProcess) -> Path:
    path = tmp / "farm.toml"
    path.write_text(f"""
[gateways.legacy]
url = "{legacy.url}"
profile = "lakehouse-legacy"

[gateways.candidate]
url = "{candidate.url}"
profile = "lakehouse-candidate"
""")
    return path


def request_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_cli(env: dict[str, str], *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main_group, list(args), env=env, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def sweep_args(samples: int, *extra: str) -> list[str]:
    return ["sweep", "embed", "--legacy", "legacy", "--candidate", "candidate", "--samples", str(samples),
            "--json", "--quiet", *extra]


def samples_of(url: str, sweep_id: str) -> tuple[int, int, int, int]:
    with transaction(url) as s:
        row = s.execute(select(func.count(), func.count(func.distinct(Sample.idx)), func.min(Sample.idx),
                               func.max(Sample.idx)).where(Sample.sweep_id == sweep_id)).one()
    return tuple(int(v) for v in row)  # type: ignore[return-value]




@pytest.fixture
def cluster_env(tmp_path: Path, pg_url: str, broker_url: str) -> Iterator[tuple[dict[str, str], GatewayProcess,
                                                                             GatewayProcess]]:
    """Two demo gateways (token-protected, with request logs), a migrated Postgres, Redis, a farm.toml."""
    upgrade(pg_url)
    gw_env = {"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL}
    with spawn("lakehouse-legacy", "--token-env", "FARM_GATEWAY_LEGACY_TOKEN", "--request-log",
               str(tmp_path / "legacy-requests.jsonl"), env=gw_env) as legacy, \
            spawn("lakehouse-candidate", "--request-log", str(tmp_path / "candidate-requests.jsonl")) as candidate:
        config = farm_toml(tmp_path, legacy, candidate)
        env = {"FARM_CONFIG": str(config), "FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url}
        yield env, legacy, candidate


def test_distributed_sweep_matches_embedded_and_stays_near_its_gateway(
        cluster_env: tuple[dict[str, str], GatewayProcess, GatewayProcess], tmp_path: Path, pg_url: str,
        celery_cluster: ClusterFactory) -> None:
    env, _legacy, _candidate = cluster_env
    cluster = celery_cluster(env)
    # Only the legacy worker has the legacy token in its environment: secrets live near their gateway.
    cluster.sweep_workers(legacy_env={"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL})
    # --resend-min: no batch is sent twice because a loaded machine delayed it (the count below is exact).
    code, dist = run_cli(env, *sweep_args(5000, "--distributed", "--resend-min", "200", "--reports-dir",
                                          str(tmp_path / "reports")))
    assert samples_of(pg_url, dist["sweep_id"]) == (5000, 5000, 0, 4999)
    assert dist["mode"] == "distributed" and dist["n"] == 5000 and code == 0
    # The same corpus in embedded mode (this process calls both gateways, so it needs the token too).
    code_e, emb = run_cli({**env, "FARM_GATEWAY_LEGACY_TOKEN": SENTINEL}, *sweep_args(5000, "--no-report"))
    keys = ("verdict", "reason", "n", "disagreements", "errors")
    assert {k: dist[k] for k in keys} == {k: emb[k] for k in keys} and code == code_e
    assert dist["drift_catalog"] == emb["drift_catalog"]
    for side in ("legacy", "candidate"):
        callers = Counter(r["worker"] for r in request_log(tmp_path / f"{side}-requests.jsonl"))
        distributed_callers = {w for w in callers if w != "embedded"}
        assert len(distributed_callers) == 1 and next(iter(distributed_callers)).startswith(f"{side}@")
        assert callers[next(iter(distributed_callers))] == 5000 // 32 + 1
    assert Path(dist["report"]).exists()


@dataclass
class BackgroundSweep:
    """`farm sweep embed --distributed` in a thread, so the test can break workers while it runs."""

    env: dict[str, str]
    url: str
    args: list[str]
    out: tuple[int, dict] | None = None

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        self.out = run_cli(self.env, *self.args)

    def finish(self, timeout: float, why: str) -> tuple[int, dict]:
        self.thread.join(timeout=timeout)
        assert not self.thread.is_alive() and self.out is not None, why
        return self.out

    def stop(self) -> None:
        """Cancel a sweep still running after a failed assertion, so its thread ends with the test."""
        if self.thread.is_alive():
            with transaction(self.url) as s:
                s.execute(update(Sweep).where(Sweep.status == "running").values(status="cancelled"))
            self.thread.join(timeout=30)


def test_kill_9_a_worker_mid_sweep_loses_and_duplicates_nothing(
        cluster_env: tuple[dict[str, str], GatewayProcess, GatewayProcess], tmp_path: Path, pg_url: str,
        celery_cluster: ClusterFactory) -> None:
    env, _legacy, _candidate = cluster_env
    env = {**env, "FARM_VISIBILITY_TIMEOUT": "10"}  # redelivery of the dead worker's messages after 10 s
    cluster = celery_cluster(env)
    sweep: BackgroundSweep | None = None
    try:
        cluster.sweep_workers(legacy_env={"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL})
        sweep = BackgroundSweep(env, pg_url, sweep_args(4000, "--distributed", "--no-report", "--batch-size", "16"))
        sweep_id = _wait_for_progress(pg_url, minimum=20)
        cluster.kill9("legacy")
        done_at_kill = _done(pg_url, sweep_id)
        time.sleep(2)
        cluster.worker("legacy", "probe.legacy", extra_env={"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL})
        code, out = sweep.finish(300, "the sweep did not finish after the worker restart")
    finally:
        if sweep is not None:
            sweep.stop()
    assert done_at_kill < 250  # the kill really happened mid-sweep (4,000 / 16 = 250 batches)
    assert samples_of(pg_url, sweep_id) == (4000, 4000, 0, 3999)
    assert out["n"] == 4000 and out["verdict"] == "PASS" and code == 0


def test_messages_lost_by_the_broker_are_sent_again(
        cluster_env: tuple[dict[str, str], GatewayProcess, GatewayProcess], tmp_path: Path, pg_url: str,
        broker_url: str, celery_cluster: ClusterFactory) -> None:
    env, _legacy, _candidate = cluster_env
    cluster = celery_cluster(env)
    sweep: BackgroundSweep | None = None
    try:
        cluster.worker("candidate", "probe.candidate")
        cluster.worker("aggregate", "farm.aggregate")
        sweep = BackgroundSweep(env, pg_url, sweep_args(800, "--distributed", "--no-report", "--batch-size", "16",
                                                        "--resend-after", "5"))
        # No legacy worker yet: its 4 messages (50 batches, 16 a message) wait in Redis. Drop them (a broker
        # losing messages), then start it.
        broker = redis.Redis.from_url(broker_url)
        deadline = time.monotonic() + 60
        while broker.llen("probe.legacy") < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert broker.delete("probe.legacy") == 1
        cluster.worker("legacy", "probe.legacy", extra_env={"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL})
        code, out = sweep.finish(120, "the sweep did not finish: lost batches were not sent again")
    finally:
        if sweep is not None:
            sweep.stop()
    assert out["resent"] == 50  # exactly the lost legacy halves, each once (a batch to a message)
    assert samples_of(pg_url, out["sweep_id"]) == (800, 800, 0, 799)
    assert out["n"] == 800 and out["errors"] == 0 and code == 3  # 800 clean samples: too few to PASS


def test_a_queue_without_a_worker_fails_the_sweep_with_an_error_naming_it(
        cluster_env: tuple[dict[str, str], GatewayProcess, GatewayProcess], tmp_path: Path, pg_url: str,
        celery_cluster: ClusterFactory) -> None:
    env, _legacy, _candidate = cluster_env
    cluster = celery_cluster(env)
    cluster.worker("candidate", "probe.candidate")  # nobody consumes probe.legacy
    cluster.worker("aggregate", "farm.aggregate")
    started = time.monotonic()
    result = CliRunner().invoke(main_group, sweep_args(
        3000, "--distributed", "--no-report", "--max-inflight", "32", "--batches-per-task", "8",
        "--stall-timeout", "3"), env=env)
    took = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert "no batch landed for 3s" in result.output and "probe.legacy" in result.output
    assert "the sweep is marked failed" in result.output and "Traceback" not in result.output
    assert took < 60  # it gave up at the in-flight bound instead of waiting there for ever
    with transaction(pg_url) as s:
        status, total = s.execute(select(Sweep.status, Sweep.batches_total)).one()
    assert (status, total) == ("failed", None)  # 94 batches planned, only the first 32 were ever sent


def test_the_stack_workers_enforce_the_task_time_limit(tmp_path: Path, pg_url: str, broker_url: str,
                                                       celery_cluster: ClusterFactory) -> None:
    """A gateway slower than the time limit: the worker (the stack's prefork pool; the threads pool would
    ignore the limit, celery#9203) stops the job, stores nothing, and goes on serving."""
    upgrade(pg_url)
    with spawn("lakehouse-legacy", "--latency-ms", "30000") as slow, spawn("lakehouse-candidate") as candidate:
        env = {"FARM_CONFIG": str(farm_toml(tmp_path, slow, candidate)), "FARM_DATABASE_URL": pg_url,
               "FARM_BROKER_URL": broker_url}
        cluster = celery_cluster(env)
        cluster.sweep_workers(legacy_env={"FARM_TASK_TIME_LIMIT": "4"})  # soft limit 3 s
        started = time.monotonic()
        result = CliRunner().invoke(main_group, sweep_args(64, "--distributed", "--no-report",
                                                           "--stall-timeout", "8"), env=env)
        took = time.monotonic() - started
        log = cluster.log("legacy").read_text(errors="replace")
        alive = cluster.procs["legacy"].poll() is None
        cluster.stop()  # before reading what was stored
    assert "SoftTimeLimitExceeded" in log, log[-3000:]
    assert alive and took < 25  # well before the gateway's 30 s answer
    assert result.exit_code == 2 and "no batch landed for 8s" in result.output, result.output
    with transaction(pg_url) as s:
        stored = s.execute(select(SideRow.side)).scalars().all()
    assert sorted(stored) == ["candidate", "candidate"]  # 2 batches; the legacy side stored nothing


def test_a_producer_killed_mid_sweep_is_resumed_without_loss_or_rework(
        cluster_env: tuple[dict[str, str], GatewayProcess, GatewayProcess], tmp_path: Path, pg_url: str,
        celery_cluster: ClusterFactory) -> None:
    env, _legacy, _candidate = cluster_env
    cluster = celery_cluster(env)
    cluster.sweep_workers(legacy_env={"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL})
    # A small in-flight window keeps the producer dispatching for most of the sweep.
    producer = subprocess.Popen(
        [sys.executable, "-m", "farm", *sweep_args(4000, "--distributed", "--no-report", "--batch-size", "16",
                                                   "--max-inflight", "32", "--batches-per-task", "4")],
        env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        sweep_id = _wait_for_progress(pg_url, minimum=40)
    finally:
        os.killpg(producer.pid, signal.SIGKILL)
        producer.wait(timeout=10)
    done_at_kill = _done(pg_url, sweep_id)
    code, out = run_cli(env, "sweep", "resume", sweep_id, "--json", "--quiet", "--max-inflight", "32")
    assert 40 <= done_at_kill < 250  # killed mid-sweep (4,000 / 16 = 250 batches)
    assert samples_of(pg_url, sweep_id) == (4000, 4000, 0, 3999)
    assert out["n"] == 4000 and out["verdict"] == "PASS" and code == 0
    # Batches paired before the kill were not sent again: at most the 32 in flight were called twice.
    assert len(request_log(tmp_path / "legacy-requests.jsonl")) <= 250 + 32


def _done(url: str, sweep_id: str) -> int:
    with transaction(url) as s:
        return int(s.scalar(select(Sweep.batches_done).where(Sweep.id == sweep_id)) or 0)


def _wait_for_progress(url: str, minimum: int, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(url) as s:
            row = s.execute(select(Sweep.id, Sweep.batches_done)).first()
        if row is not None and row[1] >= minimum:
            return str(row[0])
        time.sleep(0.1)
    raise AssertionError("the sweep made no progress")


def test_token_never_leaves_the_worker_and_flower_sees_the_workers(
        cluster_env: tuple[dict[str, str], GatewayProcess, GatewayProcess], tmp_path: Path, pg_url: str,
        broker_url: str, celery_cluster: ClusterFactory) -> None:
    env, _legacy, _candidate = cluster_env
    cluster = celery_cluster(env)
    port = free_port()
    capture = (tmp_path / "broker-monitor.txt").open("wb")
    monitor = subprocess.Popen(["redis-cli", "-u", broker_url, "monitor"], stdout=capture, stderr=subprocess.STDOUT)
    answers: list[str] = []
    try:
        cluster.sweep_workers(legacy_env={"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL})
        cluster.start("flower", ["farm", "flower", "--address", "127.0.0.1", "--port", str(port)],
                      "Visit me at", extra_env={"FARM_FLOWER_AUTH": "ops:s3cret"})
        base = f"http://127.0.0.1:{port}"
        auth = ("ops", "s3cret")
        # Flower subscribes to events some time after it starts serving (longer on a loaded machine): one-batch
        # warm-up sweeps until one shows up with its task names, so the measured sweep's events are all seen.
        for attempt in range(8):
            _, warm = run_cli(env, *sweep_args(32, "--distributed", "--no-report"))
            try:
                _flower_tasks(base, auth, calls=2, pairs=1, sweep_id=warm["sweep_id"], wait=10)
                break
            except AssertionError:
                if attempt == 7:
                    raise
        code, out = run_cli(env, *sweep_args(600, "--distributed", "--reports-dir", str(tmp_path / "reports")))
        assert out["n"] == 600 and code == 3  # 600 clean samples are too few to PASS
        assert httpx.get(f"{base}/api/workers", timeout=10).status_code == 401
        assert httpx.get(f"{base}/api/workers", auth=("ops", "wrong"), timeout=10).status_code == 401
        workers = _flower_workers(base, auth)
        queues = {name.split("@")[0]: {q["name"] for q in info.get("active_queues", [])}
                  for name, info in workers.items()}
        assert queues["legacy"] == {"probe.legacy"} and queues["candidate"] == {"probe.candidate"}
        # 600 samples = 19 batches of 32 = 2 jobs of up to 16 batches: both sides of each, and at least one
        # pairing each (both sides may send one when they land together), all named in Flower.
        tasks = _flower_tasks(base, auth, calls=2 * 2, pairs=2, sweep_id=out["sweep_id"])
        mine = [t for t in tasks.values() if out["sweep_id"] in (t.get("args") or "")]
        assert len(mine) >= 2 * 2 + 2 and all(len(t["args"]) < 200 for t in mine)  # short, no inputs
        answers.append(json.dumps(workers))
        answers.append(json.dumps(tasks))
        for task_id in list(tasks)[:20]:
            answers.append(httpx.get(f"{base}/api/task/info/{task_id}", auth=auth, timeout=10).text)
    finally:
        cluster.stop()  # their logs complete (shutdown included) before they are searched
        monitor.terminate()
        monitor.wait(timeout=10)
        capture.close()
    broker_traffic = broker_messages(tmp_path / "broker-monitor.txt")
    assert '"texts"' in broker_traffic and "token_env" in broker_traffic  # decoded job bodies were searched
    dump = subprocess.run(["pg_dump", "--data-only", pg_url.replace("+psycopg", "")], capture_output=True,
                          text=True, check=True).stdout
    assert out["sweep_id"] in dump
    reports = "".join(p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*.md"))
    places = {"broker": broker_traffic, "database": dump, "logs": cluster.logs(), "reports": reports,
              "flower": "".join(answers), "cli": json.dumps(out)}
    leaked = [name for name, text in places.items() if SENTINEL in text]
    assert leaked == []
    # The gateway did require the token, so the worker really sent it.
    assert all(r["authorized"] for r in request_log(tmp_path / "legacy-requests.jsonl"))


def broker_messages(path: Path) -> str:
    """Everything Redis saw, with Celery's base64 message bodies decoded so a secret cannot hide in them."""
    raw = path.read_text(errors="replace")
    bodies = re.findall(r'body\\+": \\+"([A-Za-z0-9+/=]+)', raw)
    return raw + "\n".join(base64.b64decode(b).decode(errors="replace") for b in bodies)


def _flower_tasks(base: str, auth: tuple[str, str], calls: int, pairs: int, sweep_id: str,
                  wait: float = 30) -> dict[str, dict]:
    """Flower's task list once it has processed the sweep's events (they arrive asynchronously)."""
    deadline = time.monotonic() + wait
    while True:
        tasks: dict[str, dict] = httpx.get(f"{base}/api/tasks", auth=auth, timeout=10).json()
        names = Counter(t["name"] for t in tasks.values() if sweep_id in (t.get("args") or ""))
        if names["farm.sweep.call_gateway"] >= calls and names["farm.sweep.pair_batch"] >= pairs:
            return tasks
        if time.monotonic() > deadline:
            raise AssertionError(f"Flower saw {dict(names)}, expected {calls} calls and {pairs} pairings")
        time.sleep(1)


def _flower_workers(base: str, auth: tuple[str, str]) -> dict[str, dict]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = httpx.get(f"{base}/api/workers", params={"refresh": "1"}, auth=auth, timeout=20).json()
        if {"legacy", "candidate"} <= {name.split("@")[0] for name in workers}:
            return workers
        time.sleep(1)
    raise AssertionError(f"Flower does not list both probe workers: {workers}")


def test_rabbitmq_broker(cluster_env: tuple[dict[str, str], GatewayProcess, GatewayProcess], tmp_path: Path,
                         pg_url: str,
        celery_cluster: ClusterFactory) -> None:
    env, _legacy, _candidate = cluster_env
    env = {**env, "FARM_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"}
    queues = {"legacy": "probe.legacy", "candidate": "probe.candidate"}
    cluster = celery_cluster(env)
    cluster.worker("legacy", queues["legacy"], extra_env={"FARM_GATEWAY_LEGACY_TOKEN": SENTINEL})
    cluster.worker("candidate", queues["candidate"])
    cluster.worker("aggregate", "farm.aggregate")
    code, out = run_cli(env, *sweep_args(1000, "--distributed", "--no-report"))
    assert samples_of(pg_url, out["sweep_id"]) == (1000, 1000, 0, 999)
    assert out["verdict"] == "INCONCLUSIVE" and code == 3 and out["errors"] == 0

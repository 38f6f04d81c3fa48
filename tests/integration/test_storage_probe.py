"""The storage probe over real HTTP: demo gateways in front of one real S3 API server (moto, in a child process)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn
from farm.probes.storage.gateway import _drifts
from farm.probes.storage.store import BUCKET, SCRATCH, moto_server, s3_client, seed, seeded_objects
from farm.store.db import upgrade
from farm.store.sweeps import recent_sweeps
from tests.integration.cluster import Cluster

ROOT = str(Path(__file__).resolve().parents[2])
BIG = "big/sixty-four-mib.bin"


@pytest.fixture(scope="module")
def store() -> Iterator[str]:
    with moto_server() as endpoint:
        seed(endpoint)
        yield endpoint


@pytest.fixture(scope="module")
def pair(store: str) -> Iterator[dict[str, GatewayProcess]]:
    s3 = ("--s3-endpoint", store)
    with spawn("lakehouse-legacy", *s3, probe="storage") as legacy, \
            spawn("lakehouse-candidate", *s3, "--etag-style", "bare", "--page-size", "5", probe="storage") as drifty, \
            spawn("lakehouse-candidate", *s3, "--drift-rate", "0.01", probe="storage") as flipping:
        yield {"legacy": legacy, "drifty": drifty, "flipping": flipping}


def sweep(tmp_path: Path, *args: str) -> tuple[int, dict]:
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    result = CliRunner().invoke(main_group, ["sweep", "storage", "--json", "--quiet", *args], env=env,
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def keys_file(tmp_path: Path, keys: list[str]) -> str:
    path = tmp_path / "keys.txt"
    path.write_text("\n".join(keys) + "\n", encoding="utf-8")
    return str(path)


def test_same_store_passes_with_etag_quoting_and_page_size_in_the_catalog(pair: dict[str, GatewayProcess],
                                                                          tmp_path: Path) -> None:
    legacy, drifty = pair["legacy"], pair["drifty"]
    code, out = sweep(tmp_path, "--legacy", legacy.url, "--candidate", drifty.url, "--samples", "160",
                      "--p-max", "0.02", "--reports-dir", str(tmp_path))
    assert code == 0 and out["verdict"] == "PASS" and out["disagreements"] == 0, out["reason"]
    rows = {r["kind"]: r for r in out["drift_catalog"]}
    assert rows["etag"]["legacy"].startswith("`quoted`") and rows["etag"]["candidate"].startswith("`bare`")
    assert rows["page_size"]["candidate"] == "at most 5 keys" and rows["page_size"]["legacy"] != "at most 5 keys"
    assert rows["list_params"]["candidate"] == "`prefix`, `max_keys`, `continuation_token`"
    assert rows["error_shape"]["legacy"].startswith("`error`") and "error.code, error.message" in \
        rows["error_shape"]["candidate"]
    report = Path(out["report"]).read_text()
    assert "| etag quoting |" in report and "| list page size |" in report and "_sizes.png" in report
    # With --strict-headers the same drift is a disagreement.
    few = keys_file(tmp_path, [k for k, *_ in seeded_objects(12)])
    code, out = sweep(tmp_path, "--legacy", legacy.url, "--candidate", drifty.url, "--corpus", few,
                      "--strict-headers", "--no-report")
    assert code == 1 and out["disagreements"] == 12, out["reason"]


def test_one_byte_changed_in_one_percent_of_objects_fails(pair: dict[str, GatewayProcess], tmp_path: Path) -> None:
    keys = [k for k, *_ in seeded_objects()]
    changed = [k for k in keys if _drifts(k, 0.01)]
    assert len(changed) == 3  # which objects drift is a hash of the key: the same three on every run
    code, out = sweep(tmp_path, "--legacy", pair["legacy"].url, "--candidate", pair["flipping"].url, "--corpus",
                      keys_file(tmp_path, keys), "--no-report", "--batch-size", "8")
    assert code == 1 and out["verdict"] == "FAIL" and out["disagreements"] == 3 and out["n"] == 200, out["reason"]


def test_inputs_listed_under_a_prefix_through_the_legacy_gateway(pair: dict[str, GatewayProcess],
                                                                 tmp_path: Path) -> None:
    logs = sorted(k for k, *_ in seeded_objects() if k.startswith("logs/"))
    # The legacy side here is the candidate-shaped gateway with 5-key pages: the listing follows its
    # continuation tokens in its own field names until exhausted.
    legacy, candidate = pair["drifty"], pair["legacy"]
    args = ("--legacy", legacy.url, "--legacy-profile", "lakehouse-candidate", "--candidate", candidate.url,
            "--candidate-profile", "lakehouse-legacy", "--list-prefix", "logs/", "--p-max", "0.1", "--no-report",
            "--order-seed", "3")
    code, out = sweep(tmp_path, *args)
    assert code == 0 and out["verdict"] == "PASS", out["reason"]
    assert out["n"] == len(logs) + 2  # the listing itself, every key under the prefix, one missing key
    assert out["parameters"]["corpus"] == "listing(farm-demo/logs/) in random order (seed 3)"
    code, out = sweep(tmp_path, *args, "--samples", "7")  # 7 drawn at random from the whole listing
    assert out["n"] == 7 and out["disagreements"] == 0
    assert out["parameters"]["corpus"] == "7 of listing(farm-demo/logs/) in random order (seed 3)"
    runner = CliRunner()
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    for extra, message in [(("--corpus", keys_file(tmp_path, logs)), "two sources of inputs"),
                           (("--bucket", "no-such-bucket"), "listing 'no-such-bucket' through legacy .*: HTTP 404")]:
        result = runner.invoke(main_group, ["sweep", "storage", "--quiet", *args, *extra], env=env)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and re.search(message, lines[0]), result.stderr


_MAXRSS = ("import resource, runpy, sys, atexit; atexit.register(lambda: sys.stderr.write("
           "f\"MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n\")); sys.argv = ['farm'] + "
           "sys.argv[1:]; runpy.run_module('farm', run_name='__main__')")


def _peak_rss_kb(tmp_path: Path, corpus: str, legacy: str, candidate: str) -> tuple[int, dict]:
    env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp_path}/rss.db", "FARM_CONFIG": "", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-c", _MAXRSS, "sweep", "storage", "--legacy", legacy, "--candidate",
                           candidate, "--corpus", corpus, "--json", "--quiet", "--no-report"], env=env,
                          capture_output=True, text=True, timeout=300)
    peak = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB"))
    return peak, json.loads(proc.stdout)


def test_a_64_mib_object_is_compared_with_flat_memory(store: str, pair: dict[str, GatewayProcess],
                                                      tmp_path: Path) -> None:
    s3 = s3_client(store)
    s3.put_object(Bucket=BUCKET, Key=BIG, Body=os.urandom(64 * 1024 * 1024), ContentType="application/octet-stream")
    legacy, drifty = pair["legacy"].url, pair["drifty"].url
    small = str(tmp_path / "small.txt")
    Path(small).write_text(next(k for k, size, *_ in seeded_objects() if size == 1024) + "\n")
    big = str(tmp_path / "big.txt")
    Path(big).write_text(BIG + "\n")
    base, out_small = _peak_rss_kb(tmp_path, small, legacy, drifty)
    peak, out_big = _peak_rss_kb(tmp_path, big, legacy, drifty)
    assert out_big["n"] == 1 and out_big["disagreements"] == 0 and out_big["errors"] == 0, out_big
    assert out_small["disagreements"] == 0
    print(f"sweep peak RSS: {peak / 1024:.1f} MiB with the 64 MiB object, {base / 1024:.1f} MiB with a 1 KiB one")
    # Two sides of 64 MiB each went through the sweep: holding either would add 64 MiB.
    assert peak - base < 16 * 1024, f"peak RSS {peak} KiB against {base} KiB for a 1 KiB object"


@pytest.mark.services
@pytest.mark.slow
def test_writes_are_cleaned_up_after_a_killed_sweep_and_resume(store: str, tmp_path: Path, pg_url: str,
                                                               broker_url: str) -> None:
    upgrade(pg_url)
    s3 = s3_client(store)
    scratch = SCRATCH + "killed/"
    env = {"FARM_DATABASE_URL": pg_url, "FARM_BROKER_URL": broker_url, "FARM_CONFIG": "",
           "PYTHONPATH": ROOT}
    slow = ("--s3-endpoint", store, "--latency-ms", "60")
    cluster = Cluster(tmp_path, {**os.environ, **env})
    producer: subprocess.Popen[bytes] | None = None
    try:
        with spawn("lakehouse-legacy", *slow, probe="storage") as legacy, \
                spawn("lakehouse-candidate", *slow, probe="storage") as candidate:
            cluster.sweep_workers()
            corpus = keys_file(tmp_path, [k for k, size, *_ in seeded_objects(60)])
            argv = [sys.executable, "-m", "farm", "sweep", "storage", "--legacy", legacy.url, "--candidate",
                    candidate.url, "--corpus", corpus, "--distributed", "--allow-writes", "--scratch-prefix", scratch,
                    "--batch-size", "3", "--batches-per-task", "1", "--no-report", "--quiet", "--json",
                    "--stall-timeout", "60", "--p-max", "0.1"]
            producer = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)

            def left(prefix: str = scratch) -> list[str]:
                page = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
                return [o["Key"] for o in page.get("Contents", [])]

            deadline = time.monotonic() + 60
            while not left(scratch + "candidate/") and time.monotonic() < deadline:
                time.sleep(0.02)
            cluster.kill9("candidate")  # mid round trip: its scratch object stays behind
            os.killpg(producer.pid, signal.SIGKILL)
            producer.wait(timeout=10)
            time.sleep(1.0)
            leftovers = left(scratch + "candidate/")
            assert leftovers, "the killed worker left no scratch object (the kill came between round trips)"
            sweep_id = recent_sweeps(pg_url, 1)[0].id
            cluster.worker("candidate", "probe.candidate")
            result = subprocess.run([sys.executable, "-m", "farm", "sweep", "resume", sweep_id, "--json", "--quiet",
                                     "--stall-timeout", "60"], env={**os.environ, **env}, capture_output=True,
                                    text=True, timeout=300)
            out = json.loads(result.stdout)
            assert result.returncode == 0 and out["verdict"] == "PASS" and out["n"] == 60, out.get("reason")
            assert left() == [], f"scratch objects left after resume: {left()}"
    finally:
        if producer is not None and producer.poll() is None:
            os.killpg(producer.pid, signal.SIGKILL)
        cluster.stop()

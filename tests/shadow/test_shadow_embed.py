"""`farm shadow` over real HTTP: clients get legacy's bytes, mirrored traffic alone decides PASS / FAIL, a dead
candidate changes nothing for clients, writes are not mirrored, and --record replays as a sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from farm.gateway.process import GatewayProcess, free_port, spawn, spawn_faults
from tests.shadow.helpers import Shadow, texts

BATCH = 32


def send_until_exit(shadow: Shadow, legacy_path: str, most: int) -> int:
    """Post batches of texts through the proxy until it stops by itself (or `most` batches: the bound)."""
    assert shadow.proc is not None
    with httpx.Client(timeout=30) as client:
        for b in range(most):
            if shadow.proc.poll() is not None:
                return b
            try:
                client.post(shadow.url + legacy_path, json={"texts": texts(b, BATCH)})
            except httpx.TransportError:
                return b  # the proxy stopped between two requests
    return most


def test_clients_get_legacys_exact_bytes(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                         sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    shadow = Shadow(legacy.url, candidate.url, sqlite_url, ["--no-report"]).start()
    try:
        with httpx.Client(timeout=30) as client:
            for b in range(5):
                body = {"texts": texts(b, 8)}
                direct = client.post(legacy.url + "/ai/embed", json=body)
                proxied = client.post(shadow.url + "/ai/embed", json=body)
                assert proxied.status_code == direct.status_code == 200
                assert proxied.content == direct.content
                assert proxied.headers["content-type"] == direct.headers["content-type"]
            bad = client.post(shadow.url + "/ai/embed", content=b"{not json")
            assert bad.status_code == client.post(legacy.url + "/ai/embed", content=b"{not json").status_code
    finally:
        code, out, err = shadow.stop()
    assert code in (0, 1, 3), err
    assert out["shadow"]["forwarded"] == 5 + 1 + 1  # the readiness probe, five batches, the bad body
    assert out["shadow"]["mirrored"] == 5 and out["n"] == 40
    assert out["shadow"]["unparsed"] == 1  # the bad body: passed through, counted
    assert out["shadow"]["skipped"] == {"not the probe's endpoint": 1}  # GET /healthz
    assert out["mode"] == "shadow" and "the traffic sampled between" in out["shadow"]["population"]


def test_clean_candidate_passes_from_mirrored_traffic(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                      sqlite_url: str, tmp_path: Path) -> None:
    legacy, candidate = lakehouse_pair
    record = tmp_path / "rec.jsonl"
    shadow = Shadow(legacy.url, candidate.url, sqlite_url,
                    ["--until-decided", "--p-max", "0.01", "--record", str(record), "--reports-dir",
                     str(tmp_path / "reports")]).start()
    try:
        sent = send_until_exit(shadow, "/ai/embed", 400)
        code, out, err = shadow.stop(sig=0)
    finally:
        shadow.kill()
    assert (code, out["verdict"]) == (0, "PASS"), err
    assert out["stopped_by"] == "decided" and sent < 400
    assert "sequential" in json.dumps(out["methods"])
    report = Path(out["report"]).read_text()
    assert "## Shadow traffic" in report and "the traffic sampled between" in report and "`POST /ai/embed`" in report
    # The window replays as a sweep with the same verdict.
    lines = record.read_text().splitlines()
    assert len(lines) == out["shadow"]["mirrored"] and all(json.loads(line)["texts"] for line in lines)
    replay = subprocess.run(
        [sys.executable, "-m", "farm", "sweep", "embed", "--legacy", legacy.url, "--candidate", candidate.url,
         "--corpus", str(record), "--corpus-format", "requests", "--p-max", "0.01", "--json", "--quiet",
         "--no-report"], env={**os.environ, "FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""},
        capture_output=True, timeout=300)
    again = json.loads(replay.stdout.decode().strip().splitlines()[-1])
    assert (replay.returncode, again["verdict"]) == (0, "PASS"), replay.stderr.decode()


def test_drifting_candidate_fails_from_mirrored_traffic(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                        sqlite_url: str) -> None:
    legacy, _ = lakehouse_pair
    with spawn("lakehouse-candidate", "--drift-rate", "0.05", "--drift-cos", "0.99") as drifting:
        shadow = Shadow(legacy.url, drifting.url, sqlite_url,
                        ["--until-decided", "--p-max", "0.01", "--no-report"]).start()
        try:
            sent = send_until_exit(shadow, "/ai/embed", 400)
            code, out, err = shadow.stop(sig=0)
        finally:
            shadow.kill()
    assert (code, out["verdict"]) == (1, "FAIL"), err
    assert out["stopped_by"] == "decided" and sent < 400


def test_dead_candidate_changes_nothing_for_clients(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                    sqlite_url: str) -> None:
    legacy, _ = lakehouse_pair
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    shadow = Shadow(legacy.url, dead, sqlite_url, ["--no-report"]).start()
    try:
        with httpx.Client(timeout=30) as client:
            for b in range(10):
                body = {"texts": texts(b, 4)}
                proxied = client.post(shadow.url + "/ai/embed", json=body)
                assert proxied.status_code == 200
                assert proxied.content == client.post(legacy.url + "/ai/embed", json=body).content
    finally:
        code, out, err = shadow.stop(signal.SIGINT)
    assert out["shadow"]["forwarded"] == 11, err
    assert out["errors"] > 0 and code in (1, 3)  # the candidate's errors are samples' candidate errors


def test_writes_are_not_mirrored(sqlite_url: str) -> None:
    insert = {"sql": "INSERT INTO no_such_table VALUES (1)"}
    with spawn("lakehouse-legacy", probe="sql") as legacy, spawn("lakehouse-candidate", probe="sql") as candidate:
        shadow = Shadow(legacy.url, candidate.url, sqlite_url, ["--no-report"], probe="sql").start()
        try:
            with httpx.Client(timeout=30) as client:
                path = shadow_path(legacy)
                read = client.post(shadow.url + path, json={"sql": "SELECT 1 AS one"})
                write = client.post(shadow.url + path, json=insert)
                assert read.status_code == 200
                # Passed through to legacy all the same, its answer unchanged.
                assert write.content == client.post(legacy.url + path, json=insert).content
        finally:
            code, out, err = shadow.stop()
    skipped = out["shadow"]["skipped"]
    assert code in (0, 3) and out["shadow"]["mirrored"] == 1 and out["n"] == 1, err
    assert sum(n for reason, n in skipped.items() if reason.startswith("write")) == 1, skipped


def shadow_path(legacy: GatewayProcess) -> str:
    from farm.probes import get_probe

    return "/" + get_probe("sql").presets[legacy.profile].path.strip("/")


def test_unreachable_legacy_is_a_502(sqlite_url: str, lakehouse_pair: tuple[GatewayProcess, GatewayProcess]) -> None:
    _, candidate = lakehouse_pair
    gone = f"http://127.0.0.1:{free_port()}"
    shadow = Shadow(gone, candidate.url, sqlite_url, ["--no-report"])
    # Readiness through the proxy is impossible here: wait on the 502 instead.
    env = {**os.environ, "FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    shadow.proc = subprocess.Popen(
        [sys.executable, "-m", "farm", "shadow", "--probe", "embed", "--legacy", gone, "--candidate",
         candidate.url, "--listen", f"127.0.0.1:{shadow.port}", "--json", "--no-report"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    status = None
    deadline = time.monotonic() + 30
    while status is None and time.monotonic() < deadline:
        try:
            status = httpx.post(shadow.url + "/ai/embed", json={"texts": ["a"]}, timeout=5).status_code
        except httpx.TransportError:
            time.sleep(0.05)
    code, _, err = shadow.stop()
    assert status == 502
    assert code == 2 and "no request was mirrored" in err  # nothing to judge: one line, exit 2


def test_chat_streams_pass_through_and_are_mirrored(sqlite_url: str) -> None:
    body = {"stream": True, "temperature": 0,
            "messages": [{"role": "user", "content": "tell me about the gateway migration"}]}
    with spawn("lakehouse-legacy", probe="chat") as legacy, spawn("lakehouse-candidate", probe="chat") as candidate:
        shadow = Shadow(legacy.url, candidate.url, sqlite_url, ["--no-report"], probe="chat").start()
        try:
            with httpx.Client(timeout=30) as client:
                with client.stream("POST", shadow.url + "/ai/chat", json=body) as proxied:
                    assert "event-stream" in proxied.headers["content-type"]
                    pieces = list(proxied.iter_raw())
                direct = client.post(legacy.url + "/ai/chat", json=body).content
        finally:
            _, out, err = shadow.stop()
    assert len(pieces) > 1  # passed on as it arrived, not gathered into one body
    assert b"".join(pieces) == direct and direct.rstrip().endswith(b"data: [DONE]")
    assert out["shadow"]["mirrored"] == 1 and out["n"] == 1 and out["errors"] == 0, err


def test_status_shows_the_verdict_so_far(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                         sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    shadow = Shadow(legacy.url, candidate.url, sqlite_url, ["--no-report"]).start()
    env = {**os.environ, "FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    try:
        with httpx.Client(timeout=30) as client:
            for b in range(20):
                assert client.post(shadow.url + "/ai/embed", json={"texts": texts(b, BATCH)}).status_code == 200
        status: dict[str, object] = {}
        deadline = time.monotonic() + 30
        while status.get("samples") != 20 * BATCH and time.monotonic() < deadline:  # written every 2 s at most
            listed = subprocess.run([sys.executable, "-m", "farm", "sweep", "status"], env=env, capture_output=True,
                                    timeout=60).stdout.decode().split()
            done = subprocess.run([sys.executable, "-m", "farm", "sweep", "status", listed[0], "--json"], env=env,
                                  capture_output=True, timeout=60)
            status = json.loads(done.stdout)
    finally:
        shadow.stop()
    assert status["mode"] == "shadow" and status["status"] == "running" and status["samples"] == 20 * BATCH
    assert status["verdict"] == "INCONCLUSIVE" and str(status["reason"]).startswith("so far (running): ")


def test_a_full_queue_drops_copies_never_clients(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                 sqlite_url: str) -> None:
    legacy, _ = lakehouse_pair
    with spawn_faults(legacy.url, "blackhole") as hung:  # the candidate accepts and never answers
        shadow = Shadow(legacy.url, hung.url, sqlite_url, ["--no-report", "--queue-size", "2", "--mirror-concurrency",
                                                           "1", "--timeout", "2"]).start()
        try:
            with httpx.Client(timeout=30) as client:
                for b in range(20):
                    assert client.post(shadow.url + "/ai/embed", json={"texts": texts(b, 2)}).status_code == 200
        finally:
            _, out, _ = shadow.stop()
    counts = out["shadow"]
    assert counts["forwarded"] == 21 and counts["dropped_queue_full"] + counts["dropped_proxy_busy"] >= 15, counts
    # Every copy accounted for: compared, dropped, or still at the hung candidate when the drain time ran out.
    assert sum(counts[k] for k in ("mirrored", "dropped_queue_full", "dropped_proxy_busy", "unfinished_at_stop")) == 20


def test_max_samples_ends_the_run(lakehouse_pair: tuple[GatewayProcess, GatewayProcess], sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    shadow = Shadow(legacy.url, candidate.url, sqlite_url, ["--no-report", "--max-samples", "64"]).start()
    try:
        sent = send_until_exit(shadow, "/ai/embed", 50)
        code, out, err = shadow.stop(sig=0)
    finally:
        shadow.kill()
    assert code in (0, 3) and out["stopped_by"] == "max_samples" and out["n"] == 64, err
    assert sent < 50

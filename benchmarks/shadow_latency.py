"""Client-visible latency through `farm shadow` against direct to legacy: p50 / p99 at a bounded request rate on
loopback, with mirroring on, mirroring off (--sample-rate 0) and the candidate down (nothing listens there).

    .venv/bin/python benchmarks/shadow_latency.py [--rate 200] [--seconds 12] [--texts 4]

An open loop: requests start on a fixed schedule (--rate per second, for --seconds) whatever the answers take,
each one an embed POST of --texts short texts, so a slow proxy shows as latency, not as a lower rate. The demo
gateways (lakehouse-legacy, lakehouse-candidate) and the proxy are separate processes; the machine is shared, so
the absolute figures move from run to run: compare the rows of one run. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx
import numpy as np

from farm.gateway.process import free_port, spawn


async def load(url: str, rate: float, seconds: float, n_texts: int) -> dict[str, Any]:
    latencies: list[float] = []
    failed = 0
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(i: int) -> None:
            nonlocal failed
            body = {"texts": [f"latency probe {i} text {j}" for j in range(n_texts)]}
            started = time.perf_counter()
            try:
                resp = await client.post(url + "/ai/embed", json=body)
                if resp.status_code != 200:
                    failed += 1
                    return
            except httpx.HTTPError:
                failed += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)

        for i in range(20):  # warm the connections and the gateways
            await one(-i)
        latencies.clear()
        start = time.perf_counter()
        tasks = []
        for i in range(total):  # bounded: rate x seconds requests
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        achieved = total / (time.perf_counter() - start)
    arr = np.array(latencies)
    return {"requests": total, "failed": failed, "achieved_rps": round(achieved, 1),
            "p50_ms": round(float(np.percentile(arr, 50)), 3), "p99_ms": round(float(np.percentile(arr, 99)), 3)}


def shadow_process(legacy: str, candidate: str, db: str, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FARM_DATABASE_URL": db, "FARM_CONFIG": ""}
    proc = subprocess.Popen([sys.executable, "-m", "farm", "shadow", "--probe", "embed", "--legacy", legacy,
                             "--candidate", candidate, "--listen", f"127.0.0.1:{port}", "--no-report", "--json",
                             "--quiet", *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("farm shadow did not start")


def stop(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    text = out.decode().strip()
    return json.loads(text.splitlines()[-1]).get("shadow", {}) if text else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--texts", type=int, default=4)
    args = parser.parse_args()
    results: dict[str, Any] = {"rate": args.rate, "seconds": args.seconds, "texts_per_request": args.texts}
    with tempfile.TemporaryDirectory() as tmp, spawn("lakehouse-legacy") as legacy, \
            spawn("lakehouse-candidate") as candidate:
        db = f"sqlite:///{tmp}/farm.db"
        results["direct"] = asyncio.run(load(legacy.url, args.rate, args.seconds, args.texts))
        dead = f"http://127.0.0.1:{free_port()}"
        for name, cand, extra in (("proxy_mirror_off", candidate.url, ["--sample-rate", "0"]),
                                  ("proxy_mirror_on", candidate.url, []),
                                  ("proxy_candidate_down", dead, [])):
            proc, url = shadow_process(legacy.url, cand, db, extra)
            try:
                results[name] = asyncio.run(load(url, args.rate, args.seconds, args.texts))
            finally:
                counts = stop(proc)
            results[name]["mirror"] = {k: counts.get(k) for k in ("forwarded", "mirrored", "dropped_queue_full",
                                                                    "dropped_proxy_busy", "unsampled")}
    base = results["direct"]["p50_ms"]
    for name in ("proxy_mirror_off", "proxy_mirror_on", "proxy_candidate_down"):
        results[name]["added_p50_ms"] = round(results[name]["p50_ms"] - base, 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

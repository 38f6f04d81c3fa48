"""The shared gateway client's cost for its fault handling, and how long each gateway fault takes to classify.

    .venv/bin/python benchmarks/client_faults.py [--batches 400] [--concurrency 8] [--rounds 3]

1. Overhead: the same batches sent to one demo gateway by `call_gateway` (streamed body with a size cap, a
   request deadline, content-type and body classification) and by the baseline a person would write, and
   what the client did before (one `client.request`, `orjson.loads`, the probe's parser). Best of --rounds
   alternating runs, batches per second and the ratio (target <= 1.05).
2. Faults: for each fault of `farm gateways faults`, the wall time until a batch is classified with the
   default policy's shape at test scale (4 attempts, 1 s read timeout, 2 s deadline, 1 MiB cap, Retry-After
   capped at 1 s), and the class it got.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

from farm.gateway.client import RetryPolicy, Target, call_gateway, make_client
from farm.gateway.faults import FAULTS, FaultPlan, proxy_in_thread
from farm.gateway.process import spawn
from farm.probes import get_probe

ITEMS = [f"benchmark text number {i} with a few more words" for i in range(32)]


async def _farm(url: str, batches: int, concurrency: int) -> float:
    probe = get_probe("embed")
    target = Target("legacy", url, probe.presets["lakehouse-legacy"])
    policy = RetryPolicy()
    sem = asyncio.Semaphore(concurrency)
    async with make_client(concurrency, policy.timeout) as client:

        async def one() -> None:
            async with sem:
                result = await call_gateway(client, probe, target, ITEMS, None, policy)
                assert result.ok

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(batches)))
        return time.perf_counter() - began


async def _baseline(url: str, batches: int, concurrency: int) -> float:
    probe = get_probe("embed")
    profile = probe.presets["lakehouse-legacy"]
    sem = asyncio.Semaphore(concurrency)
    async with make_client(concurrency, 30.0) as client:

        async def one() -> None:
            async with sem:
                body = orjson.dumps(probe.build_request(profile, ITEMS, None, {}))  # per call, as the old client
                resp = await client.request("POST", url + profile.path, content=body,
                                            headers={"content-type": "application/json"})
                value, _errors = probe.parse_response(profile, orjson.loads(resp.content), len(ITEMS))
                assert value.shape[0] == len(ITEMS)

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(batches)))
        return time.perf_counter() - began


async def _classify(url: str) -> tuple[str, int, float]:
    probe = get_probe("embed")
    target = Target("legacy", url, probe.presets["lakehouse-legacy"])
    policy = RetryPolicy(attempts=4, timeout=1.0, deadline=2.0, max_body_bytes=2**20, retry_after_max=1.0)
    async with make_client(2, policy.timeout) as client:
        began = time.perf_counter()
        result = await call_gateway(client, probe, target, ITEMS, None, policy)
        return result.errors[0] or "ok", result.attempts, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with spawn("lakehouse-legacy") as gw:
        asyncio.run(_baseline(gw.url, 50, args.concurrency))  # warm both sides
        farm, base = [], []
        for _ in range(args.rounds):
            base.append(asyncio.run(_baseline(gw.url, args.batches, args.concurrency)))
            farm.append(asyncio.run(_farm(gw.url, args.batches, args.concurrency)))
        b, f = min(base), min(farm)
        print(f"overhead: {args.batches} batches of {len(ITEMS)}, concurrency {args.concurrency}, best of "
              f"{args.rounds}")
        print(f"  baseline (request + loads + parse): {b:6.2f} s  {args.batches / b:7.1f} batches/s")
        print(f"  call_gateway (stream, cap, deadline, classes): {f:6.2f} s  {args.batches / f:7.1f} batches/s")
        print(f"  ratio farm/baseline: {f / b:.3f}")
        print("faults: time to a classified batch (4 attempts, 1 s read timeout, 2 s deadline, 1 MiB cap)")
        for fault in FAULTS:
            plan = FaultPlan([fault], retry_after=0.5, oversize_mb=8, drip_interval=0.05)
            with proxy_in_thread(gw.url, plan) as url:
                error, attempts, seconds = asyncio.run(_classify(url))
            print(f"  {fault:13s} -> {error:17s} attempts {attempts}  {seconds:6.2f} s")


if __name__ == "__main__":
    main()

"""Farm overhead against a bare asyncio + httpx loop, on the same demo gateways and the same inputs.

    .venv/bin/python benchmarks/embed_overhead.py [--samples 10000] [--batch-size 32] [--concurrency 8]

Both runs send the same batches to both gateways with the same concurrency. The bare loop only parses
the vectors and computes cosines; the farm also classifies errors, stores every sample, decides the
verdict and infers the drift catalog. Both are timed as processes from start to exit (interpreter start-up
and imports included on both sides), the farm on a database migrated once beforehand. Prints both wall
times and their ratio (target <= 1.25), best of --rounds alternating runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

import httpx
import numpy as np
import orjson

from farm.corpus import CorpusSpec, batches, iter_items
from farm.gateway.process import spawn
from farm.probes.embed.profile import PRESETS


async def bare_loop(legacy_url: str, candidate_url: str, samples: int, batch_size: int, concurrency: int) -> int:
    """The baseline a person would write: fetch both sides, parse, cosine. Returns samples compared."""
    lp, cp = PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"]
    source = batches(iter_items(CorpusSpec(limit=samples)), batch_size)
    compared = 0
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def lane() -> None:
            nonlocal compared
            for batch in source:  # a shared generator: each lane takes the next batch
                body = orjson.dumps({"texts": batch.items})
                a, b = await asyncio.gather(
                    client.post(legacy_url + lp.path, content=body, headers={"content-type": "application/json"}),
                    client.post(candidate_url + cp.path, content=body, headers={"content-type": "application/json"}),
                )
                va = lp.parse_vectors(orjson.loads(a.content))
                vb = cp.parse_vectors(orjson.loads(b.content))
                cos = (va * vb).sum(1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vb, axis=1)
                compared += int(cos.size)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternate bare/farm this many times; best of each")
    parser.add_argument("--bare", nargs=2, metavar=("LEGACY_URL", "CANDIDATE_URL"),
                        help="run only the bare loop against these gateways (what the benchmark times)")
    args = parser.parse_args()
    if args.bare:
        n = asyncio.run(bare_loop(*args.bare, args.samples, args.batch_size, args.concurrency))
        print(n)
        return
    with spawn("lakehouse-legacy") as legacy, spawn("lakehouse-candidate") as candidate, \
            tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bare_loop(legacy.url, candidate.url, 256, args.batch_size, args.concurrency))  # warm-up
        bare_times, farm_times = [], []
        env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "FARM_CONFIG": ""}
        subprocess.run([sys.executable, "-m", "farm", "db", "upgrade"], env=env, check=True, capture_output=True)
        sizes = ["--samples", str(args.samples), "--batch-size", str(args.batch_size),
                 "--concurrency", str(args.concurrency)]
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            bare = subprocess.run([sys.executable, __file__, "--bare", legacy.url, candidate.url, *sizes],
                                  capture_output=True, text=True, check=True)
            bare_times.append(time.perf_counter() - t0)
            assert int(bare.stdout) == args.samples
            cmd = [sys.executable, "-m", "farm", "sweep", "embed", "--legacy", legacy.url, "--candidate",
                   candidate.url, *sizes, "--no-report", "--quiet", "--json"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            farm_times.append(time.perf_counter() - t0)
            out = orjson.loads(proc.stdout)
            assert out["n"] == args.samples, out
    bare, farm = min(bare_times), min(farm_times)
    print(f"samples={args.samples} batch_size={args.batch_size} concurrency={args.concurrency} rounds={args.rounds}")
    print(f"bare asyncio+httpx loop: {bare:7.2f} s  ({args.samples / bare:8.0f} samples/s)")
    print(f"farm sweep embed (CLI):  {farm:7.2f} s  ({args.samples / farm:8.0f} samples/s)  "
          f"[verdict {out['verdict']}]")
    print(f"ratio farm/bare: {farm / bare:.3f}  (target <= 1.25)")


if __name__ == "__main__":
    main()

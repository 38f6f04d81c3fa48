"""Farm overhead on the search probe against a bare asyncio + httpx loop, same demo gateways, same queries.

    .venv/bin/python benchmarks/search_overhead.py [--samples 10000] [--batch-size 32] [--concurrency 8]

The exact demo pair (brute force over the cached 20,000-document corpus; legacy similarities, candidate
distances). Both runs keep `--concurrency` queries in flight, each sent to both gateways at once. The bare
loop parses both hit lists and computes recall@k; the farm also computes tie-aware recall, Jaccard, RBO,
Kendall tau-b and the score relation, stores every query, decides the verdict and infers the drift catalog.
Both are timed as processes from start to exit (imports included on both sides), the farm on a database
migrated beforehand. Prints both wall times, queries/s and their ratio (target <= 1.1), best of --rounds.
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
import orjson

from farm.gateway.process import spawn
from farm.probes.search.corpus import synthetic_query
from farm.probes.search.profile import PRESETS, SearchProfile


async def bare_loop(legacy_url: str, candidate_url: str, samples: int, concurrency: int, k: int = 10) -> float:
    """The baseline a person would write: both sides per query, parse, recall@k. Returns the mean recall."""
    lp, cp = PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"]
    assert isinstance(lp, SearchProfile) and isinstance(cp, SearchProfile)
    queries = (synthetic_query(0, i) for i in range(samples))
    total, n = 0.0, 0
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def lane() -> None:
            nonlocal total, n
            for q in queries:  # a shared generator: each lane takes the next query
                a, b = await asyncio.gather(
                    client.post(legacy_url + lp.path, content=orjson.dumps(lp.build_request(q, None, k)),
                                headers=headers),
                    client.post(candidate_url + cp.path, content=orjson.dumps(cp.build_request(q, None, k)),
                                headers=headers))
                la, _ = lp.parse_hits(orjson.loads(a.content))
                cb, _ = cp.parse_hits(orjson.loads(b.content))
                total += len(set(la.ids[:k]) & set(cb.ids[:k])) / max(1, min(k, len(la.ids)))
                n += 1

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return total / max(n, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="alternate bare/farm this many times; best of each")
    parser.add_argument("--bare", nargs=2, metavar=("LEGACY_URL", "CANDIDATE_URL"),
                        help="run only the bare loop against these gateways (what the benchmark times)")
    args = parser.parse_args()
    if args.bare:
        print(asyncio.run(bare_loop(*args.bare, args.samples, args.concurrency)))
        return
    with spawn("lakehouse-legacy", probe="search") as legacy, \
            spawn("lakehouse-candidate", probe="search") as candidate, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bare_loop(legacy.url, candidate.url, 200, args.concurrency))  # warm-up (query embeddings)
        bare_times, farm_times = [], []
        env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "FARM_CONFIG": ""}
        subprocess.run([sys.executable, "-m", "farm", "db", "upgrade"], env=env, check=True, capture_output=True)
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            bare = subprocess.run([sys.executable, __file__, "--bare", legacy.url, candidate.url, "--samples",
                                   str(args.samples), "--concurrency", str(args.concurrency)],
                                  capture_output=True, text=True, check=True)
            bare_times.append(time.perf_counter() - t0)
            bare_recall = float(bare.stdout)
            cmd = [sys.executable, "-m", "farm", "sweep", "search", "--legacy", legacy.url, "--candidate",
                   candidate.url, "--samples", str(args.samples), "--batch-size", str(args.batch_size),
                   "--concurrency", str(args.concurrency), "--no-report", "--quiet", "--json"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            farm_times.append(time.perf_counter() - t0)
            out = orjson.loads(proc.stdout)
            assert out["n"] == args.samples, out
    bare_s, farm_s = min(bare_times), min(farm_times)
    print(f"queries={args.samples} batch_size={args.batch_size} concurrency={args.concurrency} rounds={args.rounds}")
    print(f"bare asyncio+httpx loop:  {bare_s:7.2f} s  ({args.samples / bare_s:7.1f} queries/s)  "
          f"[mean recall@10 {bare_recall:.4f}]")
    print(f"farm sweep search (CLI):  {farm_s:7.2f} s  ({args.samples / farm_s:7.1f} queries/s)  "
          f"[verdict {out['verdict']}: {out['reason']}]")
    print(f"ratio farm/bare: {farm_s / bare_s:.3f}  (target <= 1.1)")


if __name__ == "__main__":
    main()

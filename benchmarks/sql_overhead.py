"""The sql probe against a bare asyncio + httpx loop, on the same demo gateways (SQLite against DuckDB over the
demo dataset) and the same 10,000 statements, with the same concurrency.

    .venv/bin/python benchmarks/sql_overhead.py [--samples 10000] [--concurrency 8] [--rows 200000]

The bare loop posts each statement to both gateways and compares the rows as sorted lists (what a person would
write first); the farm also reads every statement with sqlglot, compares values by type with tolerances and tie
rules, classifies the differences, stores every sample, decides the verdict and infers the drift catalog. Both
are timed as processes from start to exit, one run each (baseline first).
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
from farm.probes.sql.corpus import statement


async def bare_loop(legacy_url: str, candidate_url: str, samples: int, concurrency: int) -> tuple[int, int]:
    """(statements compared, statements whose sorted rows differ)."""
    todo = iter(range(samples))
    compared = differ = 0
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def lane() -> None:
            nonlocal compared, differ
            for idx in todo:
                sql = statement(0, idx)
                a, b = await asyncio.gather(client.post(legacy_url + "/query", json={"sql": sql}),
                                            client.post(candidate_url + "/v1/sql", json={"query": sql}))
                if a.status_code == 200 and b.status_code == 200:
                    rows_a = orjson.loads(a.content)["rows"]
                    doc = orjson.loads(b.content)
                    names = [c["name"] for c in doc["schema"]]
                    rows_b = [[r[n] for n in names] for r in doc["data"]]
                    differ += sorted(map(repr, rows_a)) != sorted(map(repr, rows_b))
                else:
                    differ += a.status_code != b.status_code
                compared += 1

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return compared, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--bare", nargs=2, metavar=("LEGACY_URL", "CANDIDATE_URL"))
    args = parser.parse_args()
    if args.bare:
        print(*asyncio.run(bare_loop(*args.bare, args.samples, args.concurrency)))
        return
    data = ("--rows", str(args.rows))
    with spawn("lakehouse-legacy", *data, probe="sql") as legacy, \
            spawn("lakehouse-candidate", "--engine", "duckdb", *data, probe="sql") as candidate, \
            tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bare_loop(legacy.url, candidate.url, 200, args.concurrency))  # warm-up
        env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "FARM_CONFIG": ""}
        subprocess.run([sys.executable, "-m", "farm", "db", "upgrade"], env=env, check=True, capture_output=True)
        t0 = time.perf_counter()
        bare = subprocess.run([sys.executable, __file__, "--bare", legacy.url, candidate.url, "--samples",
                               str(args.samples), "--concurrency", str(args.concurrency)], capture_output=True,
                              text=True, check=True)
        bare_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "farm", "sweep", "sql", "--legacy", legacy.url, "--candidate",
                               candidate.url, "--samples", str(args.samples), "--concurrency", str(args.concurrency),
                               "--no-report", "--quiet", "--json"], env=env, capture_output=True, text=True)
        farm_s = time.perf_counter() - t0
        out = orjson.loads(proc.stdout)
    n, differ = map(int, bare.stdout.split())
    print(f"statements={args.samples} concurrency={args.concurrency} rows={args.rows} (sqlite vs duckdb), one run each")
    print(f"bare asyncio+httpx loop: {bare_s:7.2f} s  ({n / bare_s:7.0f} statements/s; {differ:,} differ as "
          "sorted rows)")
    print(f"farm sweep sql (CLI):    {farm_s:7.2f} s  ({args.samples / farm_s:7.0f} statements/s; "
          f"{out['disagreements']:,} disagreements of {out['n']:,} judged, {out['statistics']['nondeterministic']:,} "
          f"nondeterministic) [verdict {out['verdict']}]")
    print(f"classes: {out['statistics']['classes']}")
    print(f"ratio farm/bare: {farm_s / bare_s:.3f}")


if __name__ == "__main__":
    main()

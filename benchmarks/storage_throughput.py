"""Storage probe throughput in MiB/s against the same store read directly, same objects, same concurrency.

    .venv/bin/python benchmarks/storage_throughput.py [--objects 16] [--mib 8] [--concurrency 4]

A moto S3 server in a child process holds `--objects` objects of `--mib` MiB. The baseline reads every object
twice straight from the store with boto3 (one read per side of a comparison), streaming and hashing; a bare
httpx loop GETs every object through both demo gateways in front of that store, streaming and hashing (what the
gateways' own hop costs); the farm sweeps the same keys through the same gateways (HEAD, GET hashed as it
streams, and ranged reads for one object in four, per side). MiB/s counts each object's bytes once per side.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson

from farm.gateway.process import spawn
from farm.probes.storage.store import BUCKET, moto_server, s3_client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=16)
    parser.add_argument("--mib", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    keys = [f"bench/object-{i:03d}.bin" for i in range(args.objects)]
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        blob = os.urandom(size)
        for key in keys:
            s3.put_object(Bucket=BUCKET, Key=key, Body=blob)

        def read(key: str) -> int:
            h, n = hashlib.sha256(), 0
            for chunk in s3.get_object(Bucket=BUCKET, Key=key)["Body"].iter_chunks(256 * 1024):
                h.update(chunk)
                n += len(chunk)
            return n

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            total = sum(pool.map(read, keys + keys))
        direct_s = time.perf_counter() - t0
        corpus = os.path.join(tmp, "keys.txt")
        with open(corpus, "w") as fh:
            fh.write("\n".join(keys) + "\n")
        s3_args = ("--s3-endpoint", endpoint)
        with spawn("lakehouse-legacy", *s3_args, probe="storage") as legacy, \
                spawn("lakehouse-candidate", *s3_args, probe="storage") as candidate:
            urls = [legacy.url + f"/storage/{BUCKET}/" + k for k in keys] + \
                [candidate.url + f"/v1/storage/{BUCKET}/" + k for k in keys]
            with httpx.Client(timeout=60.0, limits=httpx.Limits(max_connections=args.concurrency)) as client:

                def through(url: str) -> int:
                    h, n = hashlib.sha256(), 0
                    with client.stream("GET", url) as resp:
                        for chunk in resp.iter_raw(256 * 1024):
                            h.update(chunk)
                            n += len(chunk)
                    return n

                t0 = time.perf_counter()
                with ThreadPoolExecutor(args.concurrency) as pool:
                    through_total = sum(pool.map(through, urls))
                bare_s = time.perf_counter() - t0
            assert through_total == total, (through_total, total)
            env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "FARM_CONFIG": ""}
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "farm", "sweep", "storage", "--legacy", legacy.url,
                                   "--candidate", candidate.url, "--corpus", corpus, "--batch-size", "1",
                                   "--concurrency", str(args.concurrency), "--no-report", "--quiet", "--json"],
                                  env=env, capture_output=True, text=True)
            farm_s = time.perf_counter() - t0
            out = orjson.loads(proc.stdout)
    mib = total / 2**20
    print(f"objects={args.objects} x {args.mib} MiB, concurrency={args.concurrency}; {mib:,.0f} MiB read per run "
          "(each object once per side)")
    print(f"direct from the store (boto3, streamed + sha256): {direct_s:6.2f} s  {mib / direct_s:7.1f} MiB/s")
    print(f"bare httpx GETs through both gateways:            {bare_s:6.2f} s  {mib / bare_s:7.1f} MiB/s")
    print(f"farm sweep storage (CLI, two gateways):           {farm_s:6.2f} s  {mib / farm_s:7.1f} MiB/s  "
          f"[{out['n']} compared, {out['disagreements']} disagreements, {out['errors']} errors]")
    print(f"ratio farm/direct (time): {farm_s / direct_s:.2f}; farm/bare through the gateways: {farm_s / bare_s:.2f}")


if __name__ == "__main__":
    main()

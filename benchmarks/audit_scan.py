"""Benchmark: `farm audit` on a generated root against a bare orjson line scan of the same files.

    .venv/bin/python benchmarks/audit_scan.py [--rows 1000000] [--repeat 3]

Generates a root in a temporary directory (removed afterwards), then times, best of `--repeat`:
the full audit (all eight phases, one shared scan, the CLI's code path), and a bare scan that reads every
JSON Lines file of the root line by line and parses each line with orjson. Prints both and the ratio
(target: within 2x).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

from farm.audit import run_audit
from farm.audit.fixtures import generate_root


def bare_scan(root: Path) -> int:
    n = 0
    loads = orjson.loads
    for path in sorted(root.rglob("*.jsonl")):
        with open(path, "rb") as fh:
            for line in fh:
                loads(line)
                n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="farm-audit-bench-"))
    try:
        t0 = time.perf_counter()
        counts = generate_root(tmp / "root", args.rows)
        print(f"generated {sum(counts.values()):,} rows in {time.perf_counter() - t0:.2f}s")
        audit_times, bare_times = [], []
        lines = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            report = run_audit(str(tmp / "root"))
            audit_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            lines = bare_scan(tmp / "root")
            bare_times.append(time.perf_counter() - t0)
        audit, bare = min(audit_times), min(bare_times)
        print(f"audit: {audit:.3f}s ({'PASS' if report.passed else 'FAIL'}, {report.metrics['p1_records']:,} records)")
        print(f"bare orjson scan: {bare:.3f}s ({lines:,} lines)")
        print(f"ratio audit/bare: {audit / bare:.2f}x (target <= 2x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

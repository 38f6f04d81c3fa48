"""How fast `farm ui` answers with 1,000 sweeps and 1M samples in the database (target: < 200 ms a page).

    .venv/bin/python benchmarks/ui_pages.py [--url postgresql://...] [--sweeps 1000] [--samples 1000000] [--runs 15]

Without --url it creates a scratch Postgres database on 127.0.0.1:5432 (dropped afterwards). One real small
sweep between the demo gateways gives the template of every stored sweep (its parameters, verdict detail and
drift catalog, so rows are the real size); the rest is bulk-inserted with the farm's own COPY path
(`farm.store.sweeps.insert_new`): 25 endpoints x 2 gateway pairs, 1% of sweeps still running, one of them
holding a tenth of all samples (the big running sweep whose live status is polled). Each page is then
requested `--runs` times from a real `farm ui` process over HTTP (after two warm-ups); the median and the
slowest are printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from sqlalchemy import func, select, update

from farm.gateway.process import free_port, spawn
from farm.probes import get_probe
from farm.store.db import transaction, upgrade
from farm.store.models import AuditBaseline, DriftFinding, Sample, Sweep, Verdict
from farm.store.probe_tables import probe_table
from farm.store.sweeps import get_sweep, insert_new, load_outcome

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ENDPOINTS, PAIRS = 25, 2
CHUNK = 100_000


def template(url: str) -> tuple[Sweep, Verdict, list[DriftFinding]]:
    """A real sweep's rows, to copy: the demo pair, 300 samples."""
    with spawn("lakehouse-legacy") as legacy, spawn("lakehouse-candidate") as candidate:
        env = {**os.environ, "FARM_DATABASE_URL": url, "FARM_CONFIG": ""}
        subprocess.run([sys.executable, "-m", "farm", "sweep", "embed", "--legacy", legacy.url, "--candidate",
                        candidate.url, "--samples", "300", "--quiet", "--no-report"], env=env, check=False,
                       capture_output=True, timeout=300)
    with transaction(url) as s:
        sweep_id = s.query(Sweep.id).scalar()
    sweep = get_sweep(url, sweep_id)
    verdict, findings = load_outcome(url, sweep_id)
    assert verdict is not None, "the template sweep has no verdict"
    return sweep, verdict, findings


def _params(params: dict[str, Any], pair: int) -> dict[str, Any]:
    """The template's parameters, its gateways moved to the pair's hosts (what the sign-off matches on)."""
    spec = params.get("spec") or {}
    moved = {side: {**(spec.get(side) or {}), "url": f"http://10.0.{pair}.{n}:810{n}"}
             for n, side in ((1, "legacy"), (2, "candidate"))}
    return {**params, "spec": {**spec, **moved}}


def fill(url: str, sweeps: int, samples: int, rng: np.random.Generator) -> tuple[str, str]:
    """Insert the sweeps; returns (a decided sweep id, the big running sweep id)."""
    base, verdict, findings = template(url)
    embed = probe_table(get_probe("embed"))
    assert embed is not None
    start = datetime.now(UTC) - timedelta(days=60)
    running = max(1, sweeps // 100)
    big = samples // 10
    per = (samples - big) // (sweeps - 1)
    sizes = [per] * (sweeps - 1) + [samples - big - per * (sweeps - 1) + big]
    sweep_rows, verdict_rows, finding_rows = [], [], []
    ids = []
    for i in range(sweeps):
        sid = f"bench-{i:05d}-{secrets.token_hex(3)}"
        ids.append(sid)
        ep, pair = i % ENDPOINTS, (i // ENDPOINTS) % PAIRS
        when = start + timedelta(minutes=80 * i)
        is_running = i >= sweeps - running
        sweep_rows.append({
            "id": sid, "probe": "embed", "legacy": f"legacy{pair}", "candidate": f"candidate{pair}",
            "legacy_url": f"http://10.0.{pair}.1:8101/ai/embed{ep}",
            "candidate_url": f"http://10.0.{pair}.2:8102/v1/embed{ep}", "legacy_profile": base.legacy_profile,
            "candidate_profile": base.candidate_profile, "model": None, "corpus": base.corpus, "mode": "embedded",
            "status": "running" if is_running else "done", "params": _params(base.params, pair),
            "planned": sizes[i] + 1000, "batches_total": None, "batches_done": 0, "created_at": when,
            "finished_at": None if is_running else when + timedelta(minutes=5)})
        if not is_running:
            outcome = ("PASS", "FAIL", "INCONCLUSIVE")[int(rng.integers(0, 3))]
            detail = {**verdict.detail, "lower": float(rng.uniform(0, 0.001)), "upper": float(rng.uniform(0.001, 0.01))}
            verdict_rows.append({"sweep_id": sid, "outcome": outcome, "reason": verdict.reason, "n": sizes[i],
                                 "disagreements": int(rng.integers(0, 5)), "errors": 0, "detail": detail,
                                 "created_at": when + timedelta(minutes=5)})
            finding_rows += [{"sweep_id": sid, "endpoint": f.endpoint, "kind": f.kind, "field": f.field,
                              "legacy": f.legacy, "candidate": f.candidate, "detail": f.detail} for f in findings]
    engine_url = url
    with transaction(engine_url) as s:
        conn = s.connection()
        # JSON columns through COPY need their text form; the ORM's executemany handles the JSON type itself.
        conn.execute(Sweep.__table__.insert(), sweep_rows)
        conn.execute(Verdict.__table__.insert(), verdict_rows)
        conn.execute(DriftFinding.__table__.insert(), finding_rows)
    sample_cols = {"legacy_error": None}
    for i, sid in enumerate(ids):
        n = sizes[i]
        score = 1.0 - rng.exponential(1e-5, n)
        errors = rng.random(n) < 0.002
        rows = [{"sweep_id": sid, "idx": j, "batch_no": j // 32, "input_sha": f"{j:016x}",
                 **sample_cols, "candidate_error": "timeout" if errors[j] else None,
                 "score": None if errors[j] else float(score[j]),
                 "agreed": None if errors[j] else bool(score[j] >= 0.9999),
                 "latency_legacy_ms": float(rng.gamma(4, 20)), "latency_candidate_ms": float(rng.gamma(4, 22))}
                for j in range(n)]
        own = [{"sweep_id": sid, "idx": j, "norm_legacy": 1.0, "norm_candidate": float(rng.normal(20, 0.5)),
                "norm_ratio": 20.0, "max_abs_diff": float(rng.uniform(0, 0.01)), "dim_legacy": 768,
                "dim_candidate": 768} for j in range(n)]
        for k in range(0, n, CHUNK):
            with transaction(engine_url) as s:
                conn = s.connection()
                insert_new(conn, Sample, rows[k:k + CHUNK])
                insert_new(conn, embed, own[k:k + CHUNK])
        if i % 100 == 0:
            print(f"  filled {i + 1:,} sweeps", file=sys.stderr, flush=True)
    with transaction(engine_url) as s:
        roots = [f"/data/root{r}" for r in range(5)]
        rows_a = []
        for r, root in enumerate(roots):
            for seq in range(60):
                metrics = {f"p{m % 8}_metric_{m}": int(1000 + rng.integers(-3, 4)) for m in range(30)}
                rows_a.append({"log_path": f"{root}/data/_kb/audit_baselines.jsonl", "seq": seq,
                               "run_id": f"run-{r}-{seq}", "host": "bench", "root": root,
                               "implementation": "farm-python", "recorded_at": f"2026-11-{1 + seq % 28:02d}",
                               "metrics": metrics, "line": "{}"})
        s.connection().execute(AuditBaseline.__table__.insert(), rows_a)
    if engine_url.startswith("postgresql"):
        with psycopg.connect(engine_url.replace("+psycopg", ""), autocommit=True) as c:
            c.execute("ANALYZE")  # what autovacuum would do soon after a load like this
    return ids[sweeps - running - 1], ids[-1]


def reuse(url: str) -> tuple[str, str]:
    """(a decided sweep, the biggest running sweep) of a database an earlier run filled."""
    with transaction(url) as s:
        decided = s.scalars(select(Verdict.sweep_id).where(Verdict.sweep_id.startswith("bench-"))
                            .order_by(Verdict.sweep_id.desc()).limit(1)).one()
        big = s.scalars(select(Sample.sweep_id).group_by(Sample.sweep_id).order_by(func.count().desc())
                        .limit(1)).one()
    return decided, big


def serve(url: str, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "farm", "ui", "--port", str(port)], stdout=out,
                            stderr=subprocess.STDOUT, env={**os.environ, "FARM_DATABASE_URL": url, **env})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/static/live.js", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"farm ui did not start: {log.read_text()}")


def touch_verdict(url: str) -> None:
    """A verdict written anew (as a re-finalised sweep's is): the board's cached rows no longer hold."""
    with transaction(url) as s:
        sid = s.scalars(select(Verdict.sweep_id).limit(1)).one()
        s.execute(update(Verdict).where(Verdict.sweep_id == sid).values(created_at=datetime.now(UTC)))


def time_pages(base: str, pages: list[tuple[str, str, Callable[[], None] | None]], runs: int) -> None:
    with httpx.Client(timeout=60) as client:
        for label, path, before in pages:
            for _ in range(2):
                assert client.get(base + path).status_code == 200, path
            times = []
            for _ in range(runs):
                if before is not None:
                    before()
                t0 = time.perf_counter()
                r = client.get(base + path)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
            print(f"| {label} | `{path[:60]}` | {statistics.median(times):.1f} | {max(times):.1f} | "
                  f"{len(r.content) / 1024:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database to fill (default: a scratch Postgres database)")
    parser.add_argument("--sweeps", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--reuse", action="store_true", help="--url was filled by an earlier run: time it again")
    args = parser.parse_args()
    scratch = None
    url = args.url
    if url is None:
        scratch = f"farm_bench_ui_{secrets.token_hex(3)}"
        with psycopg.connect(ADMIN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{scratch}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{scratch}"
    try:
        upgrade(url)
        if args.reuse:
            decided, big = reuse(url)
        else:
            t0 = time.perf_counter()
            decided, big = fill(url, args.sweeps, args.samples, np.random.default_rng(7))
            print(f"filled {args.sweeps:,} sweeps, {args.samples:,} samples in {time.perf_counter() - t0:.0f}s "
                  f"({url.split('@')[-1]})")
        with tempfile.TemporaryDirectory() as tmp:
            plan = Path(tmp) / "farm.toml"
            plan.write_text('[signoff]\ncreated = 2020-01-01T00:00:00Z\n\n'
                            + "".join(f'[signoff.endpoints.e{e}]\nprobe = "embed"\nlegacy = "http://10.0.0.1:8101"\n'
                                      f'candidate = "http://10.0.0.2:8102"\nlegacy_path = "/ai/embed{e}"\n'
                                      f'candidate_path = "/v1/embed{e}"\n\n' for e in range(ENDPOINTS)))
            print("| page | path | median ms | slowest ms | KiB |")
            print("|---|---|---|---|---|")
            cold = partial(touch_verdict, url)
            runs: list[tuple[dict[str, str], list[tuple[str, str, Callable[[], None] | None]]]] = [
                ({"FARM_CONFIG": ""}, [
                    ("board", "/", None), ("board, cold (a verdict rewritten before each request)", "/", cold),
                    ("sweep (decided)", f"/sweeps/{decided}", None),
                    ("sweep (running, 100k samples)", f"/sweeps/{big}", None),
                    ("adapter.json", f"/sweeps/{decided}/adapter.json", None),
                    ("status (running, 100k samples)", f"/api/sweeps/{big}/status", None),
                    ("status (decided)", f"/api/sweeps/{decided}/status", None), ("audits", "/audits", None)]),
                ({"FARM_CONFIG": str(plan)}, [("board with a 25-endpoint sign-off plan", "/", None),
                                              ("the same, cold", "/", cold)]),
            ]
            for env, pages in runs:
                proc, base = serve(url, Path(tmp) / "ui.log", env)
                try:
                    time_pages(base, pages, args.runs)
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
    finally:
        if scratch is not None:
            from farm.store.db import dispose_all

            dispose_all()
            with psycopg.connect(ADMIN, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


if __name__ == "__main__":
    main()

"""Distributed-mode overhead (Celery + Redis + Postgres) against the bare asyncio + httpx loop, and a big sweep.

    .venv/bin/python benchmarks/distributed_overhead.py [--samples 10000] [--rounds 2] [--big 200000]

In one run: two demo gateways, a fresh Postgres database (migrated with `farm db upgrade`, dropped at the
end), Redis db --redis-db (flushed before and after) and three Celery workers (probe.legacy, probe.candidate,
farm.aggregate) exactly as `farm stack up` starts them (farm/stack.py; -l warning), started once like the
long-lived services they are. Then:

1. `--samples` inputs, alternating `embed_overhead.py --bare` (the bare loop) and `farm sweep embed
   --distributed`, both timed as processes from start to exit; best of --rounds each, and the ratio
   (target <= 1.5), with the CPU seconds of every process and of the whole machine (Redis and Postgres
   included) during each. Each distributed sweep must have stored exactly `--samples` samples.
   `--latency-ms` makes the demo gateways answer later, as a real model does: the comparison is then
   bound by waiting, not by this machine's CPU, which the gateways share with everything else here.
2. `--big` inputs (0 skips it) through `farm sweep embed --distributed`: throughput, and the peak memory of
   the producer and of each worker (PSS of each process tree sampled every 0.5 s from /proc, so pages the
   prefork children share with their parent count once; plus the kernel's RSS high-water marks), and a
   check that the sweep stored exactly `--big` samples.

Needs Postgres (trust auth) and Redis on 127.0.0.1; every other socket is loopback too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg
import redis
from celery import Celery

from farm.gateway.process import GatewayProcess, spawn
from farm.stack import services, start_process, stop_pid

ROOT = Path(__file__).resolve().parent.parent
BARE = ROOT / "benchmarks" / "embed_overhead.py"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TICK = os.sysconf("SC_CLK_TCK")  # clock ticks per second, the unit of /proc/<pid>/stat times


# ---- /proc: process trees, resident memory, CPU time --------------------------------------------------------


def _processes() -> Iterator[tuple[int, bytes, int]]:
    """(pid, command name, parent pid) of every process, from /proc/<pid>/stat."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        close = stat.rindex(b")")
        yield int(entry.name), stat[stat.index(b"(") + 1:close], int(stat[close + 2:].split()[1])


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, _comm, ppid in _processes():
        children.setdefault(ppid, []).append(pid)
    return children


def tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def pss_kib(pid: int) -> int:
    """Proportional set size: resident memory with pages shared between processes (a prefork worker's
    children share the parent's) split among them, so a tree's sum counts each page once; 0 when gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kib(pid: int, children: dict[int, list[int]] | None = None) -> int:
    return sum(pss_kib(p) for p in tree(pid, _children_map() if children is None else children))


def status_kib(pid: int, key: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM); 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(key.encode() + b":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process tree so far (its reaped children included)."""
    total = 0.0
    for p in tree(pid, _children_map()):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        total += sum(int(v) for v in fields[11:15]) / TICK  # utime stime cutime cstime
    return total


@dataclass
class RssSampler:
    """Samples the memory (PSS) of watched process trees every `interval` seconds; keeps each tree's peak."""

    interval: float = 0.5
    roots: dict[str, int] = field(default_factory=dict)
    peak_kib: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def watch(self, name: str, pid: int) -> None:
        self.roots[name] = pid

    def sample(self) -> None:
        children = _children_map()
        for name, pid in list(self.roots.items()):
            rss = tree_pss_kib(pid, children)
            self.peak_kib[name] = max(self.peak_kib.get(name, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# ---- the pieces: database, broker, workers, timed processes ------------------------------------------------


@dataclass
class Workers:
    """The three Celery worker processes, sharing one environment; `stop()` ends them all."""

    tmp: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, broker_url: str, timeout: float, processes: int | None) -> None:
        host = socket.gethostname()
        for service in services():
            if not service.name.startswith("worker-"):
                continue
            name, argv = service.name.removeprefix("worker-"), list(service.argv)
            argv[argv.index("-l") + 1] = "warning"  # the stack's workers as `farm stack up` runs them, quieter
            if processes is not None:
                argv[argv.index("--concurrency") + 1] = str(processes)
            self.procs[name] = start_process(argv, self.tmp / f"{name}.log", self.env, cwd=ROOT)
        # At -l warning a worker logs no "ready." line: ask each one for a pong over the broker instead.
        app = Celery("bench-ping", broker=broker_url)
        waiting = {f"{name}@{host}" for name in self.procs}
        deadline = time.monotonic() + timeout
        try:
            while waiting:
                for name, proc in self.procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"worker {name} exited with {proc.returncode}:\n{self.tail(name)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers not ready within {timeout:.0f}s: {sorted(waiting)}\n"
                                       + "\n".join(self.tail(n) for n in self.procs))
                for reply in app.control.ping(destination=sorted(waiting), timeout=1.0):
                    waiting -= set(reply)
        finally:
            app.close()

    def tail(self, name: str, chars: int = 3000) -> str:
        log = self.tmp / f"{name}.log"
        return f"--- {name}.log ---\n" + (log.read_text(errors="replace")[-chars:] if log.exists() else "(none)")

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_pid(proc.pid)  # SIGTERM to the process group, SIGKILL after 15 s
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()


@dataclass
class Run:
    """A finished timed process: wall seconds, its own peak RSS and CPU (from wait4), stdout."""

    wall: float
    maxrss_kib: int
    cpu: float
    stdout: str


def timed(argv: list[str], env: dict[str, str], timeout: float, sampler: RssSampler | None = None,
          name: str = "producer") -> Run:
    """Run `argv` to completion, timed from spawn to exit; reaped with wait4 for its kernel rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                                start_new_session=True)
        if sampler is not None:
            sampler.watch(name, proc.pid)
        deadline = time.monotonic() + timeout
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    wall = time.perf_counter() - t0
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{argv[2:5]} still running after {timeout:.0f}s")
                time.sleep(0.005)
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if sampler is not None:
        sampler.roots.pop(name, None)
    # `farm sweep` exits 0 PASS, 1 FAIL, 3 INCONCLUSIVE: the payload is checked by the caller, not the code.
    if proc.returncode not in (0, 1, 3):
        raise RuntimeError(f"{argv} exited with {proc.returncode}:\n{stderr[-3000:]}")
    return Run(wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, stdout)


@dataclass
class BigSweep:
    run: Run
    verdict: str
    peak_kib: dict[str, int]  # sampled, per process tree: producer and each worker
    start_kib: dict[str, int]  # workers' RSS just before the sweep
    hwm_kib: dict[str, int]  # workers' VmHWM (kernel high-water mark since start), summed over each tree


def stored_samples(conninfo: str, sweep_id: str) -> tuple[int, int, int, int]:
    """count, distinct idx, min idx, max idx of a sweep's samples."""
    with psycopg.connect(conninfo, connect_timeout=10) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT idx), min(idx), max(idx) FROM samples "
                           "WHERE sweep_id = %s", (sweep_id,)).fetchone()
    assert row is not None
    return tuple(int(v) if v is not None else -1 for v in row)  # type: ignore[return-value]


def check_sweep(out: dict[str, object], n: int, conninfo: str) -> None:
    got = stored_samples(conninfo, str(out["sweep_id"]))
    if out.get("n") != n or got != (n, n, 0, n - 1):
        raise AssertionError(f"sweep {out.get('sweep_id')}: CLI n={out.get('n')}, stored (count, distinct, "
                             f"min, max) = {got}, expected ({n}, {n}, 0, {n - 1})")


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (all processes: Redis and Postgres included)."""
    with open("/proc/stat", "rb") as f:
        jiffies = [int(v) for v in f.readline().split()[1:]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / TICK  # all but idle and iowait


def service_pid(comm: str) -> int | None:
    """The root process of a local service (`postgres`, `redis-server`): the one whose parent is not one too."""
    found = {pid: ppid for pid, name, ppid in _processes() if name == comm.encode()}
    roots = [pid for pid, ppid in found.items() if ppid not in found]
    return min(roots) if roots else None


def gateways_cpu(*gateways: GatewayProcess) -> float:
    return sum(cpu_seconds(g.proc.pid) for g in gateways if g.proc is not None)


def cpu_of(workers: Workers, *gateways: GatewayProcess) -> dict[str, float]:
    cpu = {name: cpu_seconds(p.pid) for name, p in workers.procs.items()}
    cpu["gateways"] = gateways_cpu(*gateways)
    for service in ("postgres", "redis-server"):
        pid = service_pid(service)
        if pid is not None:  # backends that ended are in the root's reaped-children times
            cpu[service] = cpu_seconds(pid)
    cpu["machine"] = machine_busy()
    return cpu


def farm_toml(path: Path, legacy: GatewayProcess, candidate: GatewayProcess) -> Path:
    path.write_text(f'[gateways.legacy]\nurl = "{legacy.url}"\nprofile = "lakehouse-legacy"\n\n'
                    f'[gateways.candidate]\nurl = "{candidate.url}"\nprofile = "lakehouse-candidate"\n')
    return path


def mib(kib: int) -> str:
    return f"{kib / 1024:7.1f} MiB"


# ---- the benchmark ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="inputs of the bare-vs-distributed comparison")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8,
                        help="bare loop lanes (each worker process keeps up to 8 connections to its gateway)")
    parser.add_argument("--rounds", type=int, default=2, help="alternate bare/distributed this many times; best of")
    parser.add_argument("--big", type=int, default=200_000, help="inputs of the big distributed sweep (0: skip)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="demo gateways answer this much later (a real model's time per batch; 0: CPU-bound)")
    parser.add_argument("--batches-per-task", type=int, default=None,
                        help="batches per Celery message (default: the CLI's)")
    parser.add_argument("--worker-processes", type=int, default=None,
                        help="processes of each worker (default: the stack's, farm/stack.py)")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database used as broker (flushed)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed to each comparison run")
    parser.add_argument("--big-timeout", type=float, default=None,
                        help="seconds allowed to the big sweep (default 300 + 10 ms per sample)")
    args = parser.parse_args()
    big_timeout = args.big_timeout or 300.0 + args.big / 100

    py = sys.executable
    db_name = f"farm_bench_{os.getpid()}_{secrets.token_hex(3)}"
    conninfo = f"postgresql://postgres@127.0.0.1:5432/{db_name}"
    broker_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    broker = redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db, socket_timeout=10)
    load_before = os.getloadavg()
    sizes = ["--batch-size", str(args.batch_size)]
    per_task = ["--batches-per-task", str(args.batches_per_task)] if args.batches_per_task else []
    bare_times: list[float] = []
    bare_busy: list[float] = []  # the whole machine's busy CPU seconds during each bare run
    bare_gw: list[float] = []  # the gateways' CPU seconds during each bare run
    dist_runs: list[Run] = []
    worker_cpu: list[dict[str, float]] = []
    big: BigSweep | None = None

    with contextlib.ExitStack() as stack:
        knobs = ["--latency-ms", str(args.latency_ms)] if args.latency_ms else []
        legacy = stack.enter_context(spawn("lakehouse-legacy", *knobs))
        candidate = stack.enter_context(spawn("lakehouse-candidate", *knobs))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="farm-bench-")))
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{db_name}"')

        def drop_db() -> None:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

        stack.callback(drop_db)
        broker.flushdb()
        stack.callback(broker.flushdb)
        env = {**os.environ, "FARM_CONFIG": str(farm_toml(tmp / "farm.toml", legacy, candidate)),
               "FARM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db_name}",
               "FARM_BROKER_URL": broker_url}
        subprocess.run([py, "-m", "farm", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True,
                       timeout=120)
        workers = Workers(tmp, env)
        stack.callback(workers.stop)
        try:
            workers.start(broker_url, timeout=90, processes=args.worker_processes)

            def sweep(n: int) -> list[str]:
                return [py, "-m", "farm", "sweep", "embed", "--legacy", "legacy", "--candidate", "candidate",
                        "--samples", str(n), *sizes, *per_task, "--distributed", "--json", "--quiet", "--no-report"]

            def bare(n: int) -> list[str]:
                return [py, str(BARE), "--bare", legacy.url, candidate.url, "--samples", str(n), *sizes,
                        "--concurrency", str(args.concurrency)]

            # Warm-up, untimed: gateways, worker threads' event loops and pools, the database's caches.
            warm = timed(sweep(20 * args.batch_size), env, args.timeout)
            check_sweep(orjson.loads(warm.stdout), 20 * args.batch_size, conninfo)
            timed(bare(20 * args.batch_size), env, args.timeout)

            print(f"comparison: {args.samples} samples, batch {args.batch_size}, {args.rounds} rounds, gateway latency "
                  f"{args.latency_ms:g} ms "
                  f"(load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
                  f"{os.cpu_count()} CPUs)", flush=True)
            for i in range(args.rounds):
                busy0, gw0 = machine_busy(), gateways_cpu(legacy, candidate)
                run = timed(bare(args.samples), env, args.timeout)
                bare_busy.append(machine_busy() - busy0)
                bare_gw.append(gateways_cpu(legacy, candidate) - gw0)
                assert int(run.stdout) == args.samples, run.stdout
                bare_times.append(run.wall)
                cpu0 = cpu_of(workers, legacy, candidate)
                run = timed(sweep(args.samples), env, args.timeout)
                out = orjson.loads(run.stdout)
                check_sweep(out, args.samples, conninfo)
                cpu1 = cpu_of(workers, legacy, candidate)
                dist_runs.append(run)
                worker_cpu.append({k: cpu1[k] - cpu0[k] for k in cpu0} | {"producer": run.cpu})
                print(f"  round {i + 1}: bare {bare_times[-1]:6.2f} s [cpu s: gateways {bare_gw[-1]:.1f}, machine "
                      f"{bare_busy[-1]:.1f}]   "
                      f"distributed {run.wall:6.2f} s   "
                      f"[verdict {out['verdict']}, cpu s: "
                      + ", ".join(f"{k} {v:.1f}" for k, v in worker_cpu[-1].items()) + "]", flush=True)

            if args.big > 0:
                print(f"big sweep: {args.big} samples (timeout {big_timeout:.0f} s)", flush=True)
                start_kib = {name: tree_pss_kib(p.pid) for name, p in workers.procs.items()}
                with RssSampler() as sampler:
                    for name, proc in workers.procs.items():
                        sampler.watch(name, proc.pid)
                    run = timed(sweep(args.big), env, big_timeout, sampler)
                out = orjson.loads(run.stdout)
                check_sweep(out, args.big, conninfo)
                big = BigSweep(run, str(out["verdict"]), dict(sampler.peak_kib), start_kib,
                               {name: sum(status_kib(q, "VmHWM") for q in tree(p.pid, _children_map()))
                                for name, p in workers.procs.items()})
        except BaseException:
            print("\n".join(workers.tail(n) for n in workers.procs), file=sys.stderr)
            raise

    load_after = os.getloadavg()
    best_bare, best = min(bare_times), min(dist_runs, key=lambda r: r.wall)
    ratio = best.wall / best_bare
    print("\n==== distributed overhead: summary ====")
    print(f"machine: {os.cpu_count()} CPUs, load average 1/5/15 min before {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}")
    print(f"{args.samples} samples, batch {args.batch_size}, gateway latency {args.latency_ms:g} ms, "
          f"best of {args.rounds}:")
    print(f"  bare asyncio+httpx loop (process): {best_bare:7.2f} s  ({args.samples / best_bare:7.0f} samples/s)")
    print(f"  farm sweep --distributed (process): {best.wall:6.2f} s  ({args.samples / best.wall:7.0f} samples/s)")
    print(f"  ratio distributed/bare: {ratio:.2f}x  (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")
    best_cpu = worker_cpu[dist_runs.index(best)]
    print("  CPU s during the best distributed run: " + ", ".join(f"{k} {v:.1f}" for k, v in best_cpu.items())
          + f"  (machine: all processes, Redis and Postgres included; {os.cpu_count()} CPUs x {best.wall:.2f} s = "
          f"{(os.cpu_count() or 1) * best.wall:.1f} available)")
    at = bare_times.index(best_bare)
    print(f"  CPU s during the best bare run: gateways {bare_gw[at]:.1f}, machine {bare_busy[at]:.1f}")
    if big is not None:
        run = big.run
        print(f"{args.big} samples distributed (verified {args.big} rows in samples): {run.wall:.1f} s, "
              f"{args.big / run.wall:.0f} samples/s  [verdict {big.verdict}]")
        print(f"  producer peak memory: {mib(big.peak_kib.get('producer', 0))} PSS sampled, "
              f"{mib(run.maxrss_kib)} kernel RSS high-water mark; CPU {run.cpu:.1f} s")
        for name, before in big.start_kib.items():
            print(f"  worker {name:<9} peak memory: {mib(big.peak_kib.get(name, 0))} PSS of its processes (was "
                  f"{mib(before)} before the sweep); their RSS high-water marks sum to {mib(big.hwm_kib[name])} "
                  f"(shared pages counted in each)")


if __name__ == "__main__":
    main()

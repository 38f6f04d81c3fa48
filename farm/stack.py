"""The farm's process stack, described once: `farm stack up|down` runs it as local processes supervised by
supervisord (a service that dies is restarted), and `farm stack compose` renders the same description as
docker-compose.yml (a test keeps the two equal).

Infrastructure (Redis, Postgres) is the machine's own for the local stack and containers in compose.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from farm.errors import UsageError
from farm.gateway.process import bind_socket

LEGACY_PORT, CANDIDATE_PORT, FLOWER_PORT, UI_PORT = 8101, 8102, 5555, 8300
# Prefork, not threads: Celery enforces task time limits only in child processes (the threads pool ignores
# them, celery#9203), and a job's gateway calls already run concurrently inside one process (asyncio), so two
# processes keep a gateway busy; threads also cost more CPU in GIL hand-offs (benchmarks/distributed_overhead.py).
WORKER_OPTS = ["--pool", "prefork", "--without-mingle", "--without-gossip", "-l", "info"]
WORKER_PROCESSES = 2


@dataclass(frozen=True)
class StackPorts:
    """The ports the stack listens on (127.0.0.1): `[stack]` in farm.toml, or `farm stack up` flags."""

    legacy: int = LEGACY_PORT
    candidate: int = CANDIDATE_PORT
    flower: int = FLOWER_PORT
    ui: int = UI_PORT


@dataclass(frozen=True)
class Service:
    """One process of the stack. `argv` starts with `farm` or `celery`; `{host}` is the bind address."""

    name: str
    argv: tuple[str, ...]
    ports: tuple[int, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    one_shot: bool = False  # runs to completion before the others start (migrations)


def services(ports: StackPorts | None = None) -> list[Service]:
    ports = ports or StackPorts()
    celery = ("celery", "-A", "workers")
    return [
        Service("migrate", ("farm", "db", "upgrade"), one_shot=True),
        Service("gateway-legacy", ("farm", "gateways", "serve", "--profile", "lakehouse-legacy", "--host", "{host}",
                                   "--port", str(ports.legacy)), ports=(ports.legacy,)),
        Service("gateway-candidate", ("farm", "gateways", "serve", "--profile", "lakehouse-candidate", "--host",
                                      "{host}", "--port", str(ports.candidate)), ports=(ports.candidate,)),
        *(Service(f"worker-{name}", (*celery, "worker", "-Q", queue, "-n", f"{name}@%h", "--concurrency",
                                     str(WORKER_PROCESSES), *WORKER_OPTS))
          for name, queue in (("legacy", "probe.legacy"), ("candidate", "probe.candidate"),
                              ("aggregate", "farm.aggregate"))),
        Service("beat", (*celery, "beat", "-l", "info", "--schedule", "{state}/celerybeat-schedule")),
        Service("flower", ("farm", "flower", "--address", "{host}", "--port", str(ports.flower)),
                ports=(ports.flower,)),
        Service("ui", ("farm", "ui", "--host", "{host}", "--port", str(ports.ui)), ports=(ports.ui,)),
    ]


def default_gateways(ports: StackPorts | None = None) -> dict[str, tuple[str, str]]:
    """What `legacy` and `candidate` mean when farm.toml names no gateways: the stack's demo pair."""
    ports = ports or StackPorts()
    return {"legacy": (f"http://127.0.0.1:{ports.legacy}", "lakehouse-legacy"),
            "candidate": (f"http://127.0.0.1:{ports.candidate}", "lakehouse-candidate")}


def _argv(service: Service, host: str, state: str) -> list[str]:
    return [a.replace("{host}", host).replace("{state}", state) for a in service.argv]


# ---- docker compose -------------------------------------------------------------------------------------------

_COMPOSE_ENV = {
    "FARM_DATABASE_URL": "postgresql+psycopg://farm@postgres:5432/farm",
    "FARM_BROKER_URL": "redis://redis:6379/0",
    "FARM_GATEWAY_LEGACY_TOKEN": "${FARM_GATEWAY_LEGACY_TOKEN:-}",
    "FARM_GATEWAY_CANDIDATE_TOKEN": "${FARM_GATEWAY_CANDIDATE_TOKEN:-}",
}


def compose() -> dict[str, Any]:
    """docker-compose.yml as data: infrastructure, then every stack service on the app image."""
    doc: dict[str, Any] = {"services": {
        "redis": {"image": "redis:7", "command": ["redis-server", "--save", "", "--appendonly", "no"]},
        "postgres": {"image": "postgres:15", "environment": {"POSTGRES_USER": "farm", "POSTGRES_DB": "farm",
                                                             "POSTGRES_HOST_AUTH_METHOD": "trust"},
                     "healthcheck": {"test": ["CMD", "pg_isready", "-U", "farm"], "interval": "2s", "retries": 30}},
    }}
    for svc in services():
        env = {k: v for k, v in _COMPOSE_ENV.items() if svc.name != "ui" or "TOKEN" not in k}  # pages need none
        entry: dict[str, Any] = {
            "build": ".", "command": _argv(svc, "0.0.0.0", "/var/lib/farm"),
            "environment": {**env, **svc.env},
            "depends_on": {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_started"}},
        }
        if svc.name == "flower":
            entry["environment"]["FARM_FLOWER_AUTH"] = "${FARM_FLOWER_AUTH:?set user:password for Flower}"
        if svc.name == "ui":  # bound beyond loopback in its container: basic auth, else it refuses to start
            entry["environment"]["FARM_UI_AUTH"] = "${FARM_UI_AUTH:-}"
            entry["environment"]["FARM_FLOWER_AUTH"] = "${FARM_FLOWER_AUTH:?set user:password for Flower}"
        if svc.ports:
            entry["ports"] = [f"127.0.0.1:{p}:{p}" for p in svc.ports]
        if not svc.one_shot:
            entry["depends_on"]["migrate"] = {"condition": "service_completed_successfully"}
            entry["restart"] = "unless-stopped"
        doc["services"][svc.name] = entry
    return doc


def compose_yaml() -> str:
    header = "# Generated by `farm stack compose` from farm/stack.py; do not edit by hand.\n"
    return header + yaml.safe_dump(compose(), sort_keys=False, width=120)


# ---- local processes ------------------------------------------------------------------------------------------


def resolve_executable(argv: list[str]) -> list[str]:
    """Run `farm` and `celery` from this interpreter's environment, whatever PATH says."""
    if argv[0] == "farm":
        return [sys.executable, "-m", "farm", *argv[1:]]
    if argv[0] == "celery":
        return [sys.executable, "-m", "celery", *argv[1:]]
    return argv


def start_process(argv: list[str], log: Path, env: dict[str, str] | None = None,
                  cwd: Path | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(resolve_executable(argv), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, cwd=cwd,
                                start_new_session=True)


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the group's leader, SIGKILL the group if it is still there after `timeout`.

    The leader only, as `docker stop` does: a Celery worker then shuts down warm, letting its pool children
    finish the tasks they hold; a SIGTERM to the whole group killed them mid-task.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def saved_ports(state: Path) -> StackPorts:
    """The ports of the stack that `up` started in `state` (defaults when it wrote none)."""
    try:
        return StackPorts(**json.loads((state / "stack.json").read_text())["ports"])
    except (OSError, ValueError, KeyError, TypeError):
        return StackPorts()


def state_dir(base: Path | None = None) -> Path:
    return (base or Path(".farm")) / "stack"


# ---- supervised: supervisord runs the services, restarting one that dies -------------------------------------
# A well-kept supervisor instead of more pidfile code: supervisord restarts a service that exits (docker-compose's
# `restart: unless-stopped`), backs off a service that keeps dying at start (1 s, 2 s, 3 s, ... then FATAL after
# START_RETRIES), logs each exit and spawn, and stops each service as `docker stop` does (SIGTERM to the leader,
# SIGKILL to its group after STOP_WAIT seconds: a Celery worker shuts down warm).

START_SECS, START_RETRIES, STOP_WAIT = 3, 10, 15


def _conf_value(text: str) -> str:
    """A value for supervisord's ini file: `%` is its interpolation character."""
    return text.replace("%", "%%")


def supervisord_conf(state: Path, selected: list[Service], cwd: Path) -> str:
    state = state.resolve()
    lines = ["[unix_http_server]", f"file={state / 'supervisor.sock'}", "chmod=0700", "",
             "[supervisord]", f"logfile={state / 'supervisord.log'}", "logfile_maxbytes=10MB", "loglevel=info",
             f"pidfile={state / 'supervisord.pid'}", "nodaemon=true", f"directory={cwd}", "",
             "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
             "[supervisorctl]", f"serverurl=unix://{state / 'supervisor.sock'}", ""]
    for svc in selected:
        command = " ".join(shlex.quote(a) for a in resolve_executable(_argv(svc, "127.0.0.1", str(state))))
        lines += [f"[program:{svc.name}]", f"command={_conf_value(command)}", f"directory={cwd}",
                  "autostart=true", "autorestart=true", f"startsecs={START_SECS}", f"startretries={START_RETRIES}",
                  "stopsignal=TERM", f"stopwaitsecs={STOP_WAIT}", "stopasgroup=false", "killasgroup=true",
                  "redirect_stderr=true", f"stdout_logfile={_conf_value(str(state / (svc.name + '.log')))}",
                  "stdout_logfile_maxbytes=50MB", "stdout_logfile_backups=2"]
        if svc.env:
            env = ",".join(f'{k}="{_conf_value(v)}"' for k, v in svc.env.items())
            lines.append(f"environment={env}")
        lines.append("")
    return "\n".join(lines)


def _rpc(state: Path) -> Any:
    import xmlrpc.client

    from supervisor.xmlrpc import SupervisorTransport  # type: ignore[import-untyped]

    transport = SupervisorTransport(None, None, f"unix://{(state / 'supervisor.sock').resolve()}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def _supervisor_pid(state: Path) -> int | None:
    pidfile = state / "supervisord.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().strip())
    except ValueError:
        return None
    return pid if _alive(pid) else None


def _process_info(state: Path) -> list[dict[str, Any]] | None:
    """supervisord's view of every service, or None when it does not run."""
    if _supervisor_pid(state) is None:
        return None
    try:
        info: list[dict[str, Any]] = _rpc(state).getAllProcessInfo()
    except OSError:
        return None
    return info


class Readiness(Protocol):
    """What `up` asks once supervisord runs: does each service answer (None: nothing to ask)? farm.stack_health."""

    def answering(self, names: Iterable[str]) -> dict[str, bool | None]: ...


def check_ports_free(selected: Iterable[Service], host: str = "127.0.0.1") -> None:
    """One line naming the first port already taken (by another program, or an older stack) and its service."""
    for svc in selected:
        for port in svc.ports:
            try:
                bind_socket(host, port).close()
            except UsageError as exc:
                flag = "--" + svc.name.removeprefix("gateway-") + "-port"
                raise UsageError(f"stack service {svc.name}: {exc}; choose another with [stack] in farm.toml or "
                                 f"`farm stack up {flag}`") from None


def _last_line(log: Path) -> str:
    if not log.exists():
        return ""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def up(state: Path, only: list[str] | None = None, cwd: Path | None = None, ports: StackPorts | None = None,
       ready: Readiness | None = None, ready_timeout: float = 90.0) -> list[tuple[str, int]]:
    """Check the ports, migrate, start every service under supervisord and wait until each answers (`ready`);
    returns (service, pid). Refuses to start twice. Any failure stops everything started, then raises one line
    naming the service (UsageError, exit 2)."""
    ports = ports or StackPorts()
    state.mkdir(parents=True, exist_ok=True)
    if (pid := _supervisor_pid(state)) is not None:
        raise UsageError(f"the stack already runs (supervisord pid {pid}); `farm stack down` first")
    every = services(ports)
    selected = [svc for svc in every if not only or svc.name in only]
    unknown = sorted(set(only or ()) - {svc.name for svc in every})
    if unknown:
        raise UsageError(f"no stack service {', '.join(unknown)}: choose from {', '.join(s.name for s in every)}")
    check_ports_free(selected)
    for svc in [s for s in selected if s.one_shot]:
        proc = start_process(list(svc.argv), state / f"{svc.name}.log", svc.env)
        if proc.wait(timeout=300) != 0:
            raise UsageError(f"stack service {svc.name} failed: {_last_line(state / (svc.name + '.log'))} "
                             f"(log: {state / (svc.name + '.log')})")
    long_running = [s for s in selected if not s.one_shot]
    conf = state / "supervisord.conf"
    conf.write_text(supervisord_conf(state, long_running, (cwd or Path.cwd()).resolve()))
    (state / "stack.json").write_text(json.dumps({"ports": asdict(ports)}))
    (state / "supervisord.pid").unlink(missing_ok=True)
    daemon = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        return _wait_answering(state, daemon, [s.name for s in long_running], ready, ready_timeout)
    except BaseException:
        down(state)  # nothing left running: a half-started stack would say "started" to nobody
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            daemon.kill()
            daemon.wait(timeout=10)
        raise


def _wait_answering(state: Path, daemon: subprocess.Popen[bytes], names: list[str], ready: Readiness | None,
                    timeout: float) -> list[tuple[str, int]]:
    """Until every service runs and answers; a service that exits at start fails at once, named with its log."""
    deadline = time.monotonic() + timeout
    silent: list[str] = names
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise UsageError(f"supervisord exited with code {daemon.returncode}; see {state / 'supervisord.log'}")
        info = {p["name"]: p for p in _process_info(state) or []}
        for name, p in info.items():
            if str(p["statename"]) in ("BACKOFF", "FATAL", "EXITED"):
                log = state / f"{name}.log"
                raise UsageError(f"stack service {name} could not start: {_last_line(log) or p['statename']} "
                                 f"(log: {log})")
        if info and all(p["pid"] for p in info.values()):
            answers = ready.answering(names) if ready is not None else {}
            silent = [n for n in names if answers.get(n) is False]
            if not silent:
                return [(name, int(info[name]["pid"])) for name in names]
        time.sleep(0.3)
    raise UsageError(f"stack service {', '.join(silent)} did not answer within {timeout:.0f}s "
                     f"(logs in {state})")


def down(state: Path) -> list[str]:
    """Stop every service (warm, as `docker stop`), then supervisord itself; returns the services stopped."""
    stopped: list[str] = []
    pid = _supervisor_pid(state)
    if pid is not None:
        info = _process_info(state) or []
        with contextlib.suppress(OSError):
            _rpc(state).stopAllProcesses()
        stopped = [p["name"] for p in info]
        stop_pid(pid, timeout=STOP_WAIT + 10)
    for pidfile in sorted(state.glob("*.pid")):  # a stack started by an older farm (pidfiles), or leftovers
        if pidfile.name != "supervisord.pid":
            with contextlib.suppress(ValueError):
                stop_pid(int(pidfile.read_text()))
                stopped.append(pidfile.stem)
        pidfile.unlink()
    return stopped


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running, starting, backoff, stopped, exited, fatal
    pid: int | None
    restarts: int
    last_exit: str | None  # supervisord's words for the latest exit, e.g. "terminated by SIGKILL; not expected"


def restarts(state: Path) -> dict[str, tuple[int, str | None]]:
    """Restarts of each service since `up`, from supervisord's log: (spawns - 1, the latest exit)."""
    log = state / "supervisord.log"
    if not log.exists():
        return {}
    spawns: dict[str, int] = {}
    exits: dict[str, str] = {}
    for line in log.read_text(errors="replace").splitlines():
        if m := _SPAWNED.search(line):
            spawns[m.group(1)] = spawns.get(m.group(1), 0) + 1
        elif m := _EXITED.search(line):
            exits[m.group(1)] = m.group(2)
    return {name: (max(0, n - 1), exits.get(name)) for name, n in spawns.items()}


_SPAWNED = re.compile(r"spawned: '([^']+)' with pid")
_EXITED = re.compile(r"exited: (\S+) \((.*)\)$")


def service_status(state: Path) -> list[ServiceStatus]:
    info = {p["name"]: p for p in _process_info(state) or []}
    counts = restarts(state) if info else {}
    out = []
    for svc in services(saved_ports(state)):
        if svc.one_shot:
            continue
        p = info.get(svc.name)
        n, last = counts.get(svc.name, (0, None))
        if p is None:
            out.append(ServiceStatus(svc.name, "stopped", None, n, last))
        else:
            out.append(ServiceStatus(svc.name, str(p["statename"]).lower(), int(p["pid"]) or None, n, last))
    return out


def status(state: Path) -> dict[str, str]:
    return {s.name: s.state for s in service_status(state)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

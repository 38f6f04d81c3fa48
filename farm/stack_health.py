"""Does each stack service answer? `farm stack up` counts a service as started only when it answers: a gateway's
`/healthz`, Flower's `/healthcheck` (both skip auth), a worker's reply to a Celery ping through the broker. Beat has
no port and no ping: its supervised process state is its health.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from farm.stack import StackPorts

HTTP_HEALTH = {"gateway-legacy": "/healthz", "gateway-candidate": "/healthz", "flower": "/healthcheck",
               "ui": "/healthz"}
WORKER_PREFIX = "worker-"


def worker_node(name: str) -> str:
    """The Celery node name of a stack worker (`-n legacy@%h`)."""
    return f"{name.removeprefix(WORKER_PREFIX)}@{socket.gethostname()}"


class Health:
    """Asks each service whether it answers. `broker_app`: makes a Celery app on the stack's broker (for pings),
    called only when a worker is asked about (importing Celery costs a second or two of CPU)."""

    def __init__(self, ports: StackPorts, broker_app: Callable[[], Any] | None) -> None:
        self.ports, self._make_app = ports, broker_app
        self._app: Any | None = None

    def _port(self, name: str) -> int:
        return {"gateway-legacy": self.ports.legacy, "gateway-candidate": self.ports.candidate,
                "flower": self.ports.flower, "ui": self.ports.ui}[name]

    def _http(self, name: str) -> bool:
        try:
            answer = httpx.get(f"http://127.0.0.1:{self._port(name)}{HTTP_HEALTH[name]}", timeout=2.0)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def _pong(self, names: list[str]) -> set[str]:
        if not names or self._make_app is None:
            return set()
        if self._app is None:
            self._app = self._make_app()
        nodes = {worker_node(n): n for n in names}
        try:
            replies = self._app.control.ping(destination=list(nodes), timeout=1.0)
        except Exception:  # a broker that is down means "no answer"; the caller names the silent service
            return set()
        return {nodes[node] for reply in replies or [] for node in reply if node in nodes}

    def answering(self, names: Iterable[str]) -> dict[str, bool | None]:
        """name -> answers (True / False), or None for a service with nothing to ask (beat)."""
        names = list(names)
        pong = self._pong([n for n in names if n.startswith(WORKER_PREFIX)])
        out: dict[str, bool | None] = {}
        for name in names:
            if name in HTTP_HEALTH:
                out[name] = self._http(name)
            elif name.startswith(WORKER_PREFIX):
                out[name] = name in pong
            else:
                out[name] = None
        return out

"""Value types of the wire, a leaf module (it imports nothing of the farm): what a gateway is (`Target`), how it is
asked (`RetryPolicy`), one request and one response of the send path (`Request`, `Response`, farm.gateway.send),
a wire profile's base fields (`Profile`), one side's answer to one batch (`SideResult`) and the error a body of
the wrong shape raises (`MalformedBody`).

farm.gateway, farm.store and farm.wiredrift take these from here, so that the layers below the probes import no
probe module; farm.probes.base re-exports them for probes and plug-ins.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import httpx
    from starlette.routing import BaseRoute

__all__ = ["MAX_BODY_BYTES", "Backend", "BodySink", "DemoProbe", "MalformedBody", "Profile", "Request", "Response",
           "RetryPolicy", "SideResult", "Target", "WireProbe"]

MAX_BODY_BYTES = 64 * 2**20  # 64 MiB: a batch of 32 x 4,096 floats as JSON is about 3 MB


class MalformedBody(ValueError):
    """A request or response that does not have the shape its profile promises."""


@dataclass(frozen=True, kw_only=True)
class Profile:
    """How one gateway shapes one endpoint: the fields every probe's wire profile has.

    A probe subclasses it with its own request and response fields; `probe` names the probe (it travels with
    the profile in task messages and sweep rows, so a worker rebuilds the right type).
    """

    probe: ClassVar[str] = ""
    name: str
    path: str
    method: str = "POST"
    ignore_fields: tuple[str, ...] = ()
    unordered_arrays: tuple[str, ...] = ()


@dataclass
class SideResult:
    """One gateway's answer to one batch: the probe's parsed value (None on failure), an error class per
    sample, and what the drift catalog reads (the request sent and the response document)."""

    value: Any
    errors: list[str | None]
    status: int | None
    latency_ms: float
    attempts: int
    request: dict[str, Any]
    response: Any = None
    latencies_ms: list[float] | None = None  # per sample, when the batch took one request per input
    # Per sample (request, response document, an error body?) for the drift catalog, when each input had its own
    # request; None where a sample has no document. `request` / `response` above stand for the batch otherwise.
    exchanges: list[tuple[dict[str, Any], Any, bool] | None] | None = None
    detail: str | None = None  # what the error class alone does not say ("HTTP 404: {...}"), for the stop reason

    @property
    def ok(self) -> bool:
        return self.value is not None

    def latency_of(self, i: int) -> float:
        """Sample i's request latency (the batch's one request, unless each input had its own)."""
        return self.latencies_ms[i] if self.latencies_ms is not None else self.latency_ms


@dataclass(frozen=True)
class Target:
    """A gateway as the client sees it. `token_env` is the variable to read the token from, if any."""

    name: str
    url: str
    profile: Profile
    token_env: str | None = None

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + self.profile.path


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is asked: `attempts` in all, `timeout` per read (and connect), `deadline` per attempt in
    all (default twice the timeout), `max_body_bytes` per answer, `retry_after_max` the longest Retry-After
    honoured (seconds)."""

    attempts: int = 4
    backoff: float = 0.05
    backoff_max: float = 2.0
    timeout: float = 30.0
    deadline: float | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    retry_after_max: float = 30.0

    @property
    def request_deadline(self) -> float:
        return self.deadline if self.deadline is not None else 2 * self.timeout

    def delay(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads retries of many batches hitting one sick gateway.
        return random.uniform(0, min(self.backoff_max, self.backoff * 2**attempt))


class BodySink(Protocol):
    """Where a body goes instead of memory, chunk by chunk (a `hashlib` object is one)."""

    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True)
class Request:
    """One HTTP request of the send path. `url` is absolute (`Target.endpoint`, or a probe's own URL under
    `Target.url`); `json` is serialised with orjson (and sets the JSON content type), else `content` is sent as
    is. The answer's body is kept as bytes, or, when `sink` returns one for the answer's (status, headers), fed
    to that sink as it streams (never held whole). `accepts`: media types read (a substring of Content-Type;
    none sent is fine), checked when the status is below 400; `decode`: the body parsed as JSON."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    params: Mapping[str, Any] | None = None
    accepts: tuple[str, ...] | None = None
    decode: bool = False
    sink: Callable[[int, Mapping[str, str]], BodySink | None] | None = None


@dataclass
class Response:
    """What came back, after the retries: `error` is the error class (farm.gateway.errors) when no usable answer
    came (transport faults; 5xx / 429 after the retries, `http_status`; a body fault), None otherwise, whatever
    the status (a 4xx is the caller's to read). `content` holds the body unless a sink took it, `doc` the JSON
    document when the request asked for it; `size` counts the body's bytes; `latency_ms` is the last attempt's."""

    status: int | None
    headers: Mapping[str, str]
    error: str | None
    latency_ms: float
    attempts: int
    content: bytes | None = None
    doc: Any = None
    sink: BodySink | None = None
    size: int = 0


# A demo backend answers one request body: (number of inputs, a function computing the response document, or a
# Starlette `Response` of its own such as a stream).
# It raises MalformedBody on a bad request and LookupError for something unknown (a model): HTTP 400 / 404.
Backend = Callable[[dict[str, Any]], tuple[int, Callable[[], Any]]]


class WireProbe(Protocol):
    """What the gateway client asks of a probe (farm.probes.base.Probe has it): how a batch becomes requests and
    answers become values. A protocol, so that farm.gateway imports no probe module."""

    @property
    def batched(self) -> bool: ...

    @property
    def accepts(self) -> tuple[str, ...]: ...

    async def exchange(self, client: httpx.AsyncClient, target: Target, items: Sequence[Any], model: str | None,
                       policy: RetryPolicy, worker: str | None, options: Mapping[str, Any]) -> SideResult | None: ...

    def requests(self, profile: Profile, items: Sequence[Any], model: str | None,
                 options: Mapping[str, Any]) -> list[tuple[dict[str, Any], int]]: ...

    def combine(self, profile: Profile, items: Sequence[Any], parts: list[SideResult],
                options: Mapping[str, Any]) -> SideResult: ...

    def streams(self, profile: Profile, body: dict[str, Any]) -> bool: ...

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]: ...

    def error_detail(self, profile: Profile, value: Any, errors: Sequence[str | None]) -> str | None: ...

    def parse_stream(self, profile: Profile, pieces: Sequence[tuple[float, bytes]], complete: bool,
                     n: int) -> tuple[Any, list[str | None], Any]: ...


class DemoProbe(Protocol):
    """What a demo gateway asks of a probe: its name, its own routes or its backend for a profile and knobs."""

    @property
    def name(self) -> str: ...

    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend: ...

    def demo_routes(self, profile: Profile, knobs: dict[str, Any]) -> list[BaseRoute] | None: ...

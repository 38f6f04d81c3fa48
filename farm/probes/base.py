"""What a probe is: everything specific to one endpoint family, behind one interface.

A probe is one folder, `farm/probes/<name>/`, whose `__init__.py` registers one `Probe` instance. The shared
pipeline (corpus streaming, batching, the engine, the distributed producer and workers, the gateway client,
storage, verdict machinery, wire-drift diff, reports, the CLI) knows probes only through this interface.
docs/probes.md walks through the embed probe's folder file by file.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

# Re-exported: probes and plug-ins take the wire's value types from here.
from farm.wire import Backend as Backend
from farm.wire import MalformedBody as MalformedBody
from farm.wire import Profile as Profile
from farm.wire import RetryPolicy as RetryPolicy
from farm.wire import SideResult as SideResult
from farm.wire import Target as Target

if TYPE_CHECKING:
    import httpx
    from numpy.typing import NDArray
    from starlette.routing import BaseRoute

    from farm.stats.noise import NoiseSamples
    from farm.stats.params import VerdictParams
    from farm.stats.verdict import Verdict
    from farm.wiredrift.roles import DriftRoles
    from farm.wiredrift.rows import DriftRow




@dataclass(frozen=True)
class GatewayInputs:
    """Inputs a probe draws from the legacy gateway itself instead of a corpus (storage: the keys it lists under
    a prefix). `describe` names the source in the sweep row and the report; `read` streams the inputs and raises
    UsageError (one line) when the gateway cannot be read."""

    describe: str
    read: Callable[[Target, RetryPolicy], Iterator[Any]]


@dataclass
class Compared:
    """A probe's comparison of one batch: per sample its score (None: not compared), whether it agreed, the
    error classes of both sides (the probe may add its own, e.g. a dimension mismatch) and its own columns."""

    score: list[float | None]
    agreed: list[bool | None]
    legacy_errors: list[str | None]
    candidate_errors: list[str | None]
    columns: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """A per-sample value a probe keeps besides the shared ones (stored in the table `<probe>_samples`)."""

    name: str
    kind: str  # "float", "int" or "text"


@dataclass(frozen=True)
class DemoOption:
    """One knob of the probe's demo gateway (`farm gateways serve --probe P`) or one option of its sweeps."""

    flag: str
    help: str
    default: Any = None
    type: Any = None

    @property
    def name(self) -> str:
        """The option's key in `probe_options`, a schedule's `args` and Python: `--max-rows` is `max_rows`."""
        return self.flag.lstrip("-").replace("-", "_")


def digest(text: str) -> str:
    """The short input hash stored per sample (a corpus line is never stored, only this)."""
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class Probe:
    """The interface; defaults serve probes whose inputs are texts and whose values are plain JSON."""

    name: ClassVar[str]
    title: ClassVar[str]                   # "Embed parity": the report's heading
    quantity: ClassVar[str] = "score"      # what the per-sample score is, as the verdict's sentence says it
    family: ClassVar[str] = "binomial"     # the verdict family: "binomial" (agreement) or "mean" (bounded mean)
    profile_type: ClassVar[type[Profile]]
    presets: ClassVar[dict[str, Profile]]
    default_profiles: ClassVar[tuple[str, str]]  # (legacy, candidate) presets when a URL names no profile
    columns: ClassVar[tuple[Column, ...]] = ()
    default_tau: ClassVar[float | None] = None   # a probe's own agreement threshold, when not the embed one
    default_floor: ClassVar[float | None] = None
    default_p_max: ClassVar[float | None] = None  # the mean family's tolerated rate below the floor (e.g. 0.01)
    # False: the endpoint takes one input per request (a search query); the client then sends a batch's items
    # one after another and the side's value is the list of per-item values (None where an item failed), each
    # parsed by `parse_response` with n = 1 (whose value is then a one-element list).
    batched: ClassVar[bool] = True
    default_noise_sample: ClassVar[float | None] = None  # fraction of batches asked twice (A/A), when not 0
    # What a corpus file stands for when `--population` is not given: "stream" (a sample of traffic) or
    # "corpus" (the whole population of interest, e.g. a regression suite of statements).
    default_population: ClassVar[str] = "stream"
    request_per_input: ClassVar[bool] = False  # each input its own request (`requests`): latency per sample
    # Media types the gateway client reads (a substring of the response's Content-Type; none sent is fine);
    # another one is the `content_type` error. A probe reading NDJSON or SSE adds "ndjson" / "event-stream".
    accepts: ClassVar[tuple[str, ...]] = ("json",)

    @property
    def latency_per_sample(self) -> bool:
        """Whether each sample's stored latency is its own request's (unbatched, or a request per input); else a
        batch's samples share one request's, counted once per batch in the latency statistics."""
        return not self.batched or self.request_per_input

    # --- corpus ------------------------------------------------------------------------------------
    def item_from_text(self, line: str) -> Any:
        """An input from one line of a text corpus."""
        return line

    def items_from_lines(self, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
        """The inputs of a text corpus as (line number, input): one per non-blank line, unless the probe's inputs
        share a line or span several (SQL statements)."""
        for lineno, line in lines:
            if line.strip():
                yield lineno, self.item_from_text(line)

    def gateway_inputs(self, options: Mapping[str, Any]) -> GatewayInputs | None:
        """Where the sweep's inputs come from when the probe lists them through the legacy gateway (a sweep
        option says so); None, the default: the corpus file or the built-in set."""
        return None

    def item_from_json(self, value: Any) -> Any:
        """An input from the `--field` value of a JSONL corpus line; MalformedBody when it is not one."""
        if not isinstance(value, str):
            raise MalformedBody("not a string")
        return value

    def synthetic(self, seed: int, idx: int) -> Any:
        """Input `idx` of the built-in seeded corpus."""
        from farm.corpus import synthetic_text

        return synthetic_text(seed, idx)

    def item_digest(self, item: Any) -> str:
        return digest(item if isinstance(item, str) else orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode())

    def items_from_request(self, profile: Profile, body: dict[str, Any]) -> list[Any]:
        """The inputs of one request body as the gateway logged it (captured-traffic corpora, demo gateways)."""
        raise NotImplementedError

    def mirrors(self, profile: Profile, method: str, path: str, body: Any) -> str | None:
        """Whether `farm shadow` may send a copy of this client request to the candidate: None when it is a
        read of this probe's endpoint, else why not ("write: ..." for a side effect, which `--allow-writes`
        lifts; anything else is never mirrored). The default: the profile's method and path (embed, search,
        retrieve, chat are reads)."""
        if method.upper() != profile.method.upper() or path.rstrip("/") != "/" + profile.path.strip("/"):
            return "not the probe's endpoint"
        return None  # a body the parser cannot read is the mirror's "unparsed", not a reason to skip

    # --- wire --------------------------------------------------------------------------------------
    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        """A request body for a batch; `options` are the sweep's values of `sweep_options` (e.g. `k`)."""
        raise NotImplementedError

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        """The typed value of a response to n inputs and an error class per sample; MalformedBody on a
        document of another shape."""
        raise NotImplementedError

    async def exchange(self, client: httpx.AsyncClient, target: Target, items: Sequence[Any], model: str | None,
                       policy: RetryPolicy, worker: str | None, options: Mapping[str, Any]) -> SideResult | None:
        """One batch's exchange with a gateway, for a probe whose wire is not one JSON POST per batch (one
        request per input, GETs of raw bytes, several requests per input). None: the shared JSON POST
        (`farm.gateway.client.post_batch`). Like it, it never raises: failures are error classes per sample."""
        return None

    def resolve_options(self, options: dict[str, Any], legacy: Profile, candidate: Profile) -> dict[str, Any]:
        """The sweep's values of `sweep_options` completed from the two gateways' wire profiles, once when the
        sweep is specified (sql: `--dialect` defaults to the legacy profile's); UsageError on a bad value. The
        default returns them as given."""
        return options

    def check_inputs(self, inputs: Iterable[tuple[str, Any]], options: Mapping[str, Any]) -> None:
        """Refuse a corpus before anything is sent (UsageError, one line naming where: `file:line` or `input N`),
        e.g. write statements; streamed once when the sweep is specified. The default accepts every input."""
    def requests(self, profile: Profile, items: Sequence[Any], model: str | None,
                 options: Mapping[str, Any]) -> list[tuple[dict[str, Any], int]]:
        """The requests of one batch as (body, inputs it answers): one for all its inputs (the default). A probe
        whose endpoint takes one input per request returns one per input (and may add check requests);
        `combine` then folds the answers back into one `SideResult`."""
        return [(self.build_request(profile, items, model, options), len(items))]

    def combine(self, profile: Profile, items: Sequence[Any], parts: list[SideResult],
                options: Mapping[str, Any]) -> SideResult:
        """One batch's answer from the answers to its `requests` (one each, same order)."""
        if len(parts) != 1:
            raise NotImplementedError("a probe with several requests per batch combines their answers")
        return parts[0]

    def error_detail(self, profile: Profile, value: Any, errors: Sequence[str | None]) -> str | None:
        """What a parsed answer's error classes alone do not say (a message sent inside a stream, the order the
        scores came in and the profile key that would read it): shown in the reason a sweep stops with."""
        return None

    def streams(self, profile: Profile, body: dict[str, Any]) -> bool:
        """Whether this request's answer is a stream: the client then reads it piece by piece, timed."""
        return False

    def parse_stream(self, profile: Profile, pieces: Sequence[tuple[float, bytes]], complete: bool,
                     n: int) -> tuple[Any, list[str | None], Any]:
        """A streamed answer: its pieces as they arrived (ms since the request was sent, bytes); `complete` is
        False when the connection broke mid-stream. Returns the value, an error class per sample and a JSON
        document standing for the answer in the drift catalog; MalformedBody on another framing."""
        raise NotImplementedError

    def encode(self, value: Any) -> tuple[Any, bytes]:
        """A value as (JSON-able header, raw bytes), for the distributed side results."""
        return value, b""

    def decode(self, header: Any, body: bytes) -> Any:
        return header

    # --- comparison --------------------------------------------------------------------------------
    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        raise NotImplementedError

    def self_scores(self, first: SideResult, second: SideResult, options: Mapping[str, Any]) -> list[float | None]:
        """A/A: the score of a gateway's two answers to the same batch (None where either failed)."""
        compared = self.compare(first, second, len(first.errors), _self_params(), options)
        return compared.score

    # --- verdict -----------------------------------------------------------------------------------
    def decide(self, arrays: dict[str, NDArray[Any]], errors: dict[str, list[str | None]], params: VerdictParams,
               *, planned: int | None, noise: NoiseSamples | None, sequential: bool,
               options: Mapping[str, Any] | None = None) -> Verdict:
        """The verdict from a sweep's sample columns (shared ones, then the probe's own); `options` are the
        sweep's values of `sweep_options`."""
        from farm.stats.binomial import AgreementSamples, decide_binomial
        from farm.stats.mean_family import decide_mean_family

        samples = AgreementSamples(arrays["score"], errors["legacy_error"], errors["candidate_error"],
                                   arrays["latency_legacy_ms"], arrays["latency_candidate_ms"])
        decide = decide_mean_family if self.family == "mean" else decide_binomial
        return decide(samples, params, quantity=self.quantity, planned=planned, noise=noise, sequential=sequential)

    # --- sweep options -----------------------------------------------------------------------------
    # Options of `farm sweep <probe>` beyond the shared ones (e.g. `--k 10`); their values reach
    # `build_request` and `compare` as `options`, and are recorded with the sweep.
    sweep_options: ClassVar[tuple[DemoOption, ...]] = ()

    # --- demo gateway ------------------------------------------------------------------------------
    demo_samples: ClassVar[int] = 3000  # `farm demo`'s inputs for this probe (seconds of work, not minutes)
    demo_p_max: ClassVar[float | None] = None  # and the p_max such a size can decide (None: the probe's own)
    demo_verdict: ClassVar[str] = "PASS"  # what `farm demo` is built to show with this probe's pair
    demo_shows: ClassVar[str] = "the rewrite answers like legacy despite its different wire"

    demo_options: ClassVar[tuple[DemoOption, ...]] = ()

    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        """The demo gateway's answers; `knobs` holds the values of `demo_options` and the shared drift rate."""
        raise NotImplementedError

    def demo_routes(self, profile: Profile, knobs: dict[str, Any]) -> list[BaseRoute] | None:
        """The demo gateway's own routes, for a probe whose endpoint is not one JSON POST (GET, HEAD, raw
        bytes, several paths); the shared knobs (auth, request log, latency, injected 503s) still wrap them.
        None: the shared JSON endpoint over `demo_backend`."""
        return None

    def demo_pair(self) -> contextlib.AbstractContextManager[tuple[list[str], list[str]]]:
        """For `farm demo` and tests: extra knobs of the legacy and the candidate demo gateway, and a service
        both front (an object store...) kept up while the context is open."""
        return contextlib.nullcontext(([], []))

    # --- report ------------------------------------------------------------------------------------
    def report_sections(self, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[
            list[str], list[Path]]:
        """Markdown lines of the probe's own sections (worst samples...) and the plots it drew."""
        return [], []

    def parity_cell(self, verdict: Any, params: dict[str, Any]) -> str:
        """The parity log's verdict cell."""
        return f"✅ PASS {verdict.n - verdict.disagreements:,}/{verdict.n:,}"

    # --- drift -------------------------------------------------------------------------------------
    def drift_roles(self) -> DriftRoles:
        from farm.wiredrift.roles import DriftRoles

        return DriftRoles()

    def drift_from_samples(self, arrays: dict[str, NDArray[Any]],
                           errors: dict[str, list[str | None]]) -> list[DriftRow]:
        """Catalog rows only the paired samples show (e.g. a constant offset between the sides' counts)."""
        return []



def _self_params() -> VerdictParams:
    from farm.stats.params import VerdictParams

    return VerdictParams()


"""What a probe is: everything specific to one endpoint family, behind one interface.

A probe is one folder, `farm/probes/<name>/`, whose `__init__.py` registers one `Probe` instance. The shared
pipeline (corpus streaming, batching, the engine, the distributed producer and workers, the gateway client,
storage, verdict machinery, wire-drift diff, reports, the CLI) knows probes only through this interface.
docs/probes.md walks through the embed probe's folder file by file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from farm.stats.noise import NoiseSamples
    from farm.stats.params import VerdictParams
    from farm.stats.verdict import Verdict
    from farm.wiredrift.roles import DriftRoles


# A demo backend answers one request body: (number of inputs, a function computing the response document).
# It raises MalformedBody on a bad request and LookupError for something unknown (a model): HTTP 400 / 404.
Backend = Callable[[dict[str, Any]], tuple[int, Callable[[], Any]]]


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

    @property
    def ok(self) -> bool:
        return self.value is not None


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
    """One knob of the probe's demo gateway, as `farm gateways serve --probe P` offers it."""

    flag: str
    help: str
    default: Any = None
    type: Any = None


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
    # Media types the gateway client reads (a substring of the response's Content-Type; none sent is fine);
    # another one is the `content_type` error. A probe reading NDJSON or SSE adds "ndjson" / "event-stream".
    accepts: ClassVar[tuple[str, ...]] = ("json",)

    # --- corpus ------------------------------------------------------------------------------------
    def item_from_text(self, line: str) -> Any:
        """An input from one line of a text corpus."""
        return line

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

    # --- wire --------------------------------------------------------------------------------------
    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        """A request body for a batch; `options` are the sweep's values of `sweep_options` (e.g. `k`)."""
        raise NotImplementedError

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        """The typed value of a response to n inputs and an error class per sample; MalformedBody on a
        document of another shape."""
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
               *, planned: int | None, noise: NoiseSamples | None, sequential: bool) -> Verdict:
        """The verdict from a sweep's sample columns (shared ones, then the probe's own)."""
        from farm.stats.binomial import AgreementSamples, decide_binomial
        from farm.stats.mean_family import decide_mean_family

        samples = AgreementSamples(arrays["score"], errors["legacy_error"], errors["candidate_error"],
                                   arrays["latency_legacy_ms"], arrays["latency_candidate_ms"])
        decide = decide_mean_family if self.family == "mean" else decide_binomial
        return decide(samples, params, quantity=self.quantity, planned=planned, noise=noise, sequential=sequential)

    def sequential_step(self, rows: Sequence[dict[str, Any]], params: VerdictParams) -> tuple[int, int, int]:
        """(compared, disagreements, catastrophic) of one batch's rows, for the sequential stop."""
        compared = disagreements = catastrophic = 0
        for row in rows:
            le, ce, score = row["legacy_error"], row["candidate_error"], row["score"]
            if le is None and ce is not None:  # the candidate fails where legacy answers: a disagreement
                compared += 1
                disagreements += 1
            elif isinstance(score, float):
                compared += 1
                disagreements += score < params.tau
                catastrophic += score < params.floor
        return compared, disagreements, catastrophic

    # --- sweep options -----------------------------------------------------------------------------
    # Options of `farm sweep <probe>` beyond the shared ones (e.g. `--k 10`); their values reach
    # `build_request` and `compare` as `options`, and are recorded with the sweep.
    sweep_options: ClassVar[tuple[DemoOption, ...]] = ()

    # --- demo gateway ------------------------------------------------------------------------------
    demo_options: ClassVar[tuple[DemoOption, ...]] = ()

    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        """The demo gateway's answers; `knobs` holds the values of `demo_options` and the shared drift rate."""
        raise NotImplementedError

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



def _self_params() -> VerdictParams:
    from farm.stats.params import VerdictParams

    return VerdictParams()


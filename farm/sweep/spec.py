"""What a sweep is asked to do, in one place: `SweepRequest` (what a user or a schedule asked, validated by
`build_spec`) and `SweepSpec` (the resolved sweep the engine, the producer and the workers run), serialised
to and from its database row here and only here (`sweep_row`, `spec_from_row`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

from farm.config import FarmConfig, GatewayConfig
from farm.corpus import CorpusSpec, CorpusStats, iter_items
from farm.errors import UsageError
from farm.gateway.client import MAX_BODY_BYTES, RetryPolicy, Target
from farm.order import new_seed, shuffled
from farm.probes import Probe, get_probe
from farm.profiles import Profile, profile_from_dict, profile_to_dict, resolve_profile
from farm.stats.params import VerdictParams
from farm.wiredrift.strict import SHARED_OPTIONS


@dataclass(frozen=True)
class SweepRequest:
    """A sweep as asked for: the options of `farm sweep <probe>` and the `args` of a sweep schedule."""

    probe: str = "embed"
    legacy: str = "legacy"
    candidate: str = "candidate"
    legacy_profile: str | None = None
    candidate_profile: str | None = None
    legacy_secondary: str | None = None
    corpus: str | None = None
    field: str | None = None
    corpus_format: str | None = None
    samples: int | None = None
    seed: int = 0
    model: str | None = None
    batch_size: int = 32
    concurrency: int = 8
    timeout: float = 30.0
    retries: int = 3
    deadline: float | None = None  # seconds per request in all (default: twice the timeout)
    max_body_mb: float | None = None  # the size cap of an answer (default 64 MiB)
    tau: float | None = None
    p_max: float | None = None
    alpha: float | None = None
    floor: float | None = None
    noise_sample: float | None = None
    until_decided: bool = False
    max_samples: int | None = None
    probe_options: dict[str, Any] | None = None  # values of the probe's own `sweep_options`
    order: str = "random"  # "random": a seeded permutation of the inputs; "file": as the corpus lists them
    order_seed: int | None = None  # None: a fresh seed (recorded and printed)
    population: str | None = None  # "stream" or "corpus"; None: the default for the corpus kind

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


@dataclass(frozen=True)
class SweepSpec:
    legacy: Target
    candidate: Target
    corpus: CorpusSpec
    database_url: str
    model: str | None = None
    batch_size: int = 32
    concurrency: int = 8
    params: VerdictParams = field(default_factory=VerdictParams)
    noise_sample: float = 0.0
    until_decided: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    probe: str = "embed"
    legacy_secondary: Target | None = None
    probe_options: dict[str, Any] = field(default_factory=dict)

    @property
    def plugin(self) -> Probe:
        return get_probe(self.probe)

    def inputs(self, stats: CorpusStats) -> Iterator[Any]:
        """The sweep's inputs in the order they are drawn, lazily: the corpus's (or those the probe lists through
        the legacy gateway), in a seeded random order unless `--order file`, then the first `limit` of them.
        A resumed sweep reads the same sequence (same seed; a listing read again is the same while unchanged)."""
        if not self.corpus.shuffled:
            return self._source(stats, self.corpus.limit)
        return islice(shuffled(self._source(stats, None), self.corpus.order_seed or 0), self.corpus.limit)

    def _source(self, stats: CorpusStats, limit: int | None) -> Iterator[Any]:
        """The inputs in the corpus's own order (file order, or the listing's)."""
        source = self.plugin.gateway_inputs(self.probe_options)
        if source is None:
            return iter_items(replace(self.corpus, limit=limit), self.plugin, self.legacy.profile, stats)
        return islice(source.read(self.legacy, self.retry), limit)

    def located_inputs(self) -> Iterator[tuple[str, Any]]:
        """Every input in the corpus's own order with where it comes from (`file:line`, else `input N`), for
        messages naming one."""
        stats = CorpusStats()
        limit = None if self.corpus.shuffled else self.corpus.limit
        for i, item in enumerate(self._source(stats, limit)):
            yield stats.position or f"input {i + 1}", item

    def parameters(self) -> dict[str, Any]:
        """Everything that shaped the verdict, for the sweep row, the report and `--json`."""
        out = {
            **asdict(self.params), "batch_size": self.batch_size, "concurrency": self.concurrency,
            "noise_sample": self.noise_sample, "until_decided": self.until_decided, "model": self.model,
            "corpus": self.corpus.describe(), "retry_attempts": self.retry.attempts, "timeout_s": self.retry.timeout,
        }
        if self.legacy_secondary is not None:
            out["legacy_secondary"] = self.legacy_secondary.endpoint
        if self.probe_options:
            out["probe_options"] = dict(self.probe_options)
        return out

    def sweep_row(self, sweep_id: str, mode: str) -> dict[str, Any]:
        spec = {"legacy": target_to_dict(self.legacy), "candidate": target_to_dict(self.candidate),
                "corpus": asdict(self.corpus), "retry": asdict(self.retry)}
        if self.legacy_secondary is not None:
            spec["legacy_secondary"] = target_to_dict(self.legacy_secondary)
        return {
            "id": sweep_id, "probe": self.probe, "legacy": self.legacy.name, "candidate": self.candidate.name,
            "legacy_url": self.legacy.endpoint, "candidate_url": self.candidate.endpoint,
            "legacy_profile": self.legacy.profile.name, "candidate_profile": self.candidate.profile.name,
            "model": self.model, "corpus": self.corpus.describe(), "mode": mode, "status": "running",
            "params": {**self.parameters(), "wire_profiles": {
                "legacy": profile_to_dict(self.legacy.profile), "candidate": profile_to_dict(self.candidate.profile)},
                # What `spec_from_row` needs to dispatch the sweep again (`farm sweep resume`): names, never tokens.
                "spec": spec},
            "planned": self.corpus.limit,
        }


def spec_from_row(sweep: Any, database_url: str) -> SweepSpec:
    """The spec a recorded sweep was started with (the inverse of `SweepSpec.sweep_row`)."""
    p = sweep.params
    stored = p.get("spec")
    if stored is None:
        raise UsageError(f"sweep {sweep.id} was recorded before sweeps kept their spec: start it again")
    secondary = stored.get("legacy_secondary")
    return SweepSpec(
        legacy=target_from_dict(stored["legacy"]), candidate=target_from_dict(stored["candidate"]),
        corpus=CorpusSpec(**stored["corpus"]), database_url=database_url, model=p.get("model"),
        batch_size=p["batch_size"], concurrency=p["concurrency"],
        params=params_of(sweep),
        noise_sample=p["noise_sample"], until_decided=bool(p.get("until_decided")),
        retry=RetryPolicy(**stored["retry"]), probe=sweep.probe,
        legacy_secondary=target_from_dict(secondary) if secondary else None,
        probe_options=dict(p.get("probe_options") or {}),
    )


def params_of(sweep: Any) -> VerdictParams:
    p = sweep.params
    return VerdictParams(tau=p["tau"], p_max=p["p_max"], alpha=p["alpha"], floor=p["floor"],
                         population=p.get("population"))


def target_to_dict(target: Target) -> dict[str, Any]:
    """A gateway as plain data: what jobs carry and sweeps record (the token's variable name, never a token)."""
    return {"name": target.name, "url": target.url, "token_env": target.token_env,
            "profile": profile_to_dict(target.profile)}


def target_from_dict(d: dict[str, Any]) -> Target:
    return Target(d["name"], d["url"], profile_from_dict(d["profile"]), d.get("token_env"))


def new_sweep_id() -> str:
    """Sortable and short: date, time, and 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def resolve_target(ref: str, profile: str | None, default_profile: str, config: FarmConfig, role: str,
                   probe: str = "embed") -> Target:
    """A gateway from `--legacy NAME|URL`: a name from farm.toml, or a URL with a profile."""
    gw: GatewayConfig | None = config.gateways.get(ref)
    if gw is not None:
        check_url(gw.url, f"gateways.{gw.name}.url")
        prof = resolve_profile(profile or gw.profile, config, key=f"--{role}-profile", probe=probe)
        return Target(gw.name, gw.url, prof, gw.token_env)
    if ref.startswith(("http://", "https://")):
        check_url(ref, f"--{role}")
        prof = resolve_profile(profile or default_profile, config, key=f"--{role}-profile", probe=probe)
        name = role.replace("-", "_")
        return Target(name, ref.rstrip("/"), prof, GatewayConfig.default_token_env(name))
    known = ", ".join(sorted(config.gateways)) or "none configured"
    raise UsageError(f"--{role} {ref!r}: not a gateway name from the config ({known}) nor an http(s):// URL")


def check_url(url: str, where: str) -> None:
    """UsageError unless `url` is an http(s) URL with a host and a port in range (else httpx raises deep inside a
    sweep, or the socket layer an OverflowError)."""
    try:
        parsed = urlsplit(url)
        port = parsed.port  # ValueError on a port out of range or not a number
    except ValueError as exc:
        raise UsageError(f"{where} {url!r}: not a valid URL ({exc})") from None
    if not parsed.hostname:
        raise UsageError(f"{where} {url!r}: not a valid URL (no host)")
    if port == 0:
        raise UsageError(f"{where} {url!r}: not a valid URL (port 0)")


def retry_of(req: SweepRequest) -> RetryPolicy:
    """The request's gateway-call policy: attempts, read timeout, request deadline, size cap."""
    cap = int(req.max_body_mb * 2**20) if req.max_body_mb is not None else MAX_BODY_BYTES
    return RetryPolicy(attempts=req.retries + 1, timeout=req.timeout, deadline=req.deadline, max_body_bytes=cap)


def build_spec(config: FarmConfig, req: SweepRequest) -> SweepSpec:
    """The one way a sweep is specified: from the CLI, a schedule, or the demo."""
    probe = get_probe(req.probe)
    lp, cp = probe.default_profiles
    lt = resolve_target(req.legacy, req.legacy_profile, lp, config, "legacy", req.probe)
    ct = resolve_target(req.candidate, req.candidate_profile, cp, config, "candidate", req.probe)
    secondary = None
    if req.legacy_secondary is not None:
        # A second legacy replica speaks legacy's profile (its own, when it is a configured gateway).
        secondary = resolve_target(req.legacy_secondary, req.legacy_profile or lt.profile.name, lp, config,
                                   "legacy-secondary", req.probe)
    corpus_ref, field_name = req.corpus, req.field
    if corpus_ref is not None and corpus_ref in config.corpora:
        named = config.corpora[corpus_ref]
        corpus_ref, field_name = named.path, field_name or named.field
    if req.corpus_format not in (None, "lines", "jsonl", "requests"):
        raise UsageError(f"--corpus-format {req.corpus_format!r}: expected lines, jsonl or requests")
    if corpus_ref is None and req.corpus_format is not None:
        raise UsageError("--corpus-format needs --corpus FILE")
    if (corpus_ref is not None and field_name is None
            and (req.corpus_format == "jsonl" or (corpus_ref.endswith(".jsonl") and req.corpus_format is None))):
        field_name = "text"
    if req.corpus_format == "requests":
        field_name = None
    limit = req.samples
    if req.until_decided:
        limit = req.max_samples or req.samples or 100_000
    elif req.max_samples is not None:
        raise UsageError("--max-samples only applies with --until-decided (use --samples to cap a sweep)")
    fmt = "requests" if req.corpus_format == "requests" else None
    options = probe.resolve_options(probe_options(probe, req.probe_options), lt.profile, ct.profile)
    listed = probe.gateway_inputs(options)
    if req.order == "file" and req.until_decided:
        raise UsageError("--order file with --until-decided: a sequential stop over the corpus's own order decides "
                         "on whatever comes first (a log sorted by time, statements grouped by feature); drop "
                         "--order file to draw the inputs in random order")
    seed = req.order_seed if req.order_seed is not None else new_seed()
    corpus = CorpusSpec(corpus_ref, field_name, limit, req.seed, fmt, listed.describe if listed else None,
                        order=req.order, order_seed=seed if req.order == "random" else None)
    corpus.validate()
    # Each parameter: the command line, else [thresholds.<probe>], else the probe's default, else the engine's.
    th = config.thresholds_for(req.probe)
    tau = req.tau if req.tau is not None else th.value("tau", probe.default_tau)
    floor = req.floor if req.floor is not None else th.value("floor", probe.default_floor)
    if floor > tau:
        source = "--floor" if req.floor is not None else f"the {req.probe} floor"
        raise UsageError(f"{source} {floor} must not exceed the tau {tau}")
    try:
        params = VerdictParams(tau=tau, p_max=req.p_max if req.p_max is not None else th.value("p_max",
                                                                                              probe.default_p_max),
                               alpha=req.alpha if req.alpha is not None else th.value("alpha", None), floor=floor)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    population = population_of(req, corpus, probe)
    spec = SweepSpec(
        legacy=lt, candidate=ct, corpus=corpus, database_url=config.database_url, model=req.model,
        batch_size=req.batch_size, concurrency=req.concurrency, params=params,
        noise_sample=req.noise_sample if req.noise_sample is not None else th.value("noise_sample",
                                                                                    probe.default_noise_sample),
        until_decided=req.until_decided, retry=retry_of(req),
        probe=req.probe, legacy_secondary=secondary, probe_options=options,
    )
    probe.check_inputs(spec.located_inputs(), options)  # e.g. writes refused
    if population == "corpus" or corpus.path is not None:
        size = sum(1 for _ in spec.located_inputs()) if population == "corpus" else None
        if size == 0 or (size is None and next(spec.located_inputs(), None) is None):
            raise UsageError(f"corpus {corpus.describe()}: no inputs (empty, blank, or every line skipped)")
        if size is not None:
            spec = replace(spec, params=replace(params, population=size))
    return spec


POPULATIONS = ("stream", "corpus")


def population_of(req: SweepRequest, corpus: CorpusSpec, probe: Probe) -> str:
    """What the corpus stands for: a sample of an endless stream (the default for files, captured traffic and
    listings through the gateway: the bounds speak for what they were drawn from, and a listing is not read
    whole before the sweep unless asked) or the whole population of interest (`corpus`: a probe's own choice
    for its files, e.g. a SQL regression suite). A synthetic set is always a stream: it has no end."""
    given = req.population
    if given is not None and given not in POPULATIONS:
        raise UsageError(f"--population {given!r}: expected stream or corpus")
    if corpus.synthetic:
        if given == "corpus":
            raise UsageError("--population corpus needs --corpus FILE (the synthetic set is a stream, not a "
                             "population)")
        return "stream"
    if given is not None:
        return given
    if corpus.listed is not None or corpus.format == "requests":
        return "stream"
    return probe.default_population


def probe_options(probe: Probe, given: dict[str, Any] | None) -> dict[str, Any]:
    """The probe's sweep options: its defaults, overridden by what was given; an unknown one is an error."""
    known = {o.name: o for o in probe.sweep_options}
    values = {name: o.default for name, o in known.items()}
    for name, value in (given or {}).items():
        if name in SHARED_OPTIONS:  # every probe's: compare the documents themselves too, and through what
            if value:
                values[name] = value
            continue
        if name not in known:
            raise UsageError(f"unknown option {name!r} for the {probe.name} probe (known: "
                             f"{', '.join(sorted(known)) or 'none'})")
        if value is not None:
            values[name] = value
    return values


def profiles_of(sweep: Any) -> tuple[Profile, Profile]:
    """The wire profiles a recorded sweep ran with (stored in its row, so no config is needed later)."""
    stored = sweep.params["wire_profiles"]
    return profile_from_dict(stored["legacy"]), profile_from_dict(stored["candidate"])

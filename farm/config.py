"""`farm.toml`: gateways, custom wire profiles, corpora, thresholds, schedules. Parsed here and only here.

Every problem becomes one `ConfigError` naming the file, the key and what is wrong.
Environment variables: `FARM_CONFIG` (path), `FARM_DATABASE_URL`, `FARM_BROKER_URL`,
`FARM_RESULT_URL`; gateway tokens are *never* in the file, only the name of the variable holding them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from farm.distributed.names import gateway_queue
from farm.errors import ConfigError
from farm.stack import StackPorts
from farm.stats.params import VerdictParams

_VERDICT_DEFAULTS = VerdictParams()

DEFAULT_CONFIG_NAME = "farm.toml"
DEFAULT_DATABASE_URL = "sqlite:///.farm/farm.db"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class GatewayConfig:
    """A gateway under test. `token_env` names the variable a worker near it reads its token from."""

    name: str
    url: str
    profile: str
    queue: str
    token_env: str

    @staticmethod
    def default_token_env(name: str) -> str:
        return f"FARM_GATEWAY_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_TOKEN"


@dataclass(frozen=True)
class CorpusConfig:
    name: str
    path: str
    field: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """Verdict parameters for one probe as `[thresholds.<probe>]` sets them; None: not set there (the sweep then
    takes the probe's own default, else the verdict engine's; `farm.sweep.spec.build_spec`). See
    docs/statistics.md."""

    tau: float | None = None
    p_max: float | None = None
    alpha: float | None = None
    floor: float | None = None
    noise_sample: float | None = None

    def value(self, name: str, probe_default: float | None) -> float:
        """This table's value of `name`, else the probe's default, else the engine's."""
        configured: float | None = getattr(self, name)
        if configured is not None:
            return configured
        if probe_default is not None:
            return probe_default
        return 0.0 if name == "noise_sample" else float(getattr(_VERDICT_DEFAULTS, name))


@dataclass(frozen=True)
class ScheduleConfig:
    """A beat entry: `kind` is `sweep` or `audit`; `args` are passed to the task as plain data."""

    name: str
    cron: str
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanEndpoint:
    """One endpoint of a sign-off plan: its probe, the gateway pair to flip (base URLs, resolved from names), the
    paths when the plan pins them, and the weakest verdict parameters a sweep may have to count for it."""

    name: str
    probe: str
    legacy: str
    candidate: str
    legacy_path: str | None
    candidate_path: str | None
    tau: float
    p_max: float
    alpha: float
    floor: float


@dataclass(frozen=True)
class SignoffPlan:
    """`[signoff]`: the endpoints whose every PASS makes the gateway safe to flip, fixed at `created` (UTC):
    sweeps started before it do not count (docs/statistics.md, "Sign-off")."""

    created: datetime
    endpoints: tuple[PlanEndpoint, ...]

    def digest(self) -> str:
        """A short hash of the resolved plan, printed with every sign-off: an edited plan shows a new hash."""
        body = {"created": self.created.isoformat(), "endpoints": [asdict(e) for e in self.endpoints]}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class FarmConfig:
    source: str = "<defaults>"
    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str | None = None
    result_url: str | None = None
    gateways: dict[str, GatewayConfig] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    corpora: dict[str, CorpusConfig] = field(default_factory=dict)
    thresholds: dict[str, Thresholds] = field(default_factory=dict)
    schedules: tuple[ScheduleConfig, ...] = ()
    audit_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    stack_ports: StackPorts = field(default_factory=StackPorts)
    signoff: SignoffPlan | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def thresholds_for(self, probe: str) -> Thresholds:
        return self.thresholds.get(probe, Thresholds())


def _expect(source: str, key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(source, key, f"expected {what}, got {type(value).__name__} {value!r}")
    return value


def _check_keys(source: str, prefix: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(source, f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _parse_gateways(source: str, table: Any) -> dict[str, GatewayConfig]:
    _expect(source, "gateways", table, dict, "a table of gateways")
    out: dict[str, GatewayConfig] = {}
    for name, body in table.items():
        key = f"gateways.{name}"
        if not _NAME_RE.match(name):
            raise ConfigError(source, key, "gateway names are lowercase letters, digits, '-' and '_'")
        _expect(source, key, body, dict, "a table")
        _check_keys(source, key + ".", body, {"url", "profile", "queue", "token_env"})
        url = _expect(source, key + ".url", body.get("url"), str, "a URL string")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(source, key + ".url", f"must start with http:// or https://, got {url!r}")
        profile = _expect(source, key + ".profile", body.get("profile"), str, "a wire profile name")
        queue = _expect(source, key + ".queue", body.get("queue", gateway_queue(name)), str, "a queue name")
        token_env = _expect(
            source, key + ".token_env", body.get("token_env", GatewayConfig.default_token_env(name)), str,
            "an environment variable name",
        )
        out[name] = GatewayConfig(name, url.rstrip("/"), profile, queue, token_env)
    return out


def _parse_thresholds(source: str, table: Any) -> dict[str, Thresholds]:
    _expect(source, "thresholds", table, dict, "a table keyed by probe")
    out: dict[str, Thresholds] = {}
    names = set(Thresholds.__dataclass_fields__)
    for probe, body in table.items():
        key = f"thresholds.{probe}"
        _expect(source, key, body, dict, "a table")
        _check_keys(source, key + ".", body, names)
        values: dict[str, float] = {}
        for name, value in body.items():
            number = float(_expect(source, f"{key}.{name}", value, (int, float), "a number"))
            if not 0.0 <= number <= 1.0:
                raise ConfigError(source, f"{key}.{name}", f"must be between 0 and 1, got {number}")
            values[name] = number
        out[probe] = Thresholds(**values)
    return out


def _parse_schedules(source: str, items: Any) -> tuple[ScheduleConfig, ...]:
    _expect(source, "schedules", items, list, "an array of [[schedules]] tables")
    out = []
    for i, body in enumerate(items):
        key = f"schedules[{i}]"
        _expect(source, key, body, dict, "a table")
        _check_keys(source, key + ".", body, {"name", "cron", "kind", "args"})
        name = _expect(source, key + ".name", body.get("name"), str, "a name")
        cron = _expect(source, key + ".cron", body.get("cron"), str, "a cron expression")
        if len(cron.split()) != 5:
            raise ConfigError(source, key + ".cron", f"expected 5 cron fields, got {cron!r}")
        kind = _expect(source, key + ".kind", body.get("kind"), str, "'sweep' or 'audit'")
        if kind not in ("sweep", "audit"):
            raise ConfigError(source, key + ".kind", f"expected 'sweep' or 'audit', got {kind!r}")
        args = _expect(source, key + ".args", body.get("args", {}), dict, "a table")
        out.append(ScheduleConfig(name, cron, kind, dict(args)))
    return tuple(out)


def _parse_audit(source: str, table: Any) -> dict[str, dict[str, Any]]:
    """`[audit]`: only `profiles`, a table of tables; each profile is validated now (by the module that owns
    profiles), so a bad one is an error naming its key on any command, not a crash on the day it is used."""
    audit = _expect(source, "audit", table, dict, "a table")
    _check_keys(source, "audit.", audit, {"profiles"})
    profiles = _expect(source, "audit.profiles", audit.get("profiles", {}), dict, "a table of audit profiles")
    for name, body in profiles.items():
        _expect(source, f"audit.profiles.{name}", body, dict, "a table")
        from farm.audit.profile import parse_profile  # late, and only when used: keeps config light, no cycle

        parse_profile(name, body, source)
    return {name: dict(body) for name, body in profiles.items()}


def _parse_stack(source: str, table: Any) -> StackPorts:
    """`[stack]`: the ports `farm stack up` listens on (127.0.0.1), and so what `legacy` / `candidate` mean
    without [gateways]."""
    _expect(source, "stack", table, dict, "a table")
    keys = {f"{name}_port": name for name in StackPorts.__dataclass_fields__}
    _check_keys(source, "stack.", table, set(keys))
    ports: dict[str, int] = {}
    for key, name in keys.items():
        if key in table:
            port = _expect(source, f"stack.{key}", table[key], int, "a port number")
            if not 1 <= port <= 65535:
                raise ConfigError(source, f"stack.{key}", f"must be a port between 1 and 65535, got {port}")
            ports[name] = port
    return StackPorts(**ports)


def parse_config(data: dict[str, Any], source: str) -> FarmConfig:
    """Validate a parsed TOML document; raise `ConfigError` on the first problem."""
    _check_keys(
        source, "", data,
        {"database", "broker", "gateways", "profiles", "corpora", "thresholds", "schedules", "audit", "stack",
         "signoff"},
    )
    database = _expect(source, "database", data.get("database", {}), dict, "a table")
    _check_keys(source, "database.", database, {"url"})
    broker = _expect(source, "broker", data.get("broker", {}), dict, "a table")
    _check_keys(source, "broker.", broker, {"url", "result_url"})
    profiles = _expect(source, "profiles", data.get("profiles", {}), dict, "a table of wire profiles")
    for name, body in profiles.items():
        _expect(source, f"profiles.{name}", body, dict, "a table")
    corpora_raw = _expect(source, "corpora", data.get("corpora", {}), dict, "a table")
    corpora = {}
    for name, body in corpora_raw.items():
        _expect(source, f"corpora.{name}", body, dict, "a table")
        _check_keys(source, f"corpora.{name}.", body, {"path", "field"})
        path = _expect(source, f"corpora.{name}.path", body.get("path"), str, "a file path")
        fld = body.get("field")
        if fld is not None:
            _expect(source, f"corpora.{name}.field", fld, str, "a field name")
        corpora[name] = CorpusConfig(name, path, fld)
    config = FarmConfig(
        source=source,
        database_url=_expect(source, "database.url", database.get("url", DEFAULT_DATABASE_URL), str, "a URL"),
        broker_url=broker.get("url"),
        result_url=broker.get("result_url"),
        gateways=_parse_gateways(source, data.get("gateways", {})),
        profiles={k: dict(v) for k, v in profiles.items()},
        corpora=corpora,
        thresholds=_parse_thresholds(source, data.get("thresholds", {})),
        schedules=_parse_schedules(source, data.get("schedules", [])),
        audit_profiles=_parse_audit(source, data.get("audit", {})),
        stack_ports=_parse_stack(source, data.get("stack", {})),
        raw=data,
    )
    if "gateways" not in data:
        config = replace(config, gateways=default_gateways(config.stack_ports))
    # Profiles are validated by the module that owns them; import late to keep config free of cycles.
    from farm.profiles import known_profile

    for gw in config.gateways.values():
        if not known_profile(gw.profile, config):
            raise ConfigError(source, f"gateways.{gw.name}.profile", f"unknown wire profile {gw.profile!r}")
    _check_probe_names(source, data)
    if "signoff" in data:
        config = replace(config, signoff=_parse_signoff(source, data["signoff"], config))
    return config


_PLAN_KEYS = {"probe", "legacy", "candidate", "legacy_path", "candidate_path", "tau", "r_min", "p_max", "alpha",
              "floor"}


def _plan_created(source: str, value: Any) -> datetime:
    """`created`: a TOML date (midnight UTC) or date-time (UTC when it names no offset), or the same as a string."""
    key = "signoff.created"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            raise ConfigError(source, key, f"expected a date (2026-12-01) or date-time, got {value!r}") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ConfigError(source, key, "required: when the plan was fixed, a date (2026-12-01) or date-time "
                      f"(got {type(value).__name__} {value!r})")


def _plan_gateway(source: str, key: str, value: Any, config: FarmConfig) -> str:
    ref: str = _expect(source, key, value, str, "a gateway name from [gateways] or an http(s):// URL")
    if ref in config.gateways:
        return config.gateways[ref].url
    if ref.startswith(("http://", "https://")):
        return ref.rstrip("/")
    known = ", ".join(sorted(config.gateways)) or "none configured"
    raise ConfigError(source, key, f"{ref!r} is not a gateway name ({known}) nor an http(s):// URL")


def _plan_endpoint(source: str, name: str, body: Any, config: FarmConfig) -> PlanEndpoint:
    from farm.probes import get_probe, probe_names  # late: keeps config free of cycles

    key = f"signoff.endpoints.{name}"
    _expect(source, key, body, dict, "a table")
    _check_keys(source, key + ".", body, _PLAN_KEYS)
    probe = _expect(source, key + ".probe", body.get("probe"), str, "a probe name")
    if probe not in probe_names():
        raise ConfigError(source, key + ".probe", f"unknown probe {probe!r} (known: {', '.join(probe_names())})")
    paths: dict[str, str | None] = {}
    for side in ("legacy_path", "candidate_path"):
        path = body.get(side)
        if path is not None and not _expect(source, f"{key}.{side}", path, str, "a path").startswith("/"):
            raise ConfigError(source, f"{key}.{side}", f"a path starts with '/', got {path!r}")
        paths[side] = path
    if "tau" in body and "r_min" in body:
        raise ConfigError(source, key + ".r_min", "r_min is tau under another name: give one of them")
    values: dict[str, float] = {}
    for attr in ("tau", "r_min", "p_max", "alpha", "floor"):
        if attr in body:
            number = float(_expect(source, f"{key}.{attr}", body[attr], (int, float), "a number"))
            if not 0.0 <= number <= 1.0:
                raise ConfigError(source, f"{key}.{attr}", f"must be between 0 and 1, got {number}")
            values["tau" if attr == "r_min" else attr] = number
    # What the plan leaves out is what a sweep of the probe would use by default now: [thresholds.<probe>],
    # else the probe's default; resolved here, so the plan's hash covers the values it is judged by.
    plugin, th = get_probe(probe), config.thresholds_for(probe)
    defaults = {"tau": plugin.default_tau, "p_max": plugin.default_p_max, "alpha": None, "floor": plugin.default_floor}
    resolved = {a: values.get(a, th.value(a, d)) for a, d in defaults.items()}
    try:
        VerdictParams(tau=resolved["tau"], p_max=resolved["p_max"], alpha=resolved["alpha"], floor=resolved["floor"])
    except ValueError as exc:
        raise ConfigError(source, key, str(exc)) from None
    return PlanEndpoint(name, probe, _plan_gateway(source, key + ".legacy", body.get("legacy"), config),
                        _plan_gateway(source, key + ".candidate", body.get("candidate"), config),
                        paths["legacy_path"], paths["candidate_path"], **resolved)


def _parse_signoff(source: str, table: Any, config: FarmConfig) -> SignoffPlan:
    """`[signoff]`: `created` and `[signoff.endpoints.<name>]` tables (see `farm init` and docs/statistics.md)."""
    _expect(source, "signoff", table, dict, "a table")
    _check_keys(source, "signoff.", table, {"created", "endpoints"})
    created = _plan_created(source, table.get("created"))
    endpoints = _expect(source, "signoff.endpoints", table.get("endpoints"), dict,
                        "a table of endpoints ([signoff.endpoints.<name>])")
    if not endpoints:
        raise ConfigError(source, "signoff.endpoints", "the plan names no endpoint")
    return SignoffPlan(created, tuple(_plan_endpoint(source, name, body, config) for name, body in endpoints.items()))


def _check_probe_names(source: str, data: dict[str, Any]) -> None:
    """`[profiles.X] probe = ...` and `[thresholds.P]` name registered probes (plug-ins included), checked at
    load: a misspelt one would otherwise be ignored, or reported later as a missing profile."""
    from farm.probes import PLUGIN_HINT, probe_names

    known = probe_names()

    def check(key: str, name: str) -> None:
        if name not in known:
            raise ConfigError(source, key, f"unknown probe {name!r} (known: {', '.join(known)}; {PLUGIN_HINT})")

    for name, body in data.get("profiles", {}).items():
        probe = body.get("probe")
        if probe is not None:
            _expect(source, f"profiles.{name}.probe", probe, str, "a probe name")
            check(f"profiles.{name}.probe", probe)
    for probe in data.get("thresholds", {}):
        check(f"thresholds.{probe}", probe)


def default_gateways(ports: StackPorts | None = None) -> dict[str, GatewayConfig]:
    """Without [gateways], `legacy` and `candidate` are the demo pair `farm stack up` serves (on [stack] ports)."""
    from farm.stack import default_gateways as stack_pair

    return {name: GatewayConfig(name, url, profile, gateway_queue(name), GatewayConfig.default_token_env(name))
            for name, (url, profile) in stack_pair(ports).items()}


def config_path(explicit: str | None = None) -> Path | None:
    """The config file in force: `--config`, else `FARM_CONFIG`, else `./farm.toml` if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("FARM_CONFIG")
    if env:
        return Path(env)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.exists() else None


def load_config(explicit: str | None = None) -> FarmConfig:
    """Load and validate the config, then apply environment overrides for URLs."""
    path = config_path(explicit)
    if path is None:
        config = FarmConfig(gateways=default_gateways())
    else:
        if not path.is_file():
            raise ConfigError(str(path), "", "config file not found")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), "", f"not valid TOML ({exc})") from None
        except UnicodeDecodeError:
            raise ConfigError(str(path), "", "not UTF-8 text") from None
        config = parse_config(data, str(path))
    overrides: dict[str, Any] = {}
    for env, attr in (
        ("FARM_DATABASE_URL", "database_url"), ("FARM_BROKER_URL", "broker_url"), ("FARM_RESULT_URL", "result_url"),
    ):
        if os.environ.get(env):
            overrides[attr] = os.environ[env]
    if overrides:
        config = replace(config, **overrides)
    return config

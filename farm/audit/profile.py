"""Audit profiles: the default layout, or `[audit.profiles.NAME]` in farm.toml remapping paths and fields.

```toml
[audit.profiles.lakehouse]
paths = { scored_runs = "distill/scored/*.jsonl", sft = "exports/sft.jsonl" }
fields.scored_runs = { verdict = "label", source_id = "src" }
values.verdict = { accepted = "ACCEPT", human = "NEEDS_HUMAN" }
required = ["scored_runs", "quarantine", "sft", "rag", "preference"]
materializer = { command = ["python", "materialize.py"], dry_run_flag = "--dry-run", outputs = ["exports/sft.jsonl"] }
replay = { sample = 50 }
drift = { abs_floor = 5, ratio = 0.10, sigma = 3.0, min_history = 5 }
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from farm.audit.layout import SPECS, VERDICTS
from farm.errors import ConfigError

if TYPE_CHECKING:
    from farm.config import FarmConfig

_KEYS = {"paths", "fields", "values", "required", "materializer", "replay", "drift"}
_MATERIALIZER_KEYS = {"command", "dry_run_flag", "outputs", "timeout_s"}
_DRIFT_KEYS = {"abs_floor", "ratio", "sigma", "min_history", "invariants"}
_REPLAY_KEYS = {"sample"}


@dataclass(frozen=True)
class Materializer:
    command: tuple[str, ...]
    dry_run_flag: str = "--dry-run"
    outputs: tuple[str, ...] = ()
    timeout_s: float = 300.0


@dataclass(frozen=True)
class AuditProfile:
    name: str = "default"
    paths: dict[str, str] = field(default_factory=lambda: {n: s.path for n, s in SPECS.items()})
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    verdict_values: dict[str, str] = field(default_factory=lambda: {v: v for v in VERDICTS})
    required: tuple[str, ...] = tuple(n for n, s in SPECS.items() if s.required)
    materializer: Materializer | None = None
    replay_sample: int = 50
    drift: dict[str, Any] = field(default_factory=dict)

    def field_name(self, dataset: str, logical: str) -> str:
        """The key a record of `dataset` uses for `logical` (identity unless remapped)."""
        return self.fields.get(dataset, {}).get(logical, logical)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, so a Celery task can receive a profile as an argument."""
        mat = self.materializer
        return {
            "name": self.name, "paths": dict(self.paths), "fields": {k: dict(v) for k, v in self.fields.items()},
            "values": {"verdict": dict(self.verdict_values)}, "required": list(self.required),
            "materializer": None if mat is None else {
                "command": list(mat.command), "dry_run_flag": mat.dry_run_flag, "outputs": list(mat.outputs),
                "timeout_s": mat.timeout_s,
            },
            "replay": {"sample": self.replay_sample}, "drift": dict(self.drift),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<profile>") -> AuditProfile:
        body = {k: v for k, v in data.items() if k != "name" and not (k == "materializer" and v is None)}
        return parse_profile(str(data.get("name", "default")), body, source)


def _table(source: str, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(source, key, f"expected a table, got {type(value).__name__}")
    return value


def _str(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(source, key, f"expected a non-empty string, got {value!r}")
    return value


def _number(source: str, key: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(source, key, f"expected a number >= {minimum}, got {value!r}")
    return float(value)


def _integer(source: str, key: str, value: Any, minimum: int) -> int:
    # 1.5 runs or 2.5 earlier runs has no meaning: an integer, never silently truncated
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(source, key, f"expected an integer >= {minimum}, got {value!r}")
    return value


def _positive(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(source, key, f"expected a number > 0, got {value!r}")
    return float(value)


def _unknown(source: str, prefix: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(source, f"{prefix}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _parse_drift(source: str, prefix: str, drift: dict[str, Any]) -> None:
    """Range-check `drift`: the drift table divides by and takes the stdev over these, so a value out of range
    would be a crash or a rule that never fires, found only on the day it matters."""
    _unknown(source, prefix, drift, _DRIFT_KEYS)
    for key, value in drift.items():
        where = f"{prefix}.{key}"
        if key == "invariants":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(source, where, "expected a list of metric names")
        elif key == "min_history":
            _integer(source, where, value, 2)  # a sample stdev needs two earlier runs
        elif key == "sigma":
            _positive(source, where, value)
        else:
            _number(source, where, value)


def parse_profile(name: str, body: dict[str, Any], source: str) -> AuditProfile:
    """Validate one `[audit.profiles.NAME]` table (already parsed TOML)."""
    prefix = f"audit.profiles.{name}"
    for key in body:
        if key not in _KEYS:
            raise ConfigError(source, f"{prefix}.{key}", f"unknown key (allowed: {', '.join(sorted(_KEYS))})")
    base = AuditProfile()
    paths = dict(base.paths)
    for ds, path in _table(source, f"{prefix}.paths", body.get("paths", {})).items():
        if ds not in SPECS:
            raise ConfigError(source, f"{prefix}.paths.{ds}", f"unknown dataset (known: {', '.join(SPECS)})")
        paths[ds] = _str(source, f"{prefix}.paths.{ds}", path)
    fields: dict[str, dict[str, str]] = {}
    for ds, mapping in _table(source, f"{prefix}.fields", body.get("fields", {})).items():
        if ds not in SPECS:
            raise ConfigError(source, f"{prefix}.fields.{ds}", f"unknown dataset (known: {', '.join(SPECS)})")
        known = {f for f, _ in SPECS[ds].fields}
        out: dict[str, str] = {}
        for logical, actual in _table(source, f"{prefix}.fields.{ds}", mapping).items():
            if logical not in known:
                raise ConfigError(
                    source, f"{prefix}.fields.{ds}.{logical}", f"unknown field (known: {', '.join(sorted(known))})"
                )
            out[logical] = _str(source, f"{prefix}.fields.{ds}.{logical}", actual)
        fields[ds] = out
    values = _table(source, f"{prefix}.values", body.get("values", {}))
    verdicts = dict(base.verdict_values)
    for kind, mapping in values.items():
        if kind != "verdict":
            raise ConfigError(source, f"{prefix}.values.{kind}", "only `verdict` values can be remapped")
        for logical, actual in _table(source, f"{prefix}.values.verdict", mapping).items():
            if logical not in VERDICTS:
                raise ConfigError(source, f"{prefix}.values.verdict.{logical}", f"expected one of {VERDICTS}")
            verdicts[logical] = _str(source, f"{prefix}.values.verdict.{logical}", actual)
    required = body.get("required", list(base.required))
    if not isinstance(required, list) or any(r not in SPECS for r in required):
        raise ConfigError(source, f"{prefix}.required", f"expected a list of dataset names from {', '.join(SPECS)}")
    materializer = None
    if "materializer" in body:
        mat = _table(source, f"{prefix}.materializer", body["materializer"])
        for key in mat:
            if key not in _MATERIALIZER_KEYS:
                raise ConfigError(source, f"{prefix}.materializer.{key}", "unknown key")
        command = mat.get("command")
        if isinstance(command, str):
            command = command.split()
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise ConfigError(source, f"{prefix}.materializer.command", "expected a command (list of strings)")
        outputs = mat.get("outputs", [])
        if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
            raise ConfigError(source, f"{prefix}.materializer.outputs", "expected a list of paths")
        materializer = Materializer(
            tuple(command), _str(source, f"{prefix}.materializer.dry_run_flag", mat.get("dry_run_flag", "--dry-run")),
            tuple(outputs), _number(source, f"{prefix}.materializer.timeout_s", mat.get("timeout_s", 300.0), 0.001),
        )
    replay = _table(source, f"{prefix}.replay", body.get("replay", {}))
    _unknown(source, f"{prefix}.replay", replay, _REPLAY_KEYS)
    sample = _integer(source, f"{prefix}.replay.sample", replay.get("sample", 50), 1)
    drift = _table(source, f"{prefix}.drift", body.get("drift", {}))
    _parse_drift(source, f"{prefix}.drift", drift)
    return AuditProfile(
        name=name, paths=paths, fields=fields, verdict_values=verdicts, required=tuple(required),
        materializer=materializer, replay_sample=sample, drift=dict(drift),
    )


def profile_from_config(config: FarmConfig, name: str | None) -> AuditProfile:
    """The named profile from farm.toml; `None` or `default` (when not defined) is the built-in layout."""
    if name is None or (name == "default" and name not in config.audit_profiles):
        return AuditProfile()
    if name not in config.audit_profiles:
        known = ", ".join(sorted(config.audit_profiles)) or "none defined"
        raise ConfigError(config.source, f"audit.profiles.{name}", f"no such audit profile (known: {known})")
    return parse_profile(name, config.audit_profiles[name], config.source)

"""Wire profiles, shared machinery: dotted paths, `[profiles.X]` tables, serialising and resolving profiles.

Each probe defines its profile type and presets in its own folder (`farm/probes/<name>/profile.py`); a
`[profiles.NAME]` table in farm.toml declares a custom one for the probe its `probe` key names (default
`embed`), optionally starting from a preset (`base = "openai"`). Every error names the file and the key.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import TYPE_CHECKING, Any

from farm.errors import ConfigError
from farm.probes.base import MalformedBody, Profile

if TYPE_CHECKING:
    from farm.config import FarmConfig
    from farm.probes.base import Probe

__all__ = ["MalformedBody", "Profile", "get_path", "profile_from_dict", "profile_from_table", "profile_to_dict",
           "resolve_profile", "set_path"]

DEFAULT_PROBE = "embed"


def get_path(doc: Any, path: str) -> Any:
    """Read a dotted path; a `name[]` step maps the rest of the path over the array. None when absent."""
    if not path:
        return doc
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = doc.get(head[:-2]) if isinstance(doc, dict) else None
        if not isinstance(items, list):
            return None
        return [get_path(item, rest) for item in items]
    value = doc.get(head) if isinstance(doc, dict) else None
    return get_path(value, rest) if rest and value is not None else value


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Write `value` at a dotted path, creating objects; under `name[]`, `value` is a list spread over items.
    Whatever is in the way (a null, a number where an object or a list must go) is replaced, so any
    document can be written into (the adapter map reshapes whatever a candidate sent)."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = doc.get(head[:-2])
        if not isinstance(items, list):
            items = doc[head[:-2]] = []
        values = list(value) if isinstance(value, list | tuple) else [value]
        while len(items) < len(values):
            items.append({})
        for i, v in enumerate(values):
            if not isinstance(items[i], dict):
                items[i] = {}
            set_path(items[i], rest, v)
        return
    if not rest:
        doc[head] = value
        return
    child = doc.get(head)
    if not isinstance(child, dict):
        child = doc[head] = {}
    set_path(child, rest, value)


def _probe(name: str) -> Probe:
    from farm.probes import get_probe

    return get_probe(name)


def _kinds(profile_type: type[Profile]) -> dict[str, Any]:
    return typing.get_type_hints(profile_type)


def _check_value(source: str, key: str, hint: Any, value: Any) -> Any:
    """A table value against the profile field's type; returns it as the field stores it."""
    text = str(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {value!r}")
        return value
    if "tuple" in text:
        if not (isinstance(value, list) and all(isinstance(i, str) for i in value)):
            raise ConfigError(source, key, "expected a list of field paths")
        return tuple(value)
    if "dict" in text:
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a table, got {value!r}")
        return value
    if hint in (int, float) or text in ("int | None", "float | None"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(source, key, f"expected a number, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ConfigError(source, key, f"expected a string, got {value!r}")
    return value


def profile_from_table(name: str, table: dict[str, Any], source: str) -> Profile:
    """Build a custom profile from `[profiles.NAME]`; `probe` picks the probe, `base` starts from a preset."""
    key = f"profiles.{name}"
    probe_name = table.get("probe", DEFAULT_PROBE)
    if not isinstance(probe_name, str):
        raise ConfigError(source, f"{key}.probe", f"expected a probe name, got {probe_name!r}")
    try:
        probe = _probe(probe_name)
    except Exception as exc:  # the registry's UsageError, worded for the file
        raise ConfigError(source, f"{key}.probe", str(exc)) from None
    kinds = _kinds(probe.profile_type)
    allowed = (set(kinds) - {"name", "probe"}) | {"base", "probe"}
    for k in table:
        if k not in allowed:
            raise ConfigError(source, f"{key}.{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    values: dict[str, Any] = {}
    base_name = table.get("base")
    if base_name is not None:
        if not isinstance(base_name, str) or base_name not in probe.presets:
            raise ConfigError(source, f"{key}.base",
                              f"unknown preset {base_name!r} (known: {', '.join(probe.presets)})")
        base = probe.presets[base_name]
        values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    for k, v in table.items():
        if k not in ("base", "probe"):
            values[k] = _check_value(source, f"{key}.{k}", kinds[k], v)
    values["name"] = name
    for f in dataclasses.fields(probe.profile_type):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name != "name" and not values.get(f.name):
            raise ConfigError(source, f"{key}.{f.name}", "required (or set `base` to a preset)")
    if not str(values["path"]).startswith("/"):
        raise ConfigError(source, f"{key}.path", f"must start with '/', got {values['path']!r}")
    values["method"] = str(values.get("method", "POST")).upper()
    if values["method"] not in ("POST", "PUT", "GET"):
        raise ConfigError(source, f"{key}.method", f"unsupported method {values['method']!r}")
    try:
        return probe.profile_type(**values)
    except ValueError as exc:  # the profile type's own check of a value (an sql profile's dialect)
        raise ConfigError(source, key, str(exc)) from None


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """A profile as plain data (profiles travel in task messages and sweep rows), its probe named."""
    out = {f.name: list(v) if isinstance(v := getattr(profile, f.name), tuple) else v
           for f in dataclasses.fields(profile)}
    return {"probe": profile.probe, **out}


def profile_from_dict(d: dict[str, Any]) -> Profile:
    """The inverse of `profile_to_dict`; rows recorded before probes were plug-ins are embed profiles."""
    probe = _probe(d.get("probe", DEFAULT_PROBE))
    kinds = _kinds(probe.profile_type)
    values: dict[str, Any] = {k: tuple(v) if "tuple" in str(kinds[k]) else v for k, v in d.items()
                              if k in kinds and k != "probe"}
    return probe.profile_type(**values)


def resolve_profile(name: str, config: FarmConfig | None = None, key: str = "profile",
                    probe: str = DEFAULT_PROBE) -> Profile:
    """A profile of `probe` by name: custom ones from the config shadow the presets."""
    presets = _probe(probe).presets
    if config is not None and name in config.profiles:
        table = config.profiles[name]
        if table.get("probe", DEFAULT_PROBE) == probe:
            return profile_from_table(name, table, config.source)
    if name in presets:
        return presets[name]
    custom = {n for n, t in (config.profiles.items() if config else ()) if t.get("probe", DEFAULT_PROBE) == probe}
    known = sorted(set(presets) | custom)
    source = config.source if config is not None else "<arguments>"
    raise ConfigError(source, key, f"unknown {probe} wire profile {name!r} (known: {', '.join(known)})")


def known_profile(name: str, config: FarmConfig) -> bool:
    """Whether any probe has a profile called `name` (a gateway's profile names one preset family)."""
    from farm.probes import probe_names

    return name in config.profiles or any(name in _probe(p).presets for p in probe_names())

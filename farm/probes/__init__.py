"""The registry of probes. Each probe is a folder `farm/probes/<name>/` registering one `Probe`.

Built-in probes are imported on first use; plug-ins outside the package name their modules in
`FARM_PROBE_MODULES` (comma-separated), which every process of a fleet reads, workers included.
"""

from __future__ import annotations

import importlib
import os

from farm.errors import UsageError
from farm.probes.base import Probe, Profile

BUILTIN = ("embed", "search", "retrieve", "sql", "storage", "chat")
_REGISTRY: dict[str, Probe] = {}
_loaded = False


def register(probe: Probe) -> Probe:
    """Add a probe (idempotent per name: a module imported twice registers once)."""
    _REGISTRY[probe.name] = probe
    return probe


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in BUILTIN:
        importlib.import_module(f"farm.probes.{name}")
    for module in filter(None, (m.strip() for m in os.environ.get("FARM_PROBE_MODULES", "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"FARM_PROBE_MODULES: cannot import {module!r}: {exc}") from None


def get_probe(name: str) -> Probe:
    _load()
    probe = _REGISTRY.get(name)
    if probe is None:
        raise UsageError(f"unknown probe {name!r} (known: {', '.join(sorted(_REGISTRY))})")
    return probe


def probe_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def probe_of(profile: Profile) -> Probe:
    return get_probe(profile.probe)


__all__ = ["Probe", "Profile", "get_probe", "probe_names", "probe_of", "register"]

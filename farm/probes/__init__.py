"""The registry of probes. Each probe is a folder `farm/probes/<name>/` registering one `Probe`.

Built-in probes are imported on first use; plug-ins outside the package are found two ways, in every process of
a fleet (workers included): an installed distribution's entry points in the `farm.probes` group (`[project.
entry-points."farm.probes"] rerank = "farm_rerank"`, the module or its `Probe` instance; found by
importlib.metadata, as pytest finds its plug-ins), and modules named in `FARM_PROBE_MODULES` (comma-separated).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os

from farm.errors import UsageError
from farm.probes.base import Probe, Profile

BUILTIN = ("embed", "search", "retrieve", "sql", "storage", "chat")
_REGISTRY: dict[str, Probe] = {}
_loaded = False
ENTRY_POINTS = "farm.probes"
PLUGIN_HINT = (f"plug-ins load from installed packages' `{ENTRY_POINTS}` entry points and from the modules in "
               "FARM_PROBE_MODULES")


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
    for entry in importlib.metadata.entry_points(group=ENTRY_POINTS):
        try:
            loaded = entry.load()  # importing the module registers its probe
        except Exception as exc:  # a broken plug-in is the user's to fix: one line naming it
            dist = f" ({entry.dist.name})" if entry.dist is not None else ""
            raise UsageError(f"entry point {entry.name} = {entry.value!r}{dist} in {ENTRY_POINTS!r}: cannot load: "
                             f"{type(exc).__name__}: {exc}") from None
        if isinstance(loaded, Probe):
            register(loaded)
    for module in filter(None, (m.strip() for m in os.environ.get("FARM_PROBE_MODULES", "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"FARM_PROBE_MODULES: cannot import {module!r}: {exc}") from None


def get_probe(name: str) -> Probe:
    _load()
    probe = _REGISTRY.get(name)
    if probe is None:
        raise UsageError(f"unknown probe {name!r} (known: {', '.join(sorted(_REGISTRY))}; {PLUGIN_HINT})")
    return probe


def probe_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def probe_of(profile: Profile) -> Probe:
    return get_probe(profile.probe)


__all__ = ["ENTRY_POINTS", "PLUGIN_HINT", "Probe", "Profile", "get_probe", "probe_names", "probe_of", "register"]

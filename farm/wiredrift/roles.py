"""Field roles: what a probe knows about its own fields, that the structural diff does not.

The shared diff (`structure.py`) finds renamed, missing, extra, retyped, reordered and rescaled fields of any
JSON. A probe's `DriftRoles` adds what only it can say: which field carries its main values (vectors, hits,
rows), which echoes the model, which request field holds the inputs; the catalog's first rows
(URL, and the probe's own), and the facts they are inferred from. This base class is the generic one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from farm.probes.base import Profile
from farm.wiredrift.rows import DriftRow


@dataclass(frozen=True)
class RoleFields:
    """One side's inferred role fields (None: the side has no such field)."""

    vectors: str | None = None  # the main values: arrays whose norms are tracked and normalised
    dim: str | None = None      # derivable from the main values (their length)
    model: str | None = None
    texts: str | None = None    # the request field holding the inputs
    extra: tuple[str, ...] = ()  # other fields the probe's own rows explain (hit ids, scores...)
    paired: tuple[str, ...] = ()  # fields the probe's rows pair with the other side's: never missing or extra

    def paths(self) -> set[str]:
        return {p for p in (self.vectors, self.dim, self.model, *self.extra) if p is not None}


def choose(facts: dict[str, Any], key: str, hint: str | None, *, majority: bool = True) -> str | None:
    """The inferred path for `key`: the profile's when observed, else the most frequent; None when not seen.

    With `majority`, a field must have matched in at least half the batches (one coincidental 768 is no
    dimension field). With nothing observed at all, the profile's declaration stands.
    """
    if facts["docs"] == 0:
        return hint
    counts: dict[str, int] = facts.get(key, {})
    ok = {p: n for p, n in counts.items() if not majority or n * 2 >= facts["docs"]}
    if hint is not None and hint in ok:
        return hint
    if not ok:
        return None
    return max(sorted(ok), key=lambda p: ok[p])


def url_row(legacy: Profile, candidate: Profile) -> DriftRow:
    return DriftRow("url", "URL prefix", f"`{legacy.path}`", f"`{candidate.path}`", legacy.path == candidate.path,
                    {"legacy_path": legacy.path, "candidate_path": candidate.path,
                     "legacy_method": legacy.method, "candidate_method": candidate.method})


class DriftRoles:
    """Generic roles: no inferred fields; the catalog starts with the URL row."""

    fact_keys: tuple[str, ...] = ()

    def empty_facts(self) -> dict[str, Any]:
        return {"docs": 0, **{k: {} for k in self.fact_keys}}

    def observe_facts(self, facts: dict[str, Any], profile: Profile, request: Any, flat: dict[str, Any]) -> str | None:
        """Record one response's facts; returns the path of its main values (None: none to track)."""
        facts["docs"] += 1
        return None

    def merge_facts(self, facts: dict[str, Any], other: dict[str, Any]) -> None:
        facts["docs"] += other["docs"]
        for key in self.fact_keys:
            for p, n in other[key].items():
                facts[key][p] = facts[key].get(p, 0) + n

    def values_path(self, facts: dict[str, Any], profile: Profile) -> str | None:
        """Where the main values are, once the full diff has stopped (norms are still tracked)."""
        return None

    def fields(self, state: dict[str, Any], profile: Profile, side: str) -> RoleFields:
        return RoleFields()

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        return [url_row(legacy, candidate)]

    def adapter_moves(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        """Renames the probe knows (`{"from": candidate path, "to": legacy path}`), before the inferred ones."""
        return []

    def adapter_ops(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        """Value transforms after the moves, in legacy paths (e.g. `{"op": "affine", "path": "results[].score",
        "scale": -1.0, "offset": 1.0}` turns a distance into a similarity)."""
        return []

    def adapter_claims(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> tuple[
            tuple[str, ...], tuple[str, ...]]:
        """(legacy paths, candidate paths) that `adapter_ops` rebuilds and consumes, as path prefixes: the shared
        map then neither drops the candidate's nor calls the legacy's unknown (e.g. sql rows keyed by column
        names, which are data, not wire fields)."""
        return (), ()

    def adapter_notes(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> dict[str, Any]:
        """What an adapter must do beyond reshaping one document (e.g. reframe a stream), under `probe`."""
        return {}

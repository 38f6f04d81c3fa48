"""Retrieve field roles: the search roles, plus the fusion parts (lexical-only and vector-only top-k ids) when
the profiles expose them: a catalog row for each, and the adapter moves between their paths."""

from __future__ import annotations

from typing import Any

from farm.probes.base import Profile
from farm.probes.retrieve.profile import RetrieveProfile
from farm.probes.search.drift import SearchRoles
from farm.wiredrift.roles import RoleFields
from farm.wiredrift.rows import DriftRow


def _retrieve(profile: Profile) -> RetrieveProfile:
    assert isinstance(profile, RetrieveProfile)
    return profile


def _code(path: str | None) -> str:
    return f"`{path}`" if path is not None else "(not exposed)"


class RetrieveRoles(SearchRoles):
    def fields(self, state: dict[str, Any], profile: Profile, side: str) -> RoleFields:
        base = super().fields(state, profile, side)
        p = _retrieve(profile)
        parts = tuple(x for x in (p.lexical_path, p.vector_path) if x is not None)
        return RoleFields(texts=base.texts, extra=base.extra + parts)

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        lp, cp = _retrieve(legacy), _retrieve(candidate)
        rows = super().rows(state, legacy, candidate)
        for label, lpath, cpath in (("lexical", lp.lexical_path, cp.lexical_path),
                                    ("vector", lp.vector_path, cp.vector_path)):
            if lpath or cpath:
                rows.append(DriftRow(f"{label}_part", f"Response: {label}-only top-k ids", _code(lpath),
                                     _code(cpath), lpath == cpath, {"legacy_path": lpath, "candidate_path": cpath}))
        return rows

    def adapter_moves(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        lp, cp = _retrieve(legacy), _retrieve(candidate)
        moves = super().adapter_moves(state, legacy, candidate)
        for lpath, cpath in ((lp.lexical_path, cp.lexical_path), (lp.vector_path, cp.vector_path)):
            if lpath and cpath and lpath != cpath:
                moves.append({"from": cpath, "to": lpath})
        return moves

"""DriftObserver: streaming, mergeable wire-drift inference over a sweep's batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from farm.probes.base import Profile
from farm.profiles import get_path
from farm.wiredrift.adapter import build_adapter_map
from farm.wiredrift.catalog import build_catalog, drift_roles
from farm.wiredrift.norms import empty_norms, merge_norms, update_norms
from farm.wiredrift.rows import DriftRow
from farm.wiredrift.structure import SIDES, empty_scope, merge_scope, observe_scope
from farm.wiredrift.values import as_array, flatten

STATE_VERSION = 1
# Batches whose full documents are diffed: drift is structural and shows at once; norms cover every batch.
DOC_BATCHES = 16
INPUT_DOCS = 32  # per batch's worth, for probes observed per input: 512 documents diffed in all


def empty_strict() -> dict[str, Any]:
    return {"samples": 0, "differ": 0, "paths": {}}


class DriftObserver:
    """Infers the wire-drift catalog between two gateways from their requests and responses.

    `observe` is called once per batch, or once per input for a probe that sends a request per input
    (`full=True`: every such response feeds the probe's facts, the first 512 the structural diff). The structural
    diff of batch documents runs on the first `max_docs` batches only (drift is structural: it shows at once, and
    the diff of a batch's document is the costly part); vector norms are folded in on every batch with numpy, unless the
    caller supplies them through `observe_norms`. Error bodies both sides sent for one input (`observe_errors`)
    are diffed in a scope of their own. The state is plain JSON (`to_dict` / `from_dict`), and observers of
    disjoint batches `merge` into the one-pass result.
    """

    def __init__(self, legacy: Profile, candidate: Profile, *, max_docs: int = DOC_BATCHES) -> None:
        self.legacy = legacy
        self.candidate = candidate
        self.roles = drift_roles(legacy)
        # Ignored / unordered paths of either profile apply to both sides: a field ignored on one side
        # must not come back as "extra" from the other.
        self._ignore = tuple(dict.fromkeys(legacy.ignore_fields + candidate.ignore_fields))
        self._unordered = tuple(dict.fromkeys(legacy.unordered_arrays + candidate.unordered_arrays))
        self._external_norms = False
        self._vec_paths: dict[str, str | None] | None = None
        self._state: dict[str, Any] = {
            "version": STATE_VERSION,
            "legacy": legacy.name,
            "candidate": candidate.name,
            "max_docs": max_docs,
            "batches": 0,
            "docs": 0,
            "errors": dict.fromkeys(SIDES, 0),
            "norms": {side: empty_norms() for side in SIDES},
            "facts": {side: self.roles.empty_facts() for side in SIDES},
            "response": empty_scope(),
            "request": empty_scope(),
            "error_docs": 0,
            "error": empty_scope(),
        }

    @property
    def batches(self) -> int:
        return int(self._state["batches"])

    @property
    def docs(self) -> int:
        """Batches that went through the full structural diff."""
        return int(self._state["docs"])

    def observe(
        self,
        legacy_request: dict[str, Any],
        legacy_response: Any,
        candidate_request: dict[str, Any],
        candidate_response: Any,
        *,
        norms: bool | None = None,
        full: bool = False,
    ) -> None:
        """Fold in one batch (or one input's exchange). `norms=None` computes vector norms here unless
        `observe_norms` has been used; `full` diffs the documents past `max_docs` too."""
        st = self._state
        st["batches"] += 1
        used: dict[str, str | None] = dict.fromkeys(SIDES)
        valid = isinstance(legacy_response, dict | list) and isinstance(candidate_response, dict | list)
        if not valid:
            # An error body on either side says nothing about the wire format; it is the verdict's business.
            for side, resp in (("legacy", legacy_response), ("candidate", candidate_response)):
                st["errors"][side] += not isinstance(resp, dict | list)
            return
        if full or st["docs"] < st["max_docs"]:
            self._vec_paths = None
            flats = {}
            for side, profile, req, resp in (("legacy", self.legacy, legacy_request, legacy_response),
                                             ("candidate", self.candidate, candidate_request, candidate_response)):
                flats[side] = (flatten(req, self._ignore) if isinstance(req, dict) else {},
                               flatten(resp, self._ignore))
                used[side] = self.roles.observe_facts(st["facts"][side], profile, req, flats[side][1])
            # The probe's facts (type names, numbers as strings...) come from every document; the structural diff,
            # the costly part, from the first max_docs batches or max_docs x INPUT_DOCS inputs' documents (its
            # rows say "in n of N responses", N being those diffed).
            if st["docs"] < st["max_docs"] * (INPUT_DOCS if full else 1):
                st["docs"] += 1
                observe_scope(st["response"], flats["legacy"][1], flats["candidate"][1], self._unordered)
                observe_scope(st["request"], flats["legacy"][0], flats["candidate"][0], self._unordered)
        else:
            used = self._inferred_vector_paths()
        if norms if norms is not None else not self._external_norms:
            for side, profile, resp in (("legacy", self.legacy, legacy_response),
                                        ("candidate", self.candidate, candidate_response)):
                path = used[side] or self.roles.values_path(st["facts"][side], profile)
                arr = as_array(get_path(resp, path)) if path is not None else None
                if arr is not None:
                    update_norms(st["norms"][side], np.linalg.norm(arr, axis=1))

    def observe_errors(self, legacy_error: Any, candidate_error: Any) -> None:
        """Fold in the error bodies both sides sent for one input (an engine refusing a statement on both)."""
        if not (isinstance(legacy_error, dict | list) and isinstance(candidate_error, dict | list)):
            return
        st = self._state
        st.setdefault("error", empty_scope())
        st["error_docs"] = st.get("error_docs", 0) + 1
        observe_scope(st["error"], flatten(legacy_error, self._ignore), flatten(candidate_error, self._ignore),
                      self._unordered)

    def observe_strict(self, per_sample: list[list[str]]) -> None:
        """`--strict-wire`: the differing field paths of each sample's documents (empty: the same)."""
        st = self._state.setdefault("strict", empty_strict())
        st["samples"] += len(per_sample)
        for paths in per_sample:
            st["differ"] += bool(paths)
            for p in paths:
                st["paths"][p] = st["paths"].get(p, 0) + 1

    def strict(self) -> dict[str, Any] | None:
        """The strict-wire counts (samples compared, samples whose documents differ, per path), if observed."""
        st = self._state.get("strict")
        return orjson.loads(orjson.dumps(st)) if st is not None else None

    def observe_norms(self, legacy_norms: npt.ArrayLike, candidate_norms: npt.ArrayLike) -> None:
        """Norms the caller already computed; from now on `observe` leaves norms to the caller."""
        self._external_norms = True
        update_norms(self._state["norms"]["legacy"], legacy_norms)
        update_norms(self._state["norms"]["candidate"], candidate_norms)

    def _inferred_vector_paths(self) -> dict[str, str | None]:
        if self._vec_paths is None:
            facts = self._state["facts"]
            self._vec_paths = {"legacy": self.roles.values_path(facts["legacy"], self.legacy),
                               "candidate": self.roles.values_path(facts["candidate"], self.candidate)}
        return self._vec_paths

    def to_dict(self) -> dict[str, Any]:
        # A JSON round trip is both the deep copy and the proof that the state is plain JSON.
        state: dict[str, Any] = orjson.loads(orjson.dumps(self._state))
        return state

    @classmethod
    def from_dict(cls, d: dict[str, Any], legacy: Profile, candidate: Profile) -> DriftObserver:
        if d.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported drift state version {d.get('version')!r} (expected {STATE_VERSION})")
        obs = cls(legacy, candidate, max_docs=int(d["max_docs"]))
        obs._state = orjson.loads(orjson.dumps(d))
        return obs

    def merge(self, other: DriftObserver) -> None:
        """Add another observer's batches (distributed sweeps: one observer per worker or per batch)."""
        st, ot = self._state, other._state
        if (st["legacy"], st["candidate"]) != (ot["legacy"], ot["candidate"]):
            raise ValueError(f"cannot merge drift of {ot['legacy']} vs {ot['candidate']} into "
                             f"{st['legacy']} vs {st['candidate']}")
        st["batches"] += ot["batches"]
        st["docs"] += ot["docs"]
        for side in SIDES:
            st["errors"][side] += ot["errors"][side]
            merge_norms(st["norms"][side], ot["norms"][side])
            self.roles.merge_facts(st["facts"][side], ot["facts"][side])
        merge_scope(st["response"], ot["response"])
        merge_scope(st["request"], ot["request"])
        if ot.get("strict") is not None:
            mine = st.setdefault("strict", empty_strict())
            mine["samples"] += ot["strict"]["samples"]
            mine["differ"] += ot["strict"]["differ"]
            for p, n in ot["strict"]["paths"].items():
                mine["paths"][p] = mine["paths"].get(p, 0) + n
        if ot.get("error_docs"):
            st["error_docs"] = st.get("error_docs", 0) + ot["error_docs"]
            merge_scope(st.setdefault("error", empty_scope()), ot["error"])
        self._vec_paths = None

    def catalog(self) -> list[DriftRow]:
        return build_catalog(self._state, self.legacy, self.candidate)

    def adapter_map(self) -> dict[str, Any]:
        return build_adapter_map(self._state, self.legacy, self.candidate)

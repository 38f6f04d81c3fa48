"""Phase 4: contamination firewall.

A source is contaminated when a scored record from it was rejected or when it is quarantined. No export row
(SFT, RAG, preference) may come from a contaminated source; no preference pair may have the same text on both
sides (compared after trimming whitespace); every export row's `sig_hash` is exactly 64 lowercase hex
characters and appears once across all exports (a repeated training row is over-weighted, and the same row in
SFT and RAG puts training text into the retrieval index: both are contamination). A firewall with no barred
source, or no export row, to check is INCONCLUSIVE, not PASS. Quarantine lines repeating a source are counted
once (`p4_total_quarantined` is distinct source ids) and reported (advisory).

Memory: the sets of rejected and quarantined source ids and one hash per export row (never the rows).
"""

from __future__ import annotations

import re
from itertools import compress, repeat
from operator import eq
from typing import Any

from farm.audit.batch import Batch
from farm.audit.layout import PREFERENCE, QUARANTINE, RAG, SCORED_RUNS, SFT
from farm.audit.profile import AuditProfile
from farm.audit.result import FAIL, INCONCLUSIVE, Check, PhaseResult
from farm.audit.scan import Offenders
from farm.audit.unique import Seen, repeats_in

SIG_HASH = re.compile(r"[0-9a-f]{64}")
_HEX_AND_NEWLINE = b"0123456789abcdef\n"
_ROW_METRIC = {SFT: "p4_sft_rows", RAG: "p4_rag_rows", PREFERENCE: "p4_pref_pairs"}
_DIRTY_METRIC = {SFT: "p4_sft_contaminated", RAG: "p4_rag_contaminated", PREFERENCE: "p4_pref_contaminated"}


def valid_sig_hash(value: object) -> bool:
    return type(value) is str and SIG_HASH.fullmatch(value) is not None


def _all_valid_sig_hashes(joined: str | None, n: int) -> bool:
    """Batch test on a column's values joined with newlines (`Batch.joined`; None when not all strings): every
    value is exactly 64 lowercase hex characters. C-level passes over the joined text, no per-value work: only
    hex digits and newlines (ASCII, and nothing left once those bytes are deleted), exactly n - 1 newlines, and
    those at every 65th character, so each value is 64 hex digits."""
    if n == 0:
        return True
    if joined is None or len(joined) != 65 * n - 1 or not joined.isascii() or joined.count("\n") != n - 1:
        return False
    return joined[64::65] == "\n" * (n - 1) and not joined.encode("ascii").translate(None, _HEX_AND_NEWLINE)


def _add_hashable(target: set[Any], items: list[Any]) -> None:
    """Add source ids to a set at C speed; non-string ids (phase 1 reports them) are left out."""
    try:
        target.update(items)
    except TypeError:
        target.update(v for v in items if type(v) is str)
    target.discard(None)


def _hashable_strs(values: list[Any]) -> list[Any]:
    return [v if type(v) is str else None for v in values]


class FirewallFold:
    datasets: tuple[str, ...] = (SCORED_RUNS, QUARANTINE, SFT, RAG, PREFERENCE)

    def __init__(self, profile: AuditProfile) -> None:
        self.verdict = profile.field_name(SCORED_RUNS, "verdict")
        self.rejected_value = profile.verdict_values["rejected"]
        self.scored_source = profile.field_name(SCORED_RUNS, "source_id")
        self.q_source = profile.field_name(QUARANTINE, "source_id")
        self.rejected: set[Any] = set()
        self.quarantine: set[Any] = set()
        self.q_seen = Seen()
        self.q_repeats = Offenders()
        self.sig_seen = Seen()  # one namespace for all exports: a repeat across SFT and RAG is a repeat
        self.sig_repeats = Offenders()
        self.rows = {SFT: 0, RAG: 0, PREFERENCE: 0}
        self.dirty = {SFT: 0, RAG: 0, PREFERENCE: 0}
        self.source = {ds: profile.field_name(ds, "source_id") for ds in self.rows}
        self.sig = {ds: profile.field_name(ds, "sig_hash") for ds in self.rows}
        self.chosen = profile.field_name(PREFERENCE, "chosen")
        self.rejected_side = profile.field_name(PREFERENCE, "rejected")
        self.firewall = Offenders()
        self.self_pairs = Offenders()
        self.bad_hash = Offenders()

    def start(self, files: dict[str, list[str]]) -> None:
        pass

    def feed(self, dataset: str, batch: Batch) -> None:
        recs = batch.recs
        if dataset == SCORED_RUNS:
            verdicts, sources = batch.cols((self.verdict, self.scored_source))
            distinct = batch.distinct(self.verdict)
            if distinct is None or self.rejected_value in distinct:
                is_rejected = map(eq, verdicts, repeat(self.rejected_value))
                _add_hashable(self.rejected, list(compress(sources, is_rejected)))
            return
        if dataset == QUARANTINE:
            _add_hashable(self.quarantine, batch.cols((self.q_source,))[0])
            for i, first in repeats_in(batch, self.q_seen, (self.q_source,)):
                self.q_repeats.add(batch.rel, batch.line(i), f"source {recs[i].get(self.q_source)!r:.60} already "
                                   f"quarantined at {first}")
            return
        self.rows[dataset] += len(recs)
        sources = batch.cols((self.source[dataset],))[0]
        try:
            clean = self.rejected.isdisjoint(sources) and self.quarantine.isdisjoint(sources)
        except TypeError:  # an unhashable source id
            sources = _hashable_strs(sources)
            clean = self.rejected.isdisjoint(sources) and self.quarantine.isdisjoint(sources)
        if not clean:
            for i, s in enumerate(sources):
                why = "quarantined" if s in self.quarantine else "rejected" if s in self.rejected else None
                if why is not None:
                    self.dirty[dataset] += 1
                    self.firewall.add(batch.rel, batch.line(i), f"{dataset} row from {why} source {s!r}")
        sig_key = self.sig[dataset]
        for i, first in repeats_in(batch, self.sig_seen, (sig_key,)):
            self.sig_repeats.add(batch.rel, batch.line(i), f"sig_hash {str(recs[i].get(sig_key))[:16]}... already at "
                                 f"{first}")
        if not _all_valid_sig_hashes(batch.joined(sig_key), len(recs)):
            for i, sig in enumerate(batch.cols((sig_key,))[0]):
                if not valid_sig_hash(sig):
                    self.bad_hash.add(batch.rel, batch.line(i), f"sig_hash {sig!r:.80} is not 64 lowercase hex "
                                      "characters")
        if dataset == PREFERENCE:
            chosen, other = batch.cols((self.chosen, self.rejected_side))
            if (batch.joined(self.chosen) is not None and batch.joined(self.rejected_side) is not None
                    and not any(map(eq, map(str.strip, chosen), map(str.strip, other)))):
                return
            for i, (c, o) in enumerate(zip(chosen, other, strict=True)):
                if type(c) is str and type(o) is str and c.strip() == o.strip():
                    self.self_pairs.add(batch.rel, batch.line(i), "preference pair has the same text on both sides")

    def finish(self) -> PhaseResult:
        exports = sum(self.rows.values())
        contaminated = len(self.quarantine) + len(self.rejected.difference(self.quarantine))  # no union copy
        firewall = self.firewall.check("p4_firewall", 4, True, f"no export row from any of {contaminated} "
                                       "contaminated sources", "{n} export rows come from contaminated sources")
        if firewall.status != FAIL and (contaminated == 0 or exports == 0):
            nothing = "no quarantined or rejected source to check against" if contaminated == 0 else \
                "no export row to check"
            firewall = Check("p4_firewall", 4, True, INCONCLUSIVE, f"nothing checked: {nothing}")
        checks = [
            firewall,
            self.self_pairs.check("p4_no_self_pairs", 4, True, f"all {self.rows[PREFERENCE]} preference pairs differ",
                                  "{n} preference pairs have the same text on both sides"),
            self.bad_hash.check("p4_sig_hash_format", 4, True, f"all {exports} export sig_hash values are 64 "
                                "lowercase hex", "{n} export rows have a malformed sig_hash"),
            self.sig_repeats.check("p4_unique_sig_hash", 4, True, f"all {exports} export sig_hash values are distinct "
                                   "across sft, rag and preference",
                                   "{n} export rows repeat a sig_hash already exported (duplicated training data)"),
            self.q_repeats.check("p4_unique_quarantine", 4, False, f"{len(self.quarantine)} quarantined sources, "
                                 "each on one line", "{n} quarantine lines repeat a source (counted once)"),
        ]
        metrics: dict[str, int | float] = {m: self.rows[ds] for ds, m in _ROW_METRIC.items()}
        metrics["p4_total_quarantined"] = len(self.quarantine)
        metrics["p4_duplicate_quarantine"] = self.q_repeats.count
        metrics["p4_duplicate_sig_hash"] = self.sig_repeats.count
        metrics.update({m: self.dirty[ds] for ds, m in _DIRTY_METRIC.items()})
        metrics["p4_self_pairs"] = self.self_pairs.count
        metrics["p4_bad_sig_hash"] = self.bad_hash.count
        return PhaseResult(4, "contamination firewall", checks, metrics)

"""The default data layout of a root: logical datasets, their default paths and record schemas.

A profile (see `profile.py`) may move any dataset (paths may be globs, for sharded files) and rename any
field; the logical names below are what the phases speak. Documented in `docs/audit-layout.md`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Field types understood by the schema validator (phase 1).
STR, INT, NUM, BOOL, STR_LIST, COUNTS, OPT_STR, OPT_NUM = (
    "str", "int", "number", "bool", "list[str]", "counts", "str|null", "number|null",
)
VERDICTS = ("accepted", "partial", "rejected", "human")
EXPORTS = ("sft", "rag", "preference")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    path: str
    required: bool
    fields: tuple[tuple[str, str], ...]  # (logical field, type); every listed field is required
    description: str


SCORED_RUNS = "scored_runs"
QUARANTINE = "quarantine"
SFT = "sft"
RAG = "rag"
PREFERENCE = "preference"
RECEIPTS = "receipts"
RUN_SUMMARIES = "run_summaries"
BASELINES = "baselines"

DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        SCORED_RUNS, "data/scored/scored_runs.jsonl", True,
        (("run_id", STR), ("record_id", STR), ("source_id", STR), ("verdict", STR), ("score", OPT_NUM)),
        "one scored record per line; verdict is accepted, partial, rejected or human (routed to review)",
    ),
    DatasetSpec(
        QUARANTINE, "data/quarantine/quarantine.jsonl", True,
        (("source_id", STR), ("reason", STR)),
        "sources barred from every export",
    ),
    DatasetSpec(
        SFT, "data/exports/sft.jsonl", True,
        (("id", STR), ("source_id", STR), ("prompt", STR), ("completion", STR), ("sig_hash", STR)),
        "supervised fine-tuning rows",
    ),
    DatasetSpec(
        RAG, "data/exports/rag.jsonl", True,
        (("id", STR), ("source_id", STR), ("text", STR), ("sig_hash", STR)),
        "retrieval chunks",
    ),
    DatasetSpec(
        PREFERENCE, "data/exports/preference.jsonl", True,
        (("id", STR), ("source_id", STR), ("prompt", STR), ("chosen", STR), ("rejected", STR), ("sig_hash", STR)),
        "preference pairs (chosen vs rejected answer to one prompt)",
    ),
    DatasetSpec(
        RECEIPTS, "data/receipts/receipts.jsonl", False,
        (("export", STR), ("path", STR), ("rows", INT), ("sha256", STR)),
        "one receipt per export file written: its row count and the SHA-256 of its bytes",
    ),
    DatasetSpec(
        RUN_SUMMARIES, "data/runs/run_summaries.jsonl", False,
        (("run_id", STR), ("parents", STR_LIST), ("seq", INT), ("counts", COUNTS)),
        "one summary per pipeline run: parent runs, position in the lineage, verdict counts",
    ),
    DatasetSpec(
        BASELINES, "data/_kb/audit_baselines.jsonl", False, (),
        "the audit baseline log (one envelope per audit run); written by the audit, never validated as input",
    ),
)
SPECS: dict[str, DatasetSpec] = {s.name: s for s in DATASETS}
# The order a shared scan reads datasets in: the firewall needs scored runs and quarantine before exports.
SCAN_ORDER: tuple[str, ...] = (SCORED_RUNS, QUARANTINE, SFT, RAG, PREFERENCE, RECEIPTS, RUN_SUMMARIES)

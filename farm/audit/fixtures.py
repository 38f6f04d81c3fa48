"""A generator for roots in the default layout: the seed's clean full fixture, or one scaled to N rows.

`generate_root(root)` writes exactly the seed's figures (p3_accepted=386, p3_partial=132, p3_rejected=57,
p3_human=480, p4_sft_rows=353, p4_rag_rows=448, p4_pref_pairs=83, p4_total_quarantined=1325) with receipts
and a lineage of run summaries, all checks passing. `rows=N` scales every dataset so their total is about N.
Files are written streaming; the output is deterministic.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

import orjson

from farm.audit.layout import SPECS, VERDICTS

SEED_COUNTS: dict[str, int] = {
    "accepted": 386, "partial": 132, "rejected": 57, "human": 480,
    "quarantine": 1325, "sft": 353, "rag": 448, "preference": 83,
}
SEED_METRICS: dict[str, int] = {
    "p3_accepted": 386, "p3_partial": 132, "p3_rejected": 57, "p3_human": 480,
    "p4_sft_rows": 353, "p4_rag_rows": 448, "p4_pref_pairs": 83, "p4_total_quarantined": 1325,
}
SEED_ROWS = sum(SEED_COUNTS.values())
STAMP = "2026-05-01T00:00:00Z"


def sig(kind: str, i: int) -> str:
    return hashlib.sha256(f"{kind}:{i}".encode()).hexdigest()


class _Writer:
    """Appends JSON lines to one file, tracking rows and SHA-256 for its receipt."""

    def __init__(self, root: Path, rel: str) -> None:
        self.rel = rel
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.digest = hashlib.sha256()
        self.rows = 0

    def write(self, record: dict[str, object]) -> None:
        line = orjson.dumps(record) + b"\n"
        self.fh.write(line)
        self.digest.update(line)
        self.rows += 1

    def close(self) -> None:
        self.fh.close()


def scaled_counts(rows: int | None) -> dict[str, int]:
    if rows is None:
        return dict(SEED_COUNTS)
    if rows < len(SEED_COUNTS):
        raise ValueError(f"rows must be at least {len(SEED_COUNTS)}, got {rows}")
    factor = rows / SEED_ROWS
    return {k: max(1, round(v * factor)) for k, v in SEED_COUNTS.items()}


def generate_root(
    root: str | Path, rows: int | None = None, *, runs: int | None = None, receipts: bool = True,
    summaries: bool = True,
) -> dict[str, int]:
    """Write a clean root in the default layout under `root`; returns the dataset counts written."""
    base = Path(root)
    counts = scaled_counts(rows)
    scored_total = sum(counts[v] for v in VERDICTS)
    n_runs = runs if runs is not None else max(1, min(100, scored_total // 10))
    per_run = [dict.fromkeys(VERDICTS, 0) for _ in range(n_runs)]
    # Verdicts in contiguous blocks: sources [0, A) accepted, then partial, rejected, human.
    starts: dict[str, int] = {}
    offset = 0
    for v in VERDICTS:
        starts[v] = offset
        offset += counts[v]
    scored = _Writer(base, SPECS["scored_runs"].path)
    i = 0
    for v in VERDICTS:
        for _ in range(counts[v]):
            run = i % n_runs
            per_run[run][v] += 1
            scored.write({
                "run_id": f"run-{run:04d}", "record_id": f"rec-{i:08d}", "source_id": f"src-{i:08d}",
                "verdict": v, "score": None if v == "human" else round((i % 100) / 100, 2), "scored_at": STAMP,
            })
            i += 1
    scored.close()
    quarantine = _Writer(base, SPECS["quarantine"].path)
    for k in range(counts["quarantine"]):
        quarantine.write({"source_id": f"q-{k:08d}", "reason": "pii" if k % 3 else "license",
                          "quarantined_at": STAMP})
    quarantine.close()
    accepted, clean = counts["accepted"], counts["accepted"] + counts["partial"]
    exports: list[_Writer] = []
    sft = _Writer(base, SPECS["sft"].path)
    for j in range(counts["sft"]):
        sft.write({"id": f"sft-{j:08d}", "source_id": f"src-{j % accepted:08d}", "prompt": f"Question {j}?",
                   "completion": f"Answer {j}.", "sig_hash": sig("sft", j)})
    rag = _Writer(base, SPECS["rag"].path)
    for j in range(counts["rag"]):
        rag.write({"id": f"rag-{j:08d}", "source_id": f"src-{j % clean:08d}", "text": f"Chunk {j} of the corpus.",
                   "sig_hash": sig("rag", j)})
    pref = _Writer(base, SPECS["preference"].path)
    for j in range(counts["preference"]):
        pref.write({"id": f"pref-{j:08d}", "source_id": f"src-{j % accepted:08d}", "prompt": f"Prompt {j}",
                    "chosen": f"Good answer {j}", "rejected": f"Worse answer {j}", "sig_hash": sig("pref", j)})
    exports = [sft, rag, pref]
    for w in exports:
        w.close()
    if receipts:
        rec = _Writer(base, SPECS["receipts"].path)
        for name, w in zip(("sft", "rag", "preference"), exports, strict=True):
            rec.write({"export": name, "path": w.rel, "rows": w.rows, "sha256": w.digest.hexdigest(),
                       "written_at": STAMP})
        rec.close()
    if summaries:
        summ = _Writer(base, SPECS["run_summaries"].path)
        for run in range(n_runs):
            summ.write({"run_id": f"run-{run:04d}", "parents": [f"run-{run - 1:04d}"] if run else [], "seq": run,
                        "started_at": STAMP, "finished_at": STAMP, "counts": per_run[run]})
        summ.close()
    return counts

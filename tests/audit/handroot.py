"""A small data root written by hand from docs/audit-layout.md (not by `farm.audit.fixtures`), to edit per test.

Scored runs: 6 records in 2 runs (3 accepted, 1 partial, 1 rejected, 1 human); quarantine: 2 sources; exports
from accepted sources only: 3 SFT rows, 2 RAG rows, 1 preference pair. Expected clean metrics in `CLEAN`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
from click.testing import CliRunner, Result

from farm.cli import main_group


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


SCORED = [
    '{"run_id": "r1", "record_id": "a", "source_id": "s1", "verdict": "accepted", "score": 0.9}',
    '{"run_id": "r1", "record_id": "b", "source_id": "s2", "verdict": "accepted", "score": 0.8}',
    '{"run_id": "r1", "record_id": "c", "source_id": "s3", "verdict": "rejected", "score": 0.1}',
    '{"run_id": "r2", "record_id": "a", "source_id": "s1", "verdict": "accepted", "score": 0.95}',
    '{"run_id": "r2", "record_id": "d", "source_id": "s4", "verdict": "partial", "score": 0.5}',
    '{"run_id": "r2", "record_id": "e", "source_id": "s5", "verdict": "human", "score": null}',
]
QUARANTINE = ['{"source_id": "q1", "reason": "pii"}', '{"source_id": "q2", "reason": "license"}']
SFT = [f'{{"id": "sft-{i}", "source_id": "s1", "prompt": "Q{i}?", "completion": "A{i}.", "sig_hash": "{h(f"sft{i}")}"}}'
       for i in range(3)]
RAG = [f'{{"id": "rag-{i}", "source_id": "s2", "text": "chunk {i}", "sig_hash": "{h(f"rag{i}")}"}}' for i in range(2)]
PREF = [f'{{"id": "p-0", "source_id": "s1", "prompt": "P", "chosen": "good", "rejected": "bad", '
        f'"sig_hash": "{h("pref0")}"}}']
SUMMARIES = [
    '{"run_id": "r1", "parents": [], "seq": 0, "counts": {"accepted": 2, "partial": 0, "rejected": 1, "human": 0}}',
    '{"run_id": "r2", "parents": ["r1"], "seq": 1, "counts": {"accepted": 1, "partial": 1, "rejected": 0, '
    '"human": 1}}',
]
CLEAN = {"p3_accepted": 3, "p3_partial": 1, "p3_rejected": 1, "p3_human": 1, "p4_sft_rows": 3, "p4_rag_rows": 2,
         "p4_pref_pairs": 1, "p4_total_quarantined": 2, "p3_duplicate_records": 0, "p4_duplicate_sig_hash": 0,
         "p4_duplicate_quarantine": 0}
PATHS = {"scored": "data/scored/scored_runs.jsonl", "quarantine": "data/quarantine/quarantine.jsonl",
         "sft": "data/exports/sft.jsonl", "rag": "data/exports/rag.jsonl", "pref": "data/exports/preference.jsonl",
         "receipts": "data/receipts/receipts.jsonl", "summaries": "data/runs/run_summaries.jsonl"}


def write(root: Path, rel: str, lines: list[str], end: str = "\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + end for line in lines).encode())
    return path


def write_receipts(root: Path) -> None:
    rows = []
    for name, key in (("sft", "sft"), ("rag", "rag"), ("preference", "pref")):
        data = (root / PATHS[key]).read_bytes()
        count = sum(1 for line in data.splitlines() if line.strip(b" \t\r"))
        rows.append(orjson.dumps({"export": name, "path": PATHS[key], "rows": count,
                                  "sha256": hashlib.sha256(data).hexdigest()}).decode())
    write(root, PATHS["receipts"], rows)


def hand_root(root: Path, *, receipts: bool = True, summaries: bool = True) -> Path:
    write(root, PATHS["scored"], SCORED)
    write(root, PATHS["quarantine"], QUARANTINE)
    write(root, PATHS["sft"], SFT)
    write(root, PATHS["rag"], RAG)
    write(root, PATHS["pref"], PREF)
    if summaries:
        write(root, PATHS["summaries"], SUMMARIES)
    if receipts:
        write_receipts(root)
    return root


def audit(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Result, dict]:  # type: ignore[type-arg]
    """`farm audit --root ROOT --json ...`: the result and the parsed report."""
    res = CliRunner().invoke(main_group, ["audit", "--root", str(root), "--json", *args], env=env)
    assert res.exit_code in (0, 1, 3), res.output
    return res, orjson.loads(res.stdout)


def check(report: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(c for p in report["phases"] for c in p["checks"] if c["name"] == name)

"""Phase 5: receipts. Each export file's receipt names its row count and the SHA-256 of its bytes; both are
recomputed by streaming the file (rows = non-blank lines, the records a reader of the file gets; sha256 over
the file's bytes, blank lines included). An export file without a receipt, or a receipt for a file
that is not there, is a mismatch too. Skipped when the root has no receipts dataset."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from farm.audit.batch import Batch
from farm.audit.layout import EXPORTS, RECEIPTS
from farm.audit.profile import AuditProfile
from farm.audit.result import SKIP, Check, PhaseResult
from farm.audit.scan import Offenders, resolve

CHUNK = 1 << 20
_BLANK_LINE = re.compile(rb"^[ \t\r]*\n", re.MULTILINE)  # blank as the scan counts it: spaces, tabs, CR only


def file_digest(path: str | Path) -> tuple[int, str]:
    """(rows, sha256 hex) of a file, streamed: rows are its non-blank lines (a final line without a newline
    counts), the same count as the scan's records + bad lines."""
    digest, rows, rest = hashlib.sha256(), 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest += chunk
                continue
            block = rest + chunk[:cut]  # whole lines only, so a blank line is never split across reads
            rest = chunk[cut:]
            rows += block.count(b"\n") - len(_BLANK_LINE.findall(block))
    return rows + bool(rest.strip(b" \t\r")), digest.hexdigest()


class ReceiptsFold:
    datasets: tuple[str, ...] = (RECEIPTS,)

    def __init__(self, root: str | Path, profile: AuditProfile) -> None:
        self.root = Path(root)
        self.profile = profile
        self.keys = tuple(profile.field_name(RECEIPTS, f) for f in ("path", "rows", "sha256"))
        self.receipts: dict[str, tuple[str, int, Any, Any]] = {}
        self.present = False
        self.bad = Offenders()

    def start(self, files: dict[str, list[str]]) -> None:
        self.present = bool(files[RECEIPTS])

    def feed(self, dataset: str, batch: Batch) -> None:
        path_key, rows_key, sha_key = self.keys
        for i, rec in enumerate(batch.recs):
            path = rec.get(path_key)
            if type(path) is str:
                no = batch.line(i)
                self.receipts[os.path.normpath(path)] = (f"{batch.rel}:{no}", no, rec.get(rows_key), rec.get(sha_key))

    def finish(self) -> PhaseResult:
        if not self.present:
            check = Check("p5_receipts", 5, False, SKIP, "no receipts dataset in this root (optional)")
            return PhaseResult(5, "receipts", [check], {})
        exports = [os.path.normpath(f) for ds in EXPORTS for f in resolve(self.root, self.profile.paths[ds])]
        for rel in exports:
            receipt = self.receipts.pop(rel, None)
            if receipt is None:
                self.bad.add(rel, 0, "export file has no receipt")
                continue
            where, _, rows, sha = receipt
            actual_rows, actual_sha = file_digest(self.root / rel)
            if rows != actual_rows:
                self.bad.add(where, 0, f"receipt for {rel} says {rows!r} rows, file has {actual_rows}")
            if sha != actual_sha:
                self.bad.add(where, 0, f"receipt for {rel} has sha256 {str(sha)[:16]}..., file is {actual_sha[:16]}...")
        for path, (where, _, _, _) in sorted(self.receipts.items()):
            self.bad.add(where, 0, f"receipt for {path}, which is not an export file in this root")
        checked = len(exports)
        check = self.bad.check("p5_receipts", 5, False, f"all {checked} export files match their receipts",
                               "{n} receipt mismatches")
        return PhaseResult(5, "receipts", [check], {"p5_receipts_checked": checked,
                                                    "p5_receipt_mismatches": self.bad.count})

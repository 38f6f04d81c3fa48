"""`reports/cutover/SUMMARY.md`, the parity log: one row per endpoint that cleared parity.

Only the row for (endpoint, date) is written: re-running on the same day replaces that line, every other
byte of the file (rows, prose a person wrote, other tables) stays as it was.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

HEADER = "| Endpoint | Date | Legacy path | Candidate path | Verdict | Notes |"
_RULE = "|---|---|---|---|---|---|"
_PREAMBLE = """# Cutover parity log

What works on the candidate gateway, what has been compared side by side with the legacy gateway, and
what is safe to flip. The probe farm adds or updates a row when an endpoint clears parity; edit the
prose freely, it is kept byte for byte.

"""


@dataclass(frozen=True)
class ParityRow:
    endpoint: str
    date: str
    legacy_path: str
    candidate_path: str
    verdict: str
    notes: str

    def line(self) -> str:
        cells = [self.endpoint, self.date, f"`{self.legacy_path}`", f"`{self.candidate_path}`", self.verdict,
                 self.notes]
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _is_header(line: str) -> bool:
    cells = _cells(line)
    return len(cells) >= 2 and cells[0] == "Endpoint" and cells[1] == "Date"


def upsert(text: str, row: ParityRow) -> str:
    """`text` with `row` added to (or replacing its twin in) the first parity table."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if _is_header(ln)), None)
    if start is None:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return (text or _PREAMBLE) + sep + HEADER + "\n" + _RULE + "\n" + row.line() + "\n"
    end = start + 2
    while end < len(lines) and lines[end].lstrip().startswith("|"):
        end += 1
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    for i in range(start + 2, end):
        cells = _cells(lines[i])
        if len(cells) >= 2 and cells[0] == row.endpoint and cells[1] == row.date:
            lines[i] = row.line() + newline
            return "".join(lines)
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += newline
    lines.insert(end, row.line() + newline)
    return "".join(lines)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one rename, so a crash never leaves half a parity log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def record(path: Path, row: ParityRow) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    write_atomic(path, upsert(text, row))

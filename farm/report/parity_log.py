"""`reports/cutover/SUMMARY.md`, the parity log: one row per endpoint and gateway pair that cleared parity.

A row the farm writes is keyed by its endpoint (probe, legacy path, candidate path) and its gateway pair (the two
names, at the head of its notes: "Gateways `legacy` (URL) → `candidate` (URL)."; a gateway given by URL is named
after its role, so the demo's pairs on fresh ports share one row); a row without that head (one a person wrote)
is keyed by its endpoint cell and date. A later FAIL or INCONCLUSIVE of the endpoint revokes a PASS in its row
("❌ PASS on D1, FAIL on D2: revoked"), whatever gateway pair it was swept on (`revoke`). Only rows are written:
every other byte of the file (prose a person wrote, other tables) stays as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

HEADER = "| Endpoint | Date | Legacy path | Candidate path | Verdict | Notes |"
_RULE = "|---|---|---|---|---|---|"
_PREAMBLE = """# Cutover parity log

What works on the candidate gateway, what has been compared side by side with the legacy gateway, and
what is safe to flip. The probe farm adds or updates a row when an endpoint clears parity, and marks it
revoked when a later sweep of the endpoint does not; edit the prose freely, it is kept byte for byte.

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

    def key(self) -> tuple[str, ...]:
        return _key(_cells(self.line()))


_PAIR = re.compile(r"^Gateways `([^`]*)`(?: \([^)]*\))? → `([^`]*)`")
_PROBE = re.compile(r"`([^`]+)`")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Column positions in every parity table, whatever its header calls them (the seed's "Rust path", "Go path").
_ENDPOINT, _DATE, _LEGACY, _CANDIDATE, _VERDICT, _NOTES = range(6)


def pair_note(legacy: str, candidate: str, legacy_url: str = "", candidate_url: str = "") -> str:
    """The head of a farm row's notes: its gateway pair by name (part of the row's key), where each lived."""
    def one(name: str, url: str) -> str:
        return f"`{name}` ({url})" if url else f"`{name}`"
    return f"Gateways {one(legacy, legacy_url)} → {one(candidate, candidate_url)}."


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


def _bare(cell: str) -> str:
    return cell.strip().strip("`")


def _endpoint_of(cells: list[str]) -> tuple[str, str, str] | None:
    """(probe, legacy path, candidate path) of a row: the first `code` of its endpoint cell and its path cells."""
    if len(cells) <= _CANDIDATE:
        return None
    probe = _PROBE.search(cells[_ENDPOINT])
    return (probe.group(1), _bare(cells[_LEGACY]), _bare(cells[_CANDIDATE])) if probe else None


def _key(cells: list[str]) -> tuple[str, ...]:
    pair = _PAIR.match(cells[_NOTES]) if len(cells) > _NOTES else None
    endpoint = _endpoint_of(cells)
    if pair and endpoint:
        return ("pair", *endpoint, pair.group(1), pair.group(2))
    return ("dated", cells[_ENDPOINT], cells[_DATE] if len(cells) > _DATE else "")


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
    key = row.key()
    for i in range(start + 2, end):
        cells = _cells(lines[i])
        if len(cells) >= 2 and _key(cells) == key:
            lines[i] = row.line() + newline
            return "".join(lines)
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += newline
    lines.insert(end, row.line() + newline)
    return "".join(lines)


def revoked_cell(pass_date: str, outcome: str, when: str) -> str:
    return f"❌ PASS on {pass_date}, {outcome} on {when}: revoked"


def revoke(text: str, endpoint: tuple[str, str, str], when: str, outcome: str, note: str) -> str:
    """`text` with every standing PASS of `endpoint` dated `when` or before marked revoked by a later `outcome`
    (its verdict cell rewritten, `note` added to its notes); rows of other endpoints and all else kept."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if _is_header(ln)), None)
    if start is None:
        return text
    i = start + 2
    while i < len(lines) and lines[i].lstrip().startswith("|"):
        cells = _cells(lines[i])
        verdict = cells[_VERDICT] if len(cells) > _NOTES else ""
        if (_endpoint_of(cells) == endpoint and "PASS" in verdict and "revoked" not in verdict
                and (cells[_DATE] <= when or not _ISO_DATE.match(cells[_DATE]))):  # an undated PASS: revoked
            cells[_VERDICT] = revoked_cell(cells[_DATE], outcome, when)
            cells[_NOTES] = f"{cells[_NOTES]} {note}".strip()
            ending = lines[i][len(lines[i].rstrip("\r\n")):]
            lines[i] = "| " + " | ".join(cells) + " |" + ending
        i += 1
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

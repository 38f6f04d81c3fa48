"""Catalog rows and their Markdown rendering (the seed's `reports/cutover/SUMMARY.md` table)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DriftRow:
    """One catalog line. General kinds read from the candidate's side, as Diffy does: `missing` = only the
    legacy gateway sends the field, `extra` = only the candidate does."""

    kind: str  # url, vectors, dim, model, request, norm; then rename, missing, extra, type, value, order, scale, method
    field: str  # the table's Field column, e.g. "Response: vectors field"
    legacy: str  # cell text, Markdown (code spans included)
    candidate: str
    same: bool
    # JSON-able evidence (paths, counts, ranges). Its keys never reuse the names above, so callers may flatten
    # a row into one dict.
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.field, "legacy": self.legacy, "candidate": self.candidate,
                "same": self.same, "detail": self.detail}


def _cell(text: str) -> str:
    # A pipe would split the Markdown cell.
    return text.replace("|", "\\|").replace("\n", " ")


def render_catalog(rows: list[DriftRow], legacy_label: str, candidate_label: str) -> str:
    """The Markdown drift table; rows that are the same get ' ✓ same' after the candidate cell."""
    lines = [
        f"| Field | {_cell(legacy_label)} | {_cell(candidate_label)} |",
        "|---|---|---|",
    ]
    for row in rows:
        candidate = row.candidate + (" ✓ same" if row.same else "")
        lines.append(f"| {_cell(row.field)} | {_cell(row.legacy)} | {_cell(candidate)} |")
    return "\n".join(lines) + "\n"

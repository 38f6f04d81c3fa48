"""Markdown pieces shared by every audit view (report, fleet report, `farm baselines drift`): cells escaped
once, numbers formatted once, and the one drift table with the documented columns."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from farm.audit.drift import FLAGGED, DriftRow

DRIFT_COLUMNS = ("metric", "kind", "baseline (run)", "current", "abs delta", "rel delta", "rule", "status")


def number(value: Any) -> str:
    """A value as text: integers (and integral floats) without a decimal point, other floats to 6 significant
    digits, None as `-`, booleans as true/false."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


def cell(value: Any) -> str:
    """One table cell: formatted, `|` escaped, newlines folded, so no value can break the table."""
    text = number(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def code(value: Any) -> str:
    """A cell shown as code (metric and check names)."""
    return f"`{cell(value).replace('`', '')}`"


def percent(value: Any) -> str:
    return "-" if value is None or not isinstance(value, int | float) else f"{value:+.1%}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """A Markdown table from already-formatted cells."""
    head = list(header)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def drift_rows_sorted(rows: Iterable[DriftRow | Mapping[str, Any]]) -> list[DriftRow]:
    """Flagged rows first, then by metric name."""
    parsed = [r if isinstance(r, DriftRow) else DriftRow.from_dict(r) for r in rows]
    return sorted(parsed, key=lambda r: (r.status not in FLAGGED, r.metric))


def drift_table_markdown(rows: Iterable[DriftRow | Mapping[str, Any]]) -> list[str]:
    """THE drift table (docs/audit-layout.md): `metric | kind | baseline (run) | current | abs delta |
    rel delta | rule | status`, flagged rows first."""
    body = []
    for r in drift_rows_sorted(rows):
        base = number(r.baseline) + (f" ({r.baseline_run})" if r.baseline_run and r.baseline is not None else "")
        body.append([code(r.metric), cell(r.kind), cell(base), cell(r.current), cell(r.abs_delta),
                     percent(r.rel_delta), cell(r.rule), r.status])
    return table(DRIFT_COLUMNS, body)

"""The fleet report: several audits (one per host / data root) in one Markdown file.

One row per host with its headline, failed checks and flagged drift; then the host x metric table, each cell
the metric's value and, when the drift table flagged it, its drift status; then each host's flagged drift rows
in the one drift table (`farm.audit.markdown.drift_table_markdown`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from farm.audit.drift import FLAGGED
from farm.audit.markdown import cell, code, drift_table_markdown, number, table
from farm.audit.result import FAIL, AuditReport


def format_fleet_report(reports: Sequence[AuditReport], title: str = "Fleet audit") -> str:
    passed = sum(r.passed for r in reports)
    out = [f"# {title}: {passed}/{len(reports)} hosts pass", ""]
    out += table(("host", "root", "verdict", "failed checks", "drift flags", "started"), (
        [cell(r.host), code(r.root), cell(r.headline()),
         ", ".join(code(c.name) for c in r.checks if c.status == FAIL) or "-",
         ", ".join(f"{code(d['metric'])} {d['status']}" for d in r.drift if d["status"] in FLAGGED) or "-",
         cell(r.started_at)] for r in reports))
    metrics = sorted({m for r in reports for m in r.metrics})
    out += ["", "## Host x metric", ""]
    rows = []
    for r in reports:
        status = {d["metric"]: d["status"] for d in r.drift}
        cells = [cell(r.host)]
        for m in metrics:
            text = cell(r.metrics.get(m))
            if status.get(m) in FLAGGED:
                text += f" **{status[m]}**"
            cells.append(text)
        rows.append(cells)
    out += table(("host", *(code(m) for m in metrics)), rows)
    out += ["", "## Drift flags per host", ""]
    for r in reports:
        flagged = [d for d in r.drift if d["status"] in FLAGGED]
        out += [f"### {cell(r.host)} `{cell(r.root)}`", ""]
        if flagged:
            out += drift_table_markdown(flagged)
        else:
            out.append(f"No drift flags ({number(len(r.drift))} metrics compared).")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_fleet_report(reports: Sequence[AuditReport], path: str | Path, title: str = "Fleet audit") -> None:
    """Write the fleet report for `reports` (one per host / root) to a Markdown file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(format_fleet_report(reports, title), encoding="utf-8")

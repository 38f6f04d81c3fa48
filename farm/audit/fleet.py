"""The fleet report: several audits (one per host / data root) in one Markdown file.

One row per host with its verdict, failed checks and flagged drift; then the host x metric table, each cell
the metric's value and, when the drift table flagged it, its drift status.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from farm.audit.drift import FLAGGED
from farm.audit.result import FAIL, AuditReport


def format_fleet_report(reports: Sequence[AuditReport], title: str = "Fleet audit") -> str:
    passed = sum(r.passed for r in reports)
    out = [f"# {title}: {passed}/{len(reports)} hosts pass", "",
           "| host | root | verdict | failed checks | drift flags | started |", "|---|---|---|---|---|---|"]
    for r in reports:
        failed = ", ".join(f"`{c.name}`" for c in r.checks if c.status == FAIL) or "-"
        flags = ", ".join(f"`{d['metric']}` {d['status']}" for d in r.drift if d["status"] in FLAGGED) or "-"
        verdict = "PASS" if r.passed else "FAIL"
        out.append(f"| {r.host} | `{r.root}` | {verdict} | {failed} | {flags} | {r.started_at} |")
    metrics = sorted({m for r in reports for m in r.metrics})
    status = [{d["metric"]: d["status"] for d in r.drift} for r in reports]
    out += ["", "## Host x metric", "", "| host | " + " | ".join(f"`{m}`" for m in metrics) + " |",
            "|---|" + "---|" * len(metrics)]
    for r, st in zip(reports, status, strict=True):
        cells = []
        for m in metrics:
            value = r.metrics.get(m)
            cell = "-" if value is None else str(value)
            if st.get(m) in FLAGGED:
                cell += f" **{st[m]}**"
            cells.append(cell)
        out.append(f"| {r.host} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def write_fleet_report(reports: Sequence[AuditReport], path: str | Path, title: str = "Fleet audit") -> None:
    """Write the fleet report for `reports` (one per host / root) to a Markdown file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(format_fleet_report(reports, title), encoding="utf-8")

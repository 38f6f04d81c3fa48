"""The Markdown report of one audit: verdict, phase table, metrics, checks, drift table, first offenders."""

from __future__ import annotations

from typing import Any

from farm.audit.compare import Comparison
from farm.audit.result import FAIL, PASS, AuditReport


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:+.1%}"


def format_report(report: AuditReport) -> str:
    required = report.required_checks
    passed = sum(c.status == PASS for c in required)
    verdict = "PASS" if report.passed else "FAIL"
    out = [
        f"# Audit: {verdict} ({passed}/{len(required)} required checks pass)", "",
        f"- root: `{report.root}`", f"- host: `{report.host}`",
        f"- implementation: {report.implementation} {report.version} ({report.runtime})",
        f"- started: {report.started_at}", f"- run id: `{report.run_id}`",
        f"- baseline: {report.baseline_run or 'none (first run)'}", "",
        "## Phases", "", "| phase | name | status | checks | seconds |", "|---|---|---|---|---|",
    ]
    for p in report.phases:
        ok = sum(c.status == PASS for c in p.checks)
        out.append(f"| {p.phase} | {p.name} | {p.status} | {ok}/{len(p.checks)} | {p.elapsed_s:.3f} |")
    out += ["", "## Checks", "", "| check | phase | required | status | detail |", "|---|---|---|---|---|"]
    for c in report.checks:
        out.append(f"| `{c.name}` | {c.phase} | {'yes' if c.required else 'no'} | {c.status} | {_cell(c.detail)} |")
    out += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
    out += [f"| `{m}` | {_cell(v)} |" for m, v in sorted(report.metrics.items())]
    out += ["", "## Drift against the baseline", ""]
    if report.drift:
        out += ["| metric | kind | baseline (run) | current | abs delta | rel delta | rule | status |",
                "|---|---|---|---|---|---|---|---|"]
        for r in report.drift:
            base = f"{_cell(r['baseline'])} ({r['baseline_run']})" if r.get("baseline_run") else _cell(r["baseline"])
            out.append(
                f"| `{r['metric']}` | {r['kind']} | {base} | {_cell(r['current'])} | {_cell(r['abs_delta'])} | "
                f"{_pct(r['rel_delta'])} | {_cell(r['rule'])} | {r['status']} |"
            )
    else:
        out.append("No metrics.")
    failed = [c for c in report.checks if c.status == FAIL]
    if failed:
        out += ["", "## First offending records", ""]
        for c in failed:
            more = c.offender_count - len(c.offenders)
            out += [f"### `{c.name}` ({c.offender_count})", ""]
            out += [f"- `{o}`" for o in c.offenders] or ["- (no record-level detail)"]
            if more > 0:
                out.append(f"- ... and {more} more")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def format_comparison(cmp: Comparison, strict: bool = False) -> str:
    out = [
        f"# Audit parity: {cmp.summary(strict)}", "",
        f"- A: {cmp.a.label}" + (f" [{cmp.a.implementation}]" if cmp.a.implementation else ""),
        f"- B: {cmp.b.label}" + (f" [{cmp.b.implementation}]" if cmp.b.implementation else ""), "",
        "| metric | A | B | status |", "|---|---|---|---|",
    ]
    out += [f"| `{r.metric}` | {_cell(r.a)} | {_cell(r.b)} | {r.status} |" for r in cmp.rows]
    return "\n".join(out) + "\n"

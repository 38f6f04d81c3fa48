"""The Markdown report of one audit: headline, phase table (failures first), checks, files read, metrics, drift
table, first offenders; and the comparison of two audits (differences first)."""

from __future__ import annotations

from farm.audit.compare import Comparison
from farm.audit.markdown import cell, code, drift_table_markdown, table
from farm.audit.result import FAIL, INCONCLUSIVE, PASS, AuditReport, Check, PhaseResult

_ORDER = {FAIL: 0, INCONCLUSIVE: 1, PASS: 2}


def _phase_key(p: PhaseResult) -> tuple[int, int]:
    # required failures, then advisory failures, then inconclusive, pass, skip; phase order within each
    rank = 0 if p.required_failed else 1 if p.status == FAIL else 2 if p.status == INCONCLUSIVE else \
        3 if p.status == PASS else 4
    return rank, p.phase


def _check_key(c: Check) -> tuple[int, int, int]:
    return _ORDER.get(c.status, 3), not c.required, c.phase


def _phase_status(p: PhaseResult) -> str:
    if p.status == FAIL:
        return "FAIL (required)" if p.required_failed else "FAIL (advisory)"
    return p.status


def format_report(report: AuditReport) -> str:
    out = [
        f"# Audit: {report.headline()}", "",
        f"- root: `{report.root}`", f"- host: `{report.host}`",
        f"- implementation: {report.implementation} {report.version} ({report.runtime})",
        f"- started: {report.started_at}", f"- run id: `{report.run_id}`",
        f"- baseline: {report.baseline_run or 'none (first run)'}", "",
        "## Phases", "",
    ]
    out += table(("phase", "name", "status", "checks", "seconds"), (
        [str(p.phase), p.name, _phase_status(p), f"{sum(c.status == PASS for c in p.checks)}/{len(p.checks)}",
         f"{p.elapsed_s:.3f}"] for p in sorted(report.phases, key=_phase_key)))
    out += ["", "## Checks", ""]
    out += table(("check", "phase", "required", "status", "detail"), (
        [code(c.name), str(c.phase), "yes" if c.required else "no", c.status, cell(c.detail)]
        for c in sorted(report.checks, key=_check_key)))
    files = report.files
    if files:
        out += ["", "## Files", ""]
        out += table(("file", "dataset", "lines", "blank", "records", "bad"), (
            [code(f["path"]), cell(f["dataset"]), *(cell(f.get(k)) for k in ("lines", "blank", "records", "bad"))]
            if "lines" in f else [code(f["path"]), cell(f["dataset"]), f"not read: {cell(f.get('skipped'))}",
                                  "-", "-", "-"]
            for f in files))
    out += ["", "## Metrics", ""]
    out += table(("metric", "value"), ([code(m), cell(v)] for m, v in sorted(report.metrics.items())))
    out += ["", "## Drift against the baseline", ""]
    out += drift_table_markdown(report.drift) if report.drift else ["No metrics."]
    failed = sorted((c for c in report.checks if c.status == FAIL), key=_check_key)
    if failed:
        out += ["", "## First offending records", ""]
        for c in failed:
            more = c.offender_count - len(c.offenders)
            kind = "required" if c.required else "advisory"
            out += [f"### `{c.name}` ({c.offender_count}, {kind})", ""]
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
    ]
    out += table(("metric", "A", "B", "status"), ([code(r.metric), cell(r.a), cell(r.b), r.status] for r in cmp.rows))
    return "\n".join(out) + "\n"

"""The per-sweep report, `reports/cutover/embed_parity_<DATE>.md`, rendered from the database alone.

It leads with the verdict and its reason, then parameters, statistics, plots, worst samples and the
wire-drift catalog; the same facts go to `--json` for machines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.report.parity_log import ParityRow, record, write_atomic
from farm.report.plots import cosine_plot, latency_plot
from farm.store.models import DriftFinding, Sample, Sweep, Verdict
from farm.store.sweeps import get_sweep, load_embed_arrays, load_outcome, worst_samples
from farm.sweep.finalize import per_request
from farm.wiredrift import DriftRow, render_catalog

_ICON = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}


@dataclass(frozen=True)
class RenderedReport:
    path: Path
    plots: list[Path]
    summary: Path | None


def sweep_date(sweep: Sweep) -> str:
    return sweep.created_at.strftime("%Y-%m-%d")


def report_path(reports_dir: Path, sweep: Sweep) -> Path:
    """Where `render` writes a sweep's report: `<reports>/cutover/<probe>_parity_<DATE>.md`."""
    return reports_dir / "cutover" / f"{sweep.probe}_parity_{sweep_date(sweep)}.md"


def _fmt(value: Any, digits: int = 6) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _sample_row(s: Sample) -> str:
    cells = [str(s.idx), f"`{s.text_sha}`", _fmt(s.cosine), _fmt(s.norm_legacy, 4), _fmt(s.norm_candidate, 4),
             s.legacy_error or "", s.candidate_error or ""]
    return "| " + " | ".join(cells) + " |"


def _catalog_rows(findings: list[DriftFinding]) -> list[DriftRow]:
    return [DriftRow(kind=f.kind, field=f.field, legacy=f.legacy, candidate=f.candidate,
                     same=bool(f.detail.get("same", False)), detail={k: v for k, v in f.detail.items() if k != "same"})
            for f in findings]


def _detail_section(detail: dict[str, Any]) -> list[str]:
    """Statistics the verdict engine recorded, as readable lines (the full object is in --json)."""
    out: list[str] = []
    for key, value in detail.items():
        if key in ("adapter_map",) or value in (None, {}, []):
            continue
        if isinstance(value, dict):
            out.append(f"- **{key}**: " + ", ".join(f"{k} = {_fmt(v, 6)}" for k, v in value.items()
                                                     if not isinstance(v, dict | list)))
            for k, v in value.items():
                if isinstance(v, dict):
                    out.append(f"  - {k}: " + ", ".join(f"{kk} = {_fmt(vv, 6)}" for kk, vv in v.items()
                                                        if not isinstance(vv, dict | list)))
        elif not isinstance(value, list):
            out.append(f"- **{key}**: {_fmt(value)}")
    return out


def render(url: str, sweep_id: str, reports_dir: Path, *, update_summary: bool = True) -> RenderedReport:
    sweep = get_sweep(url, sweep_id)
    verdict, findings = load_outcome(url, sweep.id)
    if verdict is None:
        from farm.errors import UsageError

        raise UsageError(f"sweep {sweep.id} has no verdict yet (status {sweep.status})")
    path = report_path(reports_dir, sweep)
    out_dir, stem = path.parent, path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays, _noise = load_embed_arrays(url, sweep.id)
    plots = [
        cosine_plot(arrays["cosine"], float(sweep.params.get("tau", 0.9999)), out_dir / f"{stem}_cosine.png"),
        latency_plot(per_request(arrays["latency_legacy_ms"], arrays["batch_no"]),
                     per_request(arrays["latency_candidate_ms"], arrays["batch_no"]), out_dir / f"{stem}_latency.png"),
    ]
    lowest, failed = worst_samples(url, sweep.id)
    text = _markdown(sweep, verdict, findings, lowest, failed, [p.name for p in plots])
    write_atomic(path, text)
    summary = None
    if update_summary and verdict.outcome == "PASS":
        summary = out_dir / "SUMMARY.md"
        record(summary, parity_row(sweep, verdict, path.name))
    return RenderedReport(path, plots, summary)


def parity_row(sweep: Sweep, verdict: Verdict, report_name: str) -> ParityRow:
    model = sweep.model or "gateway default"
    tau = sweep.params.get("tau", 0.9999)
    return ParityRow(
        endpoint=f"`{sweep.probe}` ({model})", date=sweep_date(sweep),
        legacy_path=_path_of(sweep.legacy_url), candidate_path=_path_of(sweep.candidate_url),
        verdict=f"✅ PASS {verdict.n - verdict.disagreements:,}/{verdict.n:,} cos≥{tau}",
        notes=f"{verdict.reason} Sweep `{sweep.id}`, see `{report_name}`.",
    )


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def _markdown(sweep: Sweep, verdict: Verdict, findings: list[DriftFinding], lowest: list[Sample],
              failed: list[Sample], plots: list[str]) -> str:
    p = sweep.params
    d = verdict.detail
    lines = [
        f"# Embed parity: {sweep.legacy} vs {sweep.candidate}, {sweep_date(sweep)}",
        "",
        f"**Verdict: {_ICON.get(verdict.outcome, '')} {verdict.outcome}**. {verdict.reason}",
        "",
        f"Sweep `{sweep.id}` ({sweep.mode} mode), corpus `{sweep.corpus}`, model `{sweep.model or 'default'}`.",
        "",
        "| | legacy | candidate |",
        "|---|---|---|",
        f"| gateway | `{sweep.legacy}` | `{sweep.candidate}` |",
        f"| endpoint | `{sweep.legacy_url}` | `{sweep.candidate_url}` |",
        f"| wire profile | `{sweep.legacy_profile}` | `{sweep.candidate_profile}` |",
        "",
        "## Parameters",
        "",
        "| parameter | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in p.items() if not isinstance(v, dict)],
        *[f"| method: {k} | {v} |" for k, v in (d.get("methods") or {}).items()],
        "",
        "## Statistics",
        "",
        f"- samples compared (n): {verdict.n:,}; disagreements (x): {verdict.disagreements:,}; "
        f"samples with an error: {verdict.errors:,}",
        f"- disagreement rate bounds: [{_fmt(d.get('lower'), 6)}, {_fmt(d.get('upper'), 6)}]"
        + (f"; about {d['needed']:,} more samples needed" if d.get("needed") else ""),
        *_detail_section(d.get("detail") or {}),
        "",
        "## Plots",
        "",
        *[f"![{name}]({name})" for name in plots],
        "",
        "## Worst samples",
        "",
        "| idx | text | cosine | ‖legacy‖ | ‖candidate‖ | legacy error | candidate error |",
        "|---|---|---|---|---|---|---|",
        *[_sample_row(s) for s in lowest],
        "",
    ]
    if failed:
        lines += ["### Samples with errors (first 10)", "",
                  "| idx | text | cosine | ‖legacy‖ | ‖candidate‖ | legacy error | candidate error |",
                  "|---|---|---|---|---|---|---|", *[_sample_row(s) for s in failed], ""]
    lines += ["## Wire-drift catalog", "",
              render_catalog(_catalog_rows(findings), sweep.legacy, sweep.candidate).rstrip("\n"), ""]
    adapter = d.get("adapter_map")
    if adapter:
        lines += ["### Adapter map (candidate to legacy shape)", "", "```json",
                  json.dumps(adapter, indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def report_json(url: str, sweep_id: str) -> dict[str, Any]:
    """The machine-readable outcome of a sweep (what `--json` prints)."""
    sweep = get_sweep(url, sweep_id)
    verdict, findings = load_outcome(url, sweep.id)
    base: dict[str, Any] = {
        "sweep_id": sweep.id, "probe": sweep.probe, "status": sweep.status, "mode": sweep.mode,
        "legacy": {"name": sweep.legacy, "url": sweep.legacy_url, "profile": sweep.legacy_profile},
        "candidate": {"name": sweep.candidate, "url": sweep.candidate_url, "profile": sweep.candidate_profile},
        "parameters": {k: v for k, v in sweep.params.items() if k not in ("wire_profiles", "spec")},
    }
    if verdict is None:
        return base
    d = verdict.detail
    return {
        **base, "verdict": verdict.outcome, "reason": verdict.reason, "n": verdict.n,
        "disagreements": verdict.disagreements, "errors": verdict.errors,
        "lower": d.get("lower"), "upper": d.get("upper"), "needed": d.get("needed"),
        "methods": d.get("methods"), "statistics": d.get("detail"),
        "drift_catalog": [{"kind": f.kind, "field": f.field, "legacy": f.legacy, "candidate": f.candidate,
                           **f.detail} for f in findings],
        "adapter_map": d.get("adapter_map"),
    }

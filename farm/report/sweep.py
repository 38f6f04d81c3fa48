"""The per-sweep report, `reports/cutover/<probe>_parity_<DATE>.md`, rendered from the database alone.

It leads with the verdict and its reason, then parameters, statistics as tables (integrity, errors per class
and side, noise floor, latency with ratios), the probe's own sections and plots, and the wire-drift catalog;
the same facts go to `--json` for machines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.errors import UsageError
from farm.probes import Probe, get_probe
from farm.report.parity_log import ParityRow, pair_note, revoke, revoked_cell, upsert, write_atomic
from farm.report.plots import latency_plot
from farm.signoff import Endpoint, base_url
from farm.stats.latency import per_request
from farm.store.models import DriftFinding, Sweep, Verdict
from farm.store.signoff import decided_sweeps
from farm.store.sweeps import get_sweep, load_outcome, load_sample_arrays
from farm.wiredrift import DriftRow, render_catalog
from farm.wiredrift.strict import ADAPTER_OPTION, STRICT_OPTION

_ICON = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}


@dataclass(frozen=True)
class RenderedReport:
    path: Path
    plots: list[Path]
    summary: Path | None


def sweep_date(sweep: Sweep) -> str:
    return sweep.created_at.strftime("%Y-%m-%d")


def report_path(reports_dir: Path, sweep: Sweep) -> Path:
    """Where `render` writes a sweep's report: `<reports>/cutover/<probe>_parity_<DATE>.md` for the day's first
    sweep of the probe (the seed's per-date verdict), `<probe>_parity_<DATE>_<SWEEP ID>.md` for later ones, so
    a later sweep never overwrites a report the parity log links to."""
    day = reports_dir / "cutover" / f"{sweep.probe}_parity_{sweep_date(sweep)}.md"
    try:
        with day.open("rb") as fh:
            head = fh.read(16384)
    except FileNotFoundError:
        return day
    return day if sweep.id.encode() in head else day.with_name(f"{day.stem}_{sweep.id}.md")


def fmt(value: Any, digits: int = 6) -> str:
    """A table cell: numbers once formatted (integers with separators), nothing as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table; `|` in a cell is escaped so it cannot break the row."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def catalog_rows(findings: list[DriftFinding]) -> list[DriftRow]:
    return [DriftRow(kind=f.kind, field=f.field, legacy=f.legacy, candidate=f.candidate,
                     same=bool(f.detail.get("same", False)), detail={k: v for k, v in f.detail.items() if k != "same"})
            for f in findings]


def _integrity(d: dict[str, Any]) -> list[str]:
    rows = [[k.replace("_", " "), fmt(v) if not isinstance(v, list) else ", ".join(map(str, v)) or "—"]
            for k, v in d.items() if v not in (None, [], 0) or k in ("planned", "recorded", "missing")]
    return ["### Integrity", "", *table(["check", "value"], rows), ""] if rows else []


def _errors(d: dict[str, Any]) -> list[str]:
    rows = []
    for side in ("legacy", "candidate"):
        rep = d.get(side) or {}
        lo, hi = (rep.get("wilson") or [None, None])
        rows.append([side, "all", fmt(rep.get("count")), fmt(rep.get("rate"), 4), f"[{fmt(lo, 4)}, {fmt(hi, 4)}]"])
        for cls, k in sorted((rep.get("classes") or {}).items()):
            rows.append([side, cls, fmt(k), "", ""])
    out = ["### Errors per side and class", "", *table(["side", "class", "samples", "rate", "95% Wilson"], rows)]
    out.append("")
    out.append(f"Candidate-only errors: {fmt(d.get('candidate_only'))}; legacy-only: {fmt(d.get('legacy_only'))}; "
               f"both sides: {fmt(d.get('both'))}.")
    return [*out, ""]


def _noise(d: dict[str, Any], quantity: str) -> list[str]:
    if not d.get("measured"):
        return ["### Noise floor", "", "Not measured (`--noise-sample F` asks a fraction of batches twice; "
                "`--legacy-secondary` asks a second legacy replica).", ""]
    rows = []
    for side in ("legacy", "candidate"):
        rep = d.get(side) or {}
        rows.append([side, fmt(rep.get("n")), fmt(rep.get("below_tau")), fmt(rep.get("self_agreement_rate"), 6),
                     fmt(rep.get("min"), 6)])
    lowered = d.get("tau_effective") != d.get("tau")
    out = ["### Noise floor (each gateway against itself)", "",
           *table(["gateway", "pairs", "below tau", "self-agreement", f"min self-{quantity}"], rows), "",
           f"Effective tau: {fmt(d.get('tau_effective'))} (tau {fmt(d.get('tau'))}; "
           f"{'lowered to the legacy noise floor' if lowered else 'unchanged'}{_jitter(d)}).", ""]
    ci = d.get("legacy_below_tau_effective_ci")
    if d.get("legacy_below_tau_effective") and ci:
        out += [f"Legacy disagrees with itself at the effective tau in {fmt(d['legacy_below_tau_effective'])} "
                    f"pairs (rate in [{fmt(ci[0], 4)}, {fmt(ci[1], 4)}]): a faithful candidate would too.", ""]
    return out


def _jitter(d: dict[str, Any]) -> str:
    jitter = d.get("legacy_jitter")
    if jitter is None:
        return ""
    return f"; legacy jitter, the q{d.get('quantile', 0.9):g} self-distance: {fmt(jitter, 6)}, x {fmt(d.get('kappa'))}"


def _population(stats: dict[str, Any]) -> list[str]:
    """What the verdict speaks for: a stream it sampled, or a corpus (partly, or all of it: a census)."""
    population = stats.get("population")
    if not population:
        return []
    if stats.get("census"):
        return [f"- population: the corpus of {population:,} inputs, all compared: a census, the rate is exact"]
    return [f"- population: the corpus of {population:,} inputs (finite-population bounds)"]


def _latency(d: dict[str, Any]) -> list[str]:
    if not d:
        return []
    rows = []
    for q in ("p50", "p95", "p99"):
        ratio = (d.get("ratio") or {}).get(q) or {}
        ci = ratio.get("ci")
        rows.append([q, fmt((d.get("legacy") or {}).get(q), 1), fmt((d.get("candidate") or {}).get(q), 1),
                     fmt(ratio.get("estimate"), 3), f"[{fmt(ci[0], 3)}, {fmt(ci[1], 3)}]" if ci else "—"])
    conf = d.get("confidence")
    head = f"ratio {round(conf * 100)}% CI" if isinstance(conf, float) else "ratio CI"
    return ["### Latency per request (ms)", "",
            *table(["quantile", "legacy", "candidate", "candidate / legacy", head], rows), "",
            f"{fmt((d.get('legacy') or {}).get('n'))} legacy and {fmt((d.get('candidate') or {}).get('n'))} "
            f"candidate requests; {d.get('method', '')}.", ""]


def statistics_lines(verdict: Verdict, quantity: str) -> list[str]:
    d = verdict.detail
    stats = d.get("detail") or {}
    needed = f"; about {d['needed']:,} more samples needed" if d.get("needed") else ""
    if (d.get("methods") or {}).get("family") == "bounded mean":
        lines = ["## Statistics", "",
                 f"- samples scored (n): {verdict.n:,}; below the floor: {verdict.disagreements:,}; "
                 f"samples with an error: {verdict.errors:,}",
                 f"- mean {quantity}: {fmt(stats.get('mean'), 6)}, bounds [{fmt(d.get('lower'), 6)}, "
                 f"{fmt(d.get('upper'), 6)}] ({stats.get('bounds', '')}){needed}", *_population(stats), ""]
    else:
        lines = ["## Statistics", "",
                 f"- samples compared (n): {verdict.n:,}; disagreements (x): {verdict.disagreements:,}; "
                 f"samples with an error: {verdict.errors:,}",
                 f"- disagreement rate bounds: [{fmt(d.get('lower'), 6)}, {fmt(d.get('upper'), 6)}] "
                 f"({stats.get('bounds', '')}){needed}", *_population(stats), ""]
    summary = stats.get(quantity)
    if isinstance(summary, dict) and summary.get("n"):
        lines += [f"### {quantity.capitalize()} of compared samples", "",
                  *table([k for k in summary], [[fmt(v) for v in summary.values()]]), ""]
    if stats.get("findings"):
        lines += ["### Findings", "", *[f"- {f}" for f in stats["findings"]], ""]
    lines += _integrity(stats.get("integrity") or {})
    lines += _errors(stats.get("errors") or {})
    lines += _noise(stats.get("noise") or {}, quantity)
    lines += _latency(stats.get("latency") or {})
    bad = d.get("corpus_bad_lines")
    if bad:
        lines += ["### Corpus", "", f"{fmt(bad['count'])} captured request lines could not be parsed and were "
                  f"skipped; the first: `{bad['first']}`.", ""]
    return lines


def render(url: str, sweep_id: str, reports_dir: Path, *, update_summary: bool = True) -> RenderedReport:
    sweep = get_sweep(url, sweep_id)
    verdict, findings = load_outcome(url, sweep.id)
    if verdict is None:
        raise UsageError(f"sweep {sweep.id} has no verdict yet (status {sweep.status})")
    probe = get_probe(sweep.probe)
    path = report_path(reports_dir, sweep)
    out_dir, stem = path.parent, path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays, _errors_cols, _noise_cols = load_sample_arrays(url, sweep.id, probe)
    sections, plots = probe.report_sections(url, sweep, verdict, out_dir, stem)
    sections = [*shadow_section(verdict.detail or {}), *sections]
    legacy_ms, candidate_ms = arrays["latency_legacy_ms"], arrays["latency_candidate_ms"]
    if not probe.latency_per_sample:
        legacy_ms, candidate_ms = per_request(legacy_ms, arrays["batch_no"]), per_request(candidate_ms,
                                                                                          arrays["batch_no"])
    plots = [*plots, latency_plot(legacy_ms, candidate_ms, out_dir / f"{stem}_latency.png")]
    text = _markdown(probe, sweep, verdict, findings, sections, [p.name for p in plots])
    write_atomic(path, text)
    summary = update_parity_log(url, sweep, reports_dir) if update_summary else None
    return RenderedReport(path, plots, summary)


def standing_passes(history: Sequence[tuple[Sweep, Verdict]]) -> list[tuple[int, tuple[Sweep, Verdict] | None]]:
    """Per gateway pair (by name), the index in `history` (one endpoint's decided sweeps, oldest first) of its
    latest PASS, with the first later sweep of the endpoint (any pair) that did not PASS: what revokes it."""
    latest_pass: dict[tuple[str, str], int] = {}
    for i, (s, v) in enumerate(history):
        if v.outcome == "PASS":
            latest_pass[(s.legacy, s.candidate)] = i
    return [(i, next((h for h in history[i + 1:] if h[1].outcome != "PASS"), None))
            for i in sorted(latest_pass.values())]


def shadow_section(detail: dict[str, Any]) -> list[str]:
    """A shadow run's population (the traffic sampled in its window) and its traffic by path and minute."""
    shadow = detail.get("shadow")
    if not isinstance(shadow, dict):
        return []
    lines = ["## Shadow traffic", "",
             f"The verdict speaks for {shadow.get('population')}, as mirrored by `farm shadow` (stopped by "
             f"{detail.get('stopped_by', 'a signal')}).", "",
             "| traffic | requests |", "|---|---:|"]
    for key in ("forwarded", "mirrored", "unsampled", "dropped_queue_full", "dropped_proxy_busy",
                "unfinished_at_stop", "unparsed", "legacy_unreachable"):
        lines.append(f"| {key.replace('_', ' ')} | {shadow.get(key, 0):,} |")
    for reason, n in sorted((shadow.get("skipped") or {}).items()):
        lines.append(f"| skipped: {reason} | {n:,} |")
    lines += ["", "| endpoint | requests |", "|---|---:|"]
    lines += [f"| `{path}` | {n:,} |" for path, n in sorted((shadow.get("by_path") or {}).items())]
    lines += ["", "| minute (UTC) | requests |", "|---|---:|"]
    lines += [f"| {minute} | {n:,} |" for minute, n in sorted((shadow.get("by_minute") or {}).items())]
    return ["\n".join(lines) + "\n"]


def update_parity_log(url: str, sweep: Sweep, reports_dir: Path) -> Path | None:
    """Bring the parity log's rows of `sweep`'s endpoint in line with the database: per gateway pair (by name), its
    latest PASS, revoked when a later sweep of the endpoint (any pair, any URL) did not PASS; rows the database
    does not know (a person's, another database's) are revoked by the endpoint's latest FAIL or INCONCLUSIVE when
    dated before it. Returns the log's path, or None when it holds nothing of the endpoint's and was not changed."""
    endpoint = Endpoint.of(sweep)
    history = [(s, v) for s, v in decided_sweeps(url, [sweep.probe]) if Endpoint.of(s) == endpoint]
    rows = []
    for i, later in standing_passes(history):
        s, v = history[i]
        row = parity_row(get_probe(s.probe), s, v, report_path(reports_dir, s).name)
        rows.append(row if later is None else _revoked(row, *later))
    summary = reports_dir / "cutover" / "SUMMARY.md"
    if not rows and not summary.exists():
        return None  # only a PASS starts a parity log
    text = summary.read_text(encoding="utf-8") if summary.exists() else ""
    new = text
    last_bad = next((h for h in reversed(history) if h[1].outcome != "PASS"), None)
    if last_bad is not None:
        bad, bad_verdict = last_bad
        new = revoke(new, (endpoint.probe, endpoint.legacy_path, endpoint.candidate_path), sweep_date(bad),
                     bad_verdict.outcome, _revoked_note(bad))
    for row in rows:
        new = upsert(new, row)
    if new != text:
        write_atomic(summary, new)
    return summary if rows or new != text else None


def _revoked_note(bad: Sweep) -> str:
    return f"Revoked by sweep `{bad.id}` (`{base_url(bad, 'legacy')}` → `{base_url(bad, 'candidate')}`)."


def _revoked(row: ParityRow, bad: Sweep, verdict: Verdict) -> ParityRow:
    return ParityRow(row.endpoint, row.date, row.legacy_path, row.candidate_path,
                     revoked_cell(row.date, verdict.outcome, sweep_date(bad)), f"{row.notes} {_revoked_note(bad)}")


def parity_row(probe: Probe, sweep: Sweep, verdict: Verdict, report_name: str) -> ParityRow:
    model = sweep.model or "gateway default"
    endpoint = Endpoint.of(sweep)
    return ParityRow(
        endpoint=f"`{sweep.probe}` ({model})", date=sweep_date(sweep),
        legacy_path=endpoint.legacy_path, candidate_path=endpoint.candidate_path,
        verdict=probe.parity_cell(verdict, sweep.params),
        notes=f"{pair_note(sweep.legacy, sweep.candidate, base_url(sweep, 'legacy'), base_url(sweep, 'candidate'))} "
              f"{flip_note(sweep, verdict)}{verdict.reason} "
              f"Sweep `{sweep.id}`, see `{report_name}`.",
    )


def flip_note(sweep: Sweep, verdict: Verdict) -> str:
    """The flip: a strict-wire PASS through an adapter proxy makes the endpoint a drop-in (naming the map)."""
    options = (sweep.params or {}).get("probe_options") or {}
    if verdict.outcome != "PASS" or not options.get(STRICT_OPTION):
        return ""
    digest = options.get(ADAPTER_OPTION)
    if digest:
        return f"Drop-in through adapter (map sha256 {str(digest)[:12]}): strict wire parity. "
    return "Strict wire parity. "


def parameter_rows(params: dict[str, Any], detail: dict[str, Any]) -> list[list[str]]:
    """The report's parameter table: the sweep's scalar parameters, then the verdict's methods."""
    return ([[k, f"{v:g}" if isinstance(v, float) else fmt(v)] for k, v in params.items()
             if not isinstance(v, dict) and v is not None]
            + [[f"method: {k}", str(v)] for k, v in (detail.get("methods") or {}).items()])


def _markdown(probe: Probe, sweep: Sweep, verdict: Verdict, findings: list[DriftFinding], sections: list[str],
              plots: list[str]) -> str:
    p = sweep.params
    d = verdict.detail
    lines = [
        f"# {probe.title}: {sweep.legacy} vs {sweep.candidate}, {sweep_date(sweep)}",
        "",
        f"**Verdict: {_ICON.get(verdict.outcome, '')} {verdict.outcome}**. {verdict.reason}",
        "",
        f"Sweep `{sweep.id}` ({sweep.mode} mode), corpus `{sweep.corpus}`, model `{sweep.model or 'default'}`.",
        "",
        *table(["", "legacy", "candidate"], [
            ["gateway", f"`{sweep.legacy}`", f"`{sweep.candidate}`"],
            ["endpoint", f"`{sweep.legacy_url}`", f"`{sweep.candidate_url}`"],
            ["wire profile", f"`{sweep.legacy_profile}`", f"`{sweep.candidate_profile}`"]]),
        "",
        *statistics_lines(verdict, probe.quantity),
        "## Parameters",
        "",
        *table(["parameter", "value"], parameter_rows(p, d)),
        "",
        "## Plots",
        "",
        *[f"![{name}]({name})" for name in plots],
        "",
        *sections,
        "## Wire-drift catalog", "",
        render_catalog(catalog_rows(findings), sweep.legacy, sweep.candidate).rstrip("\n"), "",
    ]
    lines += strict_section(d.get("strict_wire"))
    adapter = d.get("adapter_map")
    if adapter:
        lines += ["### Adapter map (candidate to legacy shape)", "", "```json",
                  json.dumps(adapter, indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def strict_section(strict: dict[str, Any] | None) -> list[str]:
    """`--strict-wire`: how many samples' documents differed, and where (a count per field path)."""
    if not strict:
        return []
    lines = ["## Strict wire parity", "",
             f"{strict['differ']:,} of {strict['samples']:,} samples' response documents differ (after the profiles' "
             "ignore lists; floats within a relative 1e-9)." if strict["differ"] else
             f"All {strict['samples']:,} samples' response documents are the same to a client.", ""]
    if strict["paths"]:
        lines += table(["field path", "samples"], [[f"`{p}`", f"{n:,}"] for p, n in
                                                   sorted(strict["paths"].items(), key=lambda kv: (-kv[1], kv[0]))])
        lines.append("")
    return lines


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
    out = {
        **base, "verdict": verdict.outcome, "reason": verdict.reason, "n": verdict.n,
        "disagreements": verdict.disagreements, "errors": verdict.errors,
        "lower": d.get("lower"), "upper": d.get("upper"), "needed": d.get("needed"),
        "methods": d.get("methods"), "statistics": d.get("detail"),
        "drift_catalog": [{"kind": f.kind, "field": f.field, "legacy": f.legacy, "candidate": f.candidate,
                           **f.detail} for f in findings],
        "adapter_map": d.get("adapter_map"),
    }
    if d.get("strict_wire") is not None:
        out["strict_wire"] = d["strict_wire"]
    if d.get("corpus_bad_lines"):
        out["corpus_bad_lines"] = d["corpus_bad_lines"]
    if d.get("shadow"):
        out["shadow"] = d["shadow"]
    return out

"""The chat report's own sections: the similarity distribution against the noise floor (plot), the worst samples
with both answers side by side, the token accounting table, the finish-reason map, the stream checks and the
time-to-first-token / tokens-per-second table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.probes import get_probe
from farm.report.plots import _pyplot
from farm.report.sweep import fmt, table
from farm.store.sweeps import load_sample_arrays, worst_samples


def similarity_plot(similarity: NDArray[np.float64], legacy_self: NDArray[np.float64], r_min: float | None,
                    path: Path) -> Path:
    """Histograms of chrF legacy vs candidate and of legacy against itself (the noise floor), r_min marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bins = np.linspace(0.0, 1.0, 41)
    sim = similarity[np.isfinite(similarity)]
    ax.hist(sim, bins=bins, color="#4472c4", alpha=0.7, density=True, label=f"legacy vs candidate (n={sim.size:,})")
    own = legacy_self[np.isfinite(legacy_self)]
    if own.size:
        ax.hist(own, bins=bins, color="#ed7d31", alpha=0.5, density=True,
                label=f"legacy vs itself, A/A (n={own.size:,})")
    if r_min is not None:
        ax.axvline(r_min, color="#c00000", linestyle="--", label=f"r_min = {r_min:.4f}")
    ax.set_xlabel("chrF similarity (1 = same text)")
    ax.set_ylabel("density")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def statistics(verdict: Any) -> dict[str, Any]:
    """The verdict's statistics: a stored verdict row keeps them under `detail.detail`."""
    d = verdict.detail if isinstance(verdict.detail, dict) else {}
    inner = d.get("detail")
    return inner if isinstance(inner, dict) else d


def _cell(text: Any) -> str:
    return "" if text is None else str(text).replace("\n", " ").replace("|", "\\|")[:160]


def _pair(s: dict[str, Any]) -> list[str]:
    return [str(s["idx"]), fmt(s["score"], 4), _cell(s.get("text_legacy")), _cell(s.get("text_candidate")),
            f"{_cell(s.get('finish_legacy'))} / {_cell(s.get('finish_candidate'))}",
            s["legacy_error"] or "", s["candidate_error"] or ""]


def _tokens(d: dict[str, Any]) -> list[str]:
    rows = []
    for what in ("prompt", "completion"):
        t = d.get("tokens", {}).get(what, {})
        values = ", ".join(f"{k}: {v}" for k, v in (t.get("values") or {}).items())
        sent = t.get("sent") or {}
        silent = [side for side in ("legacy", "candidate") if t.get("answers") and sent.get(side) == 0]
        offset = f"not sent by {' and '.join(silent)}" if silent else str(t.get("offset"))
        if t.get("per_message"):
            offset += f" ({t['per_message']:+d} per message)"
        rows.append([what, str(t.get("n", 0)), offset, str(t.get("inconsistent", 0)), values])
    return ["## Token accounting (candidate - legacy)", "",
            *table(["count", "samples", "constant offset", "off the offset", "offsets seen (value: samples)"], rows),
            "", "Completion counts are compared only where the two answers are the same text; a side that sent no "
            "count is `not sent` (OpenAI streams carry usage only when asked: the `openai` preset asks).", ""]


def _finish(d: dict[str, Any]) -> list[str]:
    fm = d.get("finish", {})
    rows = [[f"`{p['legacy']}`", f"`{p['candidate']}`", str(p["count"]), "yes" if p["same_meaning"] else "no"]
            for p in fm.get("pairs", [])]
    lines = ["## Finish reasons", "", *table(["legacy", "candidate", "samples", "same meaning"], rows), ""]
    if fm.get("unmapped"):
        lines += [f"Unmapped finish reasons: {', '.join(f'`{n}`' for n in fm['unmapped'])}.", ""]
    return lines


def _timing(d: dict[str, Any]) -> list[str]:
    t = d.get("timing", {})
    ttft, tps = t.get("ttft_ms", {}), t.get("tokens_per_s", {})
    rows = []
    for side in ("legacy", "candidate"):
        s = ttft.get(side, {}) or {}
        r = tps.get(side, {}) or {}
        ci = r.get("mean_ci") or [None, None]
        rows.append([side, str(s.get("n", 0)), fmt(s.get("p50"), 2), fmt(s.get("p95"), 2), fmt(s.get("p99"), 2),
                     fmt(r.get("mean"), 1), f"[{fmt(ci[0], 1)}, {fmt(ci[1], 1)}]"])
    lines = ["## Time to first token and tokens per second", "",
             *table(["gateway", "n", "TTFT p50 ms", "p95", "p99", "tokens/s mean", "95% interval"], rows), ""]
    ratio = ttft.get("ratio") or {}
    if ratio:
        cells = [f"{q} {fmt(r.get('estimate'), 3)} [{fmt((r.get('ci') or [None, None])[0], 3)}, "
                 f"{fmt((r.get('ci') or [None, None])[1], 3)}]" for q, r in ratio.items() if isinstance(r, dict)]
        lines += [f"Candidate / legacy TTFT ratio (paired bootstrap 95%): {'; '.join(cells)}.", ""]
    return lines


def _streams(d: dict[str, Any]) -> list[str]:
    sc = d.get("stream_checks", {})
    rows = [[side, str(v.get("checked", 0)), str(v.get("equal", 0)), str(v.get("differ", 0))]
            for side, v in sc.items()]
    return ["## Stream against plain answer (the first input of each batch asked both ways)", "",
            *table(["gateway", "checked", "equal", "differ"], rows), ""]


def sections(url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[list[str], list[Path]]:
    probe = get_probe("chat")
    arrays, _texts, noise = load_sample_arrays(url, sweep.id, probe)
    d = statistics(verdict)
    semantic = d.get("semantic") or {}
    legacy_self = np.asarray(noise.get("legacy") if noise.get("legacy") is not None else [], dtype=np.float64)
    plot = similarity_plot(arrays["similarity"], legacy_self, semantic.get("r_min"), out_dir / f"{stem}_chrf.png")
    lines = ["## Similarity against the noise floor", ""]
    own = legacy_self[np.isfinite(legacy_self)]
    lines += [f"- mean chrF legacy vs candidate: {fmt(d.get('similarity_mean'), 4)}; exact matches: "
              f"{d.get('exact_matches', 0):,}",
              f"- legacy against itself (A/A): {fmt(float(own.mean()) if own.size else None, 4)} over {own.size:,} "
              "samples" + (f"; r_min {fmt(semantic.get('r_min'), 4)} (margin {semantic.get('margin')})"
                           if semantic else ""), ""]
    lowest, failed = worst_samples(url, sweep.id, probe)
    header = ["idx", "score", "legacy answer", "candidate answer", "finish (L / C)", "legacy error",
              "candidate error"]
    lines += ["## Worst samples, both answers side by side", "", *table(header, [_pair(s) for s in lowest]), ""]
    if failed:
        lines += ["### Samples with errors (first 10)", "", *table(header, [_pair(s) for s in failed]), ""]
    if d.get("warnings"):
        lines += ["## Warnings", "", *[f"- {w}" for w in d["warnings"]], ""]
    lines += _tokens(d) + _finish(d) + _streams(d) + _timing(d)
    return lines, [plot]

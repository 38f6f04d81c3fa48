"""The embed report's own sections: the cosine distribution plot and the worst samples with their norms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from farm.probes import get_probe
from farm.report.plots import cosine_plot
from farm.report.sweep import fmt, table
from farm.store.sweeps import load_sample_arrays, worst_samples

_HEADER = ["idx", "input", "cosine", "‖legacy‖", "‖candidate‖", "legacy error", "candidate error"]


def _row(s: dict[str, Any]) -> list[str]:
    return [str(s["idx"]), f"`{s['input_sha']}`", fmt(s["score"]), fmt(s["norm_legacy"], 4),
            fmt(s["norm_candidate"], 4), s["legacy_error"] or "", s["candidate_error"] or ""]


def sections(url: str, sweep: Any, out_dir: Path, stem: str) -> tuple[list[str], list[Path]]:
    probe = get_probe("embed")
    arrays, _errors, _noise = load_sample_arrays(url, sweep.id, probe)
    plot = cosine_plot(arrays["score"], float(sweep.params.get("tau", 0.9999)), out_dir / f"{stem}_cosine.png")
    lowest, failed = worst_samples(url, sweep.id, probe)
    lines = ["## Worst samples", "", *table(_HEADER, [_row(s) for s in lowest]), ""]
    if failed:
        lines += ["### Samples with errors (first 10)", "", *table(_HEADER, [_row(s) for s in failed]), ""]
    return lines, [plot]

"""The storage report sections: disagreements and drift by class, the object size against the outcome plot."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from farm.probes.base import Probe
from farm.report.plots import _pyplot
from farm.report.sweep import fmt, table
from farm.store.sweeps import load_sample_arrays


def sections(probe: Probe, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[list[str],
                                                                                                    list[Path]]:
    arrays, texts, _ = load_sample_arrays(url, sweep.id, probe)
    ops, classes, drift = texts["op"], texts["diff_class"], texts["header_drift"]
    by_class = Counter((o or "?", c) for o, c in zip(ops, classes, strict=True) if c)
    by_drift = Counter(d for ds in drift if ds for d in ds.split(","))
    lines = ["## Disagreements by class", ""]
    lines += [*table(["input", "class", "samples"], [[o, c, fmt(n)] for (o, c), n in by_class.most_common()]), ""] \
        if by_class else ["None.", ""]
    lines += ["## Header and listing drift (catalog, not verdict)", ""]
    lines += [*table(["difference", "samples"], [[d, fmt(n)] for d, n in by_drift.most_common()]), ""] \
        if by_drift else ["None.", ""]
    sizes = arrays["size"]
    objects = np.array([o == "object" for o in ops], dtype=bool) & (sizes >= 0)
    plots: list[Path] = []
    if objects.any():
        bad = np.array([c is not None for c in classes], dtype=bool)
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(7, 3.2))
        bins = np.logspace(0, np.log10(max(2.0, float(sizes[objects].max()) + 1)), 40)
        ax.hist([sizes[objects & ~bad] + 1, sizes[objects & bad] + 1], bins=bins, stacked=True,
                color=["#4472c4", "#c0504d"], label=["agree", "disagree"])
        ax.set_xscale("log")
        ax.set_xlabel("object size + 1 (bytes)")
        ax.set_ylabel("objects")
        ax.set_title("Object size vs outcome")
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{stem}_sizes.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        plots.append(path)
        lines += [f"![{path.name}]({path.name})", ""]
    return lines, plots

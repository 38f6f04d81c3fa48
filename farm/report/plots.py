"""PNG plots for sweep reports, drawn with matplotlib's non-interactive backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on workers or CI
    import matplotlib.pyplot as plt

    return plt


def cosine_plot(cosines: Array, tau: float, path: Path) -> Path:
    """Histogram of 1 - cosine (log scale) and the ECDF of cosine, with tau marked on both."""
    plt = _pyplot()
    finite = cosines[np.isfinite(cosines)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    gap = np.clip(1.0 - finite, 1e-12, None)
    bins = np.logspace(-12, 0, 61)
    ax1.hist(gap, bins=bins, color="#4472c4")
    ax1.set_xscale("log")
    ax1.axvline(1.0 - tau, color="#c00000", linestyle="--", label=f"tau = {tau}")
    ax1.set_xlabel("1 - cosine (log)")
    ax1.set_ylabel("samples")
    ax1.legend()
    # The ECDF on the same log axis as the histogram: raw cosines near 1 make unreadable tick labels.
    xs = np.sort(gap)
    ys = np.arange(1, xs.size + 1) / max(xs.size, 1)
    ax2.step(xs, ys, where="post", color="#4472c4")
    ax2.axvline(1.0 - tau, color="#c00000", linestyle="--", label=f"1 - tau = {1.0 - tau:.0e}")
    ax2.set_xscale("log")
    ax2.set_xlim(3e-13, 1.0)  # identical vectors sit at the 1e-12 clip: keep them off the frame
    ax2.set_xlabel("1 - cosine (log); 1e-12 = identical")
    ax2.set_ylabel("ECDF")
    ax2.legend(loc="lower right")
    fig.suptitle(f"Cosine legacy vs candidate ({finite.size:,} samples)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def latency_plot(legacy_ms: Array, candidate_ms: Array, path: Path) -> Path:
    """Latency distribution per gateway, one value per request (NaN for the other samples of a batch)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    data = [a[np.isfinite(a) & (a > 0)] for a in (legacy_ms, candidate_ms)]
    lo = max(min((float(d.min()) for d in data if d.size), default=0.1), 0.01)
    hi = max((float(d.max()) for d in data if d.size), default=1.0)
    bins = np.logspace(np.log10(lo), np.log10(max(hi, lo * 1.01)), 50)
    for values, label, color in zip(data, ("legacy", "candidate"), ("#4472c4", "#ed7d31"), strict=True):
        if values.size:
            ax.hist(values, bins=bins, alpha=0.6, label=f"{label} (p50 {np.median(values):.1f} ms)", color=color)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())  # minor labels on a log axis collide
    ax.set_xlabel("request latency (ms, log)")
    ax.set_ylabel("requests")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

"""The retrieval report's own sections: recall@k and RBO distributions, tie statistics, the score relation
plot, and the worst queries with both top-k lists side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from farm.probes.base import Probe
from farm.report.plots import _pyplot
from farm.report.sweep import fmt, table
from farm.store.sweeps import load_sample_arrays, worst_samples

SCATTER_QUERIES = 2000


def _parse_top(text: str | None) -> list[tuple[str, float]]:
    out = []
    for part in (text or "").split():
        hid, _, score = part.rpartition("@")
        try:
            out.append((hid, float(score)))
        except ValueError:
            continue
    return out


def distributions_plot(recall: npt.NDArray[np.float64], rbo: npt.NDArray[np.float64], k: int, r_min: float,
                       path: Path) -> Path:
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    bins = np.linspace(0, 1, 21)
    for values, label, color in ((recall, f"recall@{k} (tie-aware)", "#4472c4"), (rbo, "RBO p=0.9", "#ed7d31")):
        finite = values[np.isfinite(values)]
        ax1.hist(finite, bins=bins, alpha=0.6, label=label, color=color)
        xs = np.sort(finite)
        ax2.step(xs, np.arange(1, xs.size + 1) / max(xs.size, 1), where="post", label=label, color=color)
    ax1.axvline(r_min, color="#c00000", linestyle="--", label=f"r_min = {r_min}")
    ax1.set_xlabel("per-query score")
    ax1.set_ylabel("queries")
    ax1.legend(loc="upper left")
    ax2.set_xlabel("per-query score")
    ax2.set_ylabel("ECDF")
    ax2.legend(loc="upper left")
    fig.suptitle(f"Recall@{k} and RBO per query ({int(np.isfinite(recall).sum()):,} queries)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def relation_plot(pairs: list[tuple[float, float]], words: str, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    if pairs:
        a = np.array(pairs)
        ax.scatter(a[:, 0], a[:, 1], s=4, alpha=0.4, color="#4472c4")
    ax.set_xlabel("legacy score")
    ax.set_ylabel("candidate score")
    ax.set_title(f"Scores on common hits: {words}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _side_by_side(s: dict[str, Any]) -> list[str]:
    lt, ct = _parse_top(s.get("legacy_top")), _parse_top(s.get("candidate_top"))
    legacy_ids = {h for h, _ in lt}
    rows = []
    for r in range(max(len(lt), len(ct))):
        lcell = f"`{lt[r][0]}` {lt[r][1]:.4f}" if r < len(lt) else ""
        if r < len(ct):
            mark = "" if ct[r][0] in legacy_ids else " ✗"
            ccell = f"`{ct[r][0]}` {ct[r][1]:.4f}{mark}"
        else:
            ccell = ""
        rows.append([str(r + 1), lcell, ccell])
    head = (f"#### Query {s['idx']} (`{s['input_sha']}`): recall {fmt(s['score'], 3)}, plain "
            f"{fmt(s.get('recall_plain'), 3)}, RBO {fmt(s.get('rbo'), 3)}, first disagreement at rank "
            f"{fmt(s.get('first_diff'))}")
    return [head, "", *table(["rank", "legacy", "candidate (✗: not in legacy top-k)"], rows), ""]


def sections(probe: Probe, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[
        list[str], list[Path]]:
    arrays, texts, _noise = load_sample_arrays(url, sweep.id, probe)
    options = sweep.params.get("probe_options") or {}
    k = int(options.get("k") or 10)
    summary = (verdict.detail.get("detail") or {}).get("retrieval") or {}
    plots = [distributions_plot(arrays["score"], arrays["rbo"], k, float(sweep.params.get("tau", 0.99)),
                                out_dir / f"{stem}_recall.png")]
    pairs: list[tuple[float, float]] = []
    for lt, ct in list(zip(texts.get("legacy_top", []), texts.get("candidate_top", []), strict=False))[
            :SCATTER_QUERIES]:
        cmap = dict(_parse_top(ct))
        pairs += [(s, cmap[h]) for h, s in _parse_top(lt) if h in cmap]
    plots.append(relation_plot(pairs, str(summary.get("score_relation_words", "")),
                               out_dir / f"{stem}_score_relation.png"))
    rows = [[k_, fmt(v, 4) if isinstance(v, float) else fmt(v)] for k_, v in summary.items()
            if not isinstance(v, dict)]
    lines = ["## Retrieval", "", *table(["measure", "value"], rows), "",
             f"Ties: {fmt(summary.get('queries_with_ties'))} queries had candidate hits counted only because they "
             f"tie the legacy k-th score (within {options.get('tie_eps', 1e-6)}); "
             f"{fmt(summary.get('queries_with_legacy_ties'))} legacy top-k lists hold ties at the k-th score. "
             f"Plain recall {fmt(summary.get('mean_recall_plain'), 4)} vs tie-aware "
             f"{fmt(summary.get('mean_recall_tie_aware'), 4)}.", ""]
    if "mean_lexical_overlap" in summary:
        lex, vec = summary.get("mean_lexical_overlap"), summary.get("mean_vector_overlap")
        lines += [f"Retriever parts: lexical-only top-k overlap {fmt(lex, 4)}, vector-only {fmt(vec, 4)}: "
                  + _blame(lex, vec, summary.get("mean_recall_tie_aware")), ""]
    lowest, failed = worst_samples(url, sweep.id, probe, k=5)
    lines += ["## Worst queries", ""]
    for s in lowest:
        lines += _side_by_side(s)
    if failed:
        lines += ["### Queries with errors (first 5)", "",
                  *table(["idx", "query", "legacy error", "candidate error"],
                         [[str(s["idx"]), f"`{s['input_sha']}`", s["legacy_error"] or "", s["candidate_error"] or ""]
                          for s in failed]), ""]
    return lines, plots


def _blame(lex: float | None, vec: float | None, fused: float | None) -> str:
    """Which part drifted: a retriever whose own top-k moved, or the fusion when both parts agree."""
    if lex is None or vec is None:
        return "the gateway did not expose both parts."
    if lex >= 0.99 and vec >= 0.99:
        return ("both retrievers agree, so the fused ranking's drift is in the fusion (weights or normalisation)."
                if fused is not None and fused < 0.99 else "both retrievers and the fusion agree.")
    drifted = [name for name, v in (("lexical (BM25)", lex), ("vector", vec)) if v < 0.99]
    return f"the {' and '.join(drifted)} retriever drifted."

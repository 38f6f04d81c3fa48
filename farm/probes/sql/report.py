"""The sql report sections: disagreements grouped by class and explaining feature, an example per group (the
statement and the rows where the two results part), the row-count differences plot."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from farm.probes.base import Probe
from farm.probes.sql.compare import NOT_COUNTED
from farm.report.plots import _pyplot
from farm.report.sweep import fmt, table
from farm.store.sweeps import load_sample_arrays


def sections(probe: Probe, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[list[str],
                                                                                                    list[Path]]:
    arrays, texts, _ = load_sample_arrays(url, sweep.id, probe)
    classes, features, examples = texts["diff_class"], texts["feature"], texts["example"]
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (c, f) in enumerate(zip(classes, features, strict=True)):
        if c:
            groups[(c, f or "—")].append(i)
    d = verdict.detail.get("detail") or {}
    lines = ["## Disagreements by class", ""]
    if not groups:
        lines += ["None.", ""]
    else:
        rows = [[c, f, fmt(len(ix)), _counted(c)]
                for (c, f), ix in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
        lines += [*table(["class", "SQL feature", "statements", "counted"], rows), ""]
    lines += [f"Declared types differed with equal values in {fmt(d.get('type_drift'))} statements (drift, not "
              f"disagreement); numbers sent as strings in {fmt(d.get('numbers_as_strings'))}; results cut at "
              f"--max-rows in {fmt(d.get('truncated'))}; order not checkable (ORDER BY a key outside the select "
              f"list) in {fmt(d.get('order_unverifiable'))}; duplicate column names in "
              f"{fmt(d.get('duplicate_columns'))}.", ""]
    if d.get("duplicate_columns"):
        lines += ["**Warning**: row objects cannot carry duplicate names: statements returning two columns of one "
                  "name were compared on their other columns only.", ""]
    shown = [(k, ix) for k, ix in sorted(groups.items(), key=lambda kv: -len(kv[1])) if k[0] not in NOT_COUNTED]
    if shown:
        lines += ["### One statement per class", ""]
        for (c, f), ix in shown[:12]:
            example = next((examples[i] for i in ix if examples[i]), None)
            lines += [f"**{c}** ({f}), {len(ix):,} statements, for example (the rows where the results part):", "",
                      "```json", str(example), "```", ""]
    plots = []
    rl, rc = arrays["rows_legacy"], arrays["rows_candidate"]
    diff_mask = (rl >= 0) & (rc >= 0) & (rl != rc)
    if diff_mask.any():
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.hist((rc - rl)[diff_mask], bins=40, color="#c0504d")
        ax.set_xlabel("candidate rows - legacy rows")
        ax.set_ylabel("statements")
        ax.set_title("Row-count differences")
        fig.tight_layout()
        path = out_dir / f"{stem}_row_counts.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        plots.append(path)
        lines += [f"![{path.name}]({path.name})", ""]
    return lines, plots


def _counted(diff_class: str) -> str:
    if diff_class == "nondeterministic":
        return "no (not judged)"
    if diff_class in NOT_COUNTED:
        return "no (content judged where comparable)"
    return "yes"

"""Small inline SVG charts drawn on the server (no script, no network): the sweep page's latency quantiles."""

from __future__ import annotations

from html import escape
from typing import Any

SIDES = (("legacy", "#8c959f"), ("candidate", "#0969da"))
QUANTILES = ("p50", "p95", "p99")


def latency_bars(latency: dict[str, Any], width: int = 420) -> str:
    """Legacy and candidate per-request latency at p50, p95 and p99 as paired bars (ms), from the verdict's
    latency statistics; empty when there are none."""
    values = {(side, q): (latency.get(side) or {}).get(q) for side, _ in SIDES for q in QUANTILES}
    known = [v for v in values.values() if isinstance(v, (int, float))]
    if not known or max(known) <= 0:
        return ""
    top, label_w, bar_h, gap = max(known), 40, 12, 10
    scale = (width - label_w - 70) / top
    parts, y = [], 4
    for q in QUANTILES:
        parts.append(f'<text x="0" y="{y + bar_h + 4}" font-size="12">{q}</text>')
        for side, colour in SIDES:
            v = values[(side, q)]
            if isinstance(v, (int, float)):
                w = max(1.0, v * scale)
                parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                             f"<title>{escape(side)} {q} {v:.1f} ms</title></rect>"
                             f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 2}" font-size="11">{v:.1f} ms</text>')
            y += bar_h + 2
        y += gap
    legend = "".join(f'<rect x="{label_w + i * 90}" y="{y}" width="10" height="10" fill="{c}"/>'
                     f'<text x="{label_w + i * 90 + 14}" y="{y + 9}" font-size="11">{s}</text>'
                     for i, (s, c) in enumerate(SIDES))
    return (f'<svg class="chart" width="{width}" height="{y + 16}" viewBox="0 0 {width} {y + 16}" role="img" '
            f'aria-label="latency per request, legacy and candidate">{"".join(parts)}{legend}</svg>')

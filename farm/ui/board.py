"""The migration board as data: one row per endpoint and gateway pair, from the decided sweeps.

"The same endpoint" and revocation are the parity log's (`farm.signoff.Endpoint`,
`farm.report.sweep.standing_passes`): a PASS of a pair is revoked by a later FAIL or INCONCLUSIVE of its
endpoint, whatever pair that was swept on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from farm.report.sweep import standing_passes
from farm.signoff import Endpoint
from farm.store.models import Sweep, Verdict
from farm.store.signoff import sweep_time

TREND = 30  # sweeps drawn in a row's trend
COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#bf8700"}


@dataclass(frozen=True)
class Revocation:
    pass_sweep: str
    pass_when: datetime
    by_sweep: str
    by_outcome: str
    by_when: datetime


@dataclass(frozen=True)
class BoardRow:
    endpoint: Endpoint
    legacy: str
    candidate: str
    latest: tuple[Sweep, Verdict]
    when: datetime
    sweeps: int
    trend: str  # inline SVG
    revoked: Revocation | None  # the pair's latest PASS, revoked by a later sweep of the endpoint


def sparkline(history: Sequence[tuple[Sweep, Verdict]], width: int = 160, height: int = 28) -> str:
    """The sweeps' upper bounds as a line, one dot per sweep in its verdict's colour (hover: id, bounds)."""
    points = list(history)[-TREND:]
    if not points:
        return ""
    uppers = [v.detail.get("upper") for _, v in points]
    known = [u for u in uppers if isinstance(u, (int, float))]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    span = (hi - lo) or 1.0
    step = (width - 8) / max(len(points) - 1, 1)
    coords = []
    for i, u in enumerate(uppers):
        y = 4 + (height - 8) * (1 - (u - lo) / span) if isinstance(u, (int, float)) and hi != lo else height / 2
        coords.append((4 + i * step, y))
    dots = []
    for (x, y), (s, v) in zip(coords, points, strict=True):
        tip = f"{s.id} {v.outcome} [{v.detail.get('lower')}, {v.detail.get('upper')}] n={v.n}"
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS.get(v.outcome, "#57606a")}">'
                    f"<title>{escape(tip)}</title></circle>")
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="trend of {len(points)} sweeps"><polyline points="{line}" fill="none" stroke="#8c959f" '
            f'stroke-width="1"/>{"".join(dots)}</svg>')


def board(decided: Sequence[tuple[Sweep, Verdict]]) -> list[BoardRow]:
    """Rows ordered by endpoint, then pair; `decided` is oldest first."""
    by_endpoint: dict[Endpoint, list[tuple[Sweep, Verdict]]] = {}
    for pair in decided:
        by_endpoint.setdefault(Endpoint.of(pair[0]), []).append(pair)
    rows = []
    for endpoint, history in by_endpoint.items():
        revoked: dict[tuple[str, str], Revocation] = {}
        for i, later in standing_passes(history):
            if later is not None:
                s, _ = history[i]
                revoked[(s.legacy, s.candidate)] = Revocation(s.id, sweep_time(s), later[0].id, later[1].outcome,
                                                              sweep_time(later[0]))
        by_pair: dict[tuple[str, str], list[tuple[Sweep, Verdict]]] = {}
        for s, v in history:
            by_pair.setdefault((s.legacy, s.candidate), []).append((s, v))
        for (legacy, candidate), sweeps in by_pair.items():
            latest = sweeps[-1]
            rows.append(BoardRow(endpoint, legacy, candidate, latest, sweep_time(latest[0]), len(sweeps),
                                 sparkline(sweeps), revoked.get((legacy, candidate))))
    return sorted(rows, key=lambda r: (r.endpoint.probe, r.endpoint.legacy_path, r.endpoint.candidate_path,
                                       r.legacy, r.candidate))

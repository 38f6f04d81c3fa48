"""A side that fails on every sample is not a parity question: stop the sweep early and say why.

With both gateway URLs wrong, a sweep used to run to its end and print "INCONCLUSIVE: 0 of 0 below cosine
0.9999 ... about 2,995 more samples needed". Now, once the first `MIN_BATCHES` batches (or the whole sweep, if
shorter) all failed on one side, the sweep stops with a reason naming the side, the error class and the counts
("legacy unreachable: 96 of 96 connection refused or lost at http://127.0.0.1:1/ai/embed") and exit code 4.
Both modes use it: the embedded engine on its running tally, the distributed producer on the stored samples.
"""

from __future__ import annotations

from collections.abc import Mapping

from farm.errors import EXIT_SIDE_FAILED, FarmError
from farm.gateway.errors import CONNECTION, DEADLINE, HTTP_STATUS, NOT_FOUND, TIMEOUT, describe

MIN_BATCHES = 3  # batches that must all fail on a side before the sweep is stopped
SIDES = ("legacy", "candidate")
_UNREACHABLE = {CONNECTION, TIMEOUT, DEADLINE}


class SideFailed(FarmError):
    """A side failed on every sample so far: the sweep was stopped (exit code 4)."""

    exit_code = EXIT_SIDE_FAILED


def failing_side(samples: int, errors: Mapping[str, Mapping[str, int]], where: Mapping[str, str]) -> str | None:
    """The reason to stop when a side's every sample so far failed, else None.

    `errors[side][error_class]` counts the failed samples of each side out of `samples`; `where[side]` names
    the endpoint in the reason.
    """
    if samples <= 0:
        return None
    reasons = []
    for side in SIDES:
        counts = errors.get(side, {})
        if sum(counts.values()) < samples:
            continue
        top, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        state = "unreachable" if top in _UNREACHABLE else "failing" if top in (HTTP_STATUS, NOT_FOUND) else "unreadable"
        detail = f"{count:,} of {samples:,} {describe(top)}"
        rest = samples - count
        if rest:
            detail += f" ({rest:,} other errors)"
        at = f" at {where[side]}" if where.get(side) else ""
        reasons.append(f"{side} {state}: {detail}{at}")
    return "; ".join(reasons) + " - no sample could be compared, the sweep was stopped" if reasons else None


def split_tally(errors: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """The engine's `{"side:class": n}` counts as `{side: {class: n}}`."""
    out: dict[str, dict[str, int]] = {side: {} for side in SIDES}
    for key, n in errors.items():
        side, _, err = key.partition(":")
        out.setdefault(side, {})[err] = n
    return out

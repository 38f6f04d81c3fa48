"""A side that fails on every sample is not a parity question: stop the sweep early and say why.

With both gateway URLs wrong, a sweep used to run to its end and print "INCONCLUSIVE: 0 of 0 below cosine
0.9999 ... about 2,995 more samples needed". Now, once the first `MIN_BATCHES` batches (or the whole sweep, if
shorter) all failed on one side, the sweep stops with a reason naming the side, the error class and the counts
("legacy unreachable: 96 of 96 connection refused or lost at http://127.0.0.1:1/ai/embed") and exit code 4.
What the class alone does not say comes after it when known: the HTTP status and the first bytes of the error
body ("68 of 68 HTTP error status (HTTP 404: {"error":"model not found"})"), or a probe's own hint.
Both modes use it: the embedded engine on its running tally, the distributed producer on the stored samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from farm.errors import EXIT_SIDE_FAILED, FarmError
from farm.gateway.errors import CONNECTION, DEADLINE, HTTP_STATUS, NOT_FOUND, TIMEOUT, describe
from farm.wiredrift.strict import MISMATCH

MIN_BATCHES = 3  # batches that must all fail on a side before the sweep is stopped
SIDES = ("legacy", "candidate")
_UNREACHABLE = {CONNECTION, TIMEOUT, DEADLINE}


class SideFailed(FarmError):
    """A side failed on every sample so far: the sweep was stopped (exit code 4)."""

    exit_code = EXIT_SIDE_FAILED

    def __init__(self, sweep_id: str, reason: str) -> None:
        super().__init__(f"sweep {sweep_id}: {reason}")
        self.sweep_id, self.reason = sweep_id, reason

    def to_json(self) -> dict[str, object]:
        """What `--json` prints on this exit: no verdict, the reason, the exit code."""
        return {"sweep_id": self.sweep_id, "verdict": None, "status": "failed", "exit_code": self.exit_code,
                "reason": self.reason}


def failing_side(samples: int, errors: Mapping[str, Mapping[str, int]], where: Mapping[str, str],
                 details: Mapping[str, Mapping[str, str]] | None = None) -> str | None:
    """The reason to stop when a side's every sample so far failed, else None.

    `errors[side][error_class]` counts the failed samples of each side out of `samples`; `where[side]` names
    the endpoint in the reason; `details[side][error_class]`, when given, says more about the main class.
    """
    if samples <= 0:
        return None
    reasons = []
    for side in SIDES:
        # A strict-wire mismatch is an answer that differs (the verdict's to judge), not a side failing.
        counts = {k: v for k, v in errors.get(side, {}).items() if k != MISMATCH}
        if sum(counts.values()) < samples:
            continue
        top, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        state = "unreachable" if top in _UNREACHABLE else "failing" if top in (HTTP_STATUS, NOT_FOUND) else "unreadable"
        detail = f"{count:,} of {samples:,} {describe(top)}"
        more = (details or {}).get(side, {}).get(top)
        if more:
            detail += f" ({more})"
        rest = samples - count
        if rest:
            detail += f" ({rest:,} other errors)"
        at = f" at {where[side]}" if where.get(side) else ""
        reasons.append(f"{side} {state}: {detail}{at}")
    return "; ".join(reasons) + " - no sample could be compared, the sweep was stopped" if reasons else None


T = TypeVar("T")


def split_tally(errors: Mapping[str, T]) -> dict[str, dict[str, T]]:
    """The engine's `{"side:class": n}` counts (or details) as `{side: {class: n}}`."""
    out: dict[str, dict[str, T]] = {side: {} for side in SIDES}
    for key, n in errors.items():
        side, _, err = key.partition(":")
        out.setdefault(side, {})[err] = n
    return out

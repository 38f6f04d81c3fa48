"""A verdict: the outcome of a sweep with its one-sentence reason, bounds and evidence (every family's output).

See docs/statistics.md for the families (`binomial.py`, and the bounded mean) and every formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str
    n: int
    disagreements: int
    errors: int
    lower: float
    upper: float
    needed: int | None
    params: dict[str, float]
    methods: dict[str, str]
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "n": self.n,
            "disagreements": self.disagreements,
            "errors": self.errors,
            "lower": self.lower,
            "upper": self.upper,
            "needed": self.needed,
            "params": dict(self.params),
            "methods": dict(self.methods),
            "detail": plain(self.detail),
        }


def plain(value: Any) -> Any:
    """Deep copy as JSON-safe plain types: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value

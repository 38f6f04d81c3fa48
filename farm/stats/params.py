"""The parameters of the binomial-agreement verdict (kept apart so every stats module can import them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerdictParams:
    """A sample agrees when its score >= tau; PASS when the disagreement rate is shown <= p_max at 1 - alpha;
    any score below `floor` fails the sweep at once."""

    tau: float = 0.9999
    p_max: float = 0.001
    alpha: float = 0.05
    floor: float = 0.99
    # The corpus is the whole population of interest and holds this many inputs (`--population corpus`):
    # finite-population bounds, and a sweep over all of them is a census. None: a sample of an endless stream.
    population: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.p_max < 1.0:
            raise ValueError(f"p_max must be in (0, 1), got {self.p_max}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not -1.0 <= self.floor <= self.tau <= 1.0:
            raise ValueError(f"need -1 <= floor <= tau <= 1, got floor={self.floor}, tau={self.tau}")
        if self.population is not None and self.population < 1:
            raise ValueError(f"population must be >= 1, got {self.population}")

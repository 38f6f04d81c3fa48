"""Number formatting for one-sentence verdict reasons (thousands separators, short percentages)."""

from __future__ import annotations

import math


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_pct(p: float) -> str:
    """0.001 -> '0.1%', 0.5218 -> '52.2%', 0.00523 -> '0.523%' (three significant digits)."""
    if not math.isfinite(p):
        return "n/a"
    v = p * 100.0
    if v == 0.0:
        return "0%"
    s = f"{v:.3g}"
    if "e" in s:  # rates below 0.001% would print in exponent form
        s = f"{v:.7f}".rstrip("0").rstrip(".")
    return s + "%"


def fmt_conf(alpha: float) -> str:
    """Confidence level for alpha: 0.05 -> '95%', 0.001 -> '99.9%'."""
    return fmt_pct(1.0 - alpha)


def fmt_cos(c: float) -> str:
    """A cosine with at least four and at most six decimals, so 0.99995 never prints as 1.0000."""
    if not math.isfinite(c):
        return "n/a"
    s = f"{c:.6f}".rstrip("0")
    whole, _, frac = s.partition(".")
    return f"{whole}.{frac.ljust(4, '0')}"


def fmt_score(v: float, *, rounding: str = "nearest") -> str:
    """A mean score or its bound with four decimals, up to six when four would print 1.0000 or 0.0000 for a
    value that is not. rounding="down" / "up" rounds a lower / upper bound outward, so a printed bound is
    never tighter than the computed one."""
    if not math.isfinite(v):
        return "n/a"
    if rounding not in ("nearest", "down", "up"):
        raise ValueError(f"rounding must be nearest, down or up, got {rounding!r}")
    for digits in (4, 5, 6):
        q = 10.0**digits
        if rounding == "down":
            r = math.floor(v * q + 1e-9) / q  # 1e-9: 0.99 stored as 0.98999999999 is still 0.9900
        elif rounding == "up":
            r = math.ceil(v * q - 1e-9) / q
        else:
            r = round(v, digits)
        if (r != 1.0 or v >= 1.0) and (r != 0.0 or v <= 0.0):
            break
    return f"{r:.{digits}f}"

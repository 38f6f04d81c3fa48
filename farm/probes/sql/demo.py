"""The sql demo gateway's answers: a real engine (`--engine sqlite|duckdb`) over the demo dataset, shaped by the
gateway's wire profile; knobs for realistic drift (numbers as strings, a changed value on a fraction of
statements) and SQLite's own `reverse_unordered_selects` (unordered scans run backwards)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from farm.probes.base import Backend, MalformedBody
from farm.probes.sql.engines import SqlError, make_engine
from farm.probes.sql.profile import SqlProfile


def _drifts(sql: str, rate: float) -> bool:
    """Which statements drift is a hash of their text: the same ones on every call and every run."""
    return rate > 0 and int(hashlib.md5(sql.encode()).hexdigest()[:8], 16) / 2**32 < rate


def _perturb(rows: list[list[Any]]) -> list[list[Any]]:
    """One value changed: the first number + 1, else the first text with a character appended, else a row added."""
    out = [list(r) for r in rows]
    for row in out:
        for j, v in enumerate(row):
            if isinstance(v, int | float) and not isinstance(v, bool):
                row[j] = v + 1
                return out
            if isinstance(v, str):
                row[j] = v + "~"
                return out
    return [*out, [None] * len(rows[0])] if rows else out


def backend(profile: SqlProfile, knobs: dict[str, Any]) -> Backend:
    engine_name = str(knobs.get("engine") or "sqlite")
    try:
        engine = make_engine(engine_name, int(knobs.get("rows") or 200_000), int(knobs.get("data_seed") or 0),
                             reverse_unordered=bool(knobs.get("reverse_unordered")))
    except ValueError as exc:
        raise MalformedBody(str(exc)) from None
    drift = float(knobs.get("drift_rate") or 0.0)
    as_strings = bool(knobs.get("numbers_as_strings"))

    def answer(body: dict[str, Any]) -> tuple[int, Callable[[], Any]]:
        sql = profile.statement_of(body)
        try:
            columns, types, rows = engine.execute(sql)
        except SqlError as exc:
            raise MalformedBody(f"SQL error ({engine.name}): {exc}") from None

        def compute() -> Any:
            out = _perturb(rows) if _drifts(sql, drift) else rows
            if as_strings:  # what some JSON gateways do to keep 64-bit integers and decimals exact
                out = [[str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in r]
                       for r in out]
            return profile.build_response(columns, types, out)

        return 1, compute

    return answer

"""A worst sample's two sides, side by side, with what differs marked: the structure the page draws.

A stored sample is a flat row (`farm.store.sweeps.worst_samples`): the shared columns and the probe's own.
Columns come in pairs by name (`x_legacy` / `x_candidate`, `legacy_x` / `candidate_x`); a JSON value holding
both sides (`{"legacy": ..., "candidate": ...}`, SQL's example rows) is split the same way. Each pair becomes
field-level lines: JSON is flattened to paths (SQL rows align by position), numeric lists are summarised as
vectors (length, norm, largest difference), long text is diffed word by word. Knows no probe by name.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from typing import Any

SIDES = ("legacy", "candidate")
TEXT_DIFF_MIN = 40  # characters: shorter strings are compared whole
MAX_LINES = 60  # field lines shown per pair; the rest is counted


@dataclass(frozen=True)
class Segment:
    """A piece of diffed text: `op` is "same", "del" (legacy only) or "ins" (candidate only)."""

    op: str
    text: str


@dataclass(frozen=True)
class Line:
    path: str
    legacy: str
    candidate: str
    differs: bool
    segments: tuple[Segment, ...] = ()  # a word diff, for long text


@dataclass
class Pair:
    name: str
    lines: list[Line] = field(default_factory=list)
    hidden: int = 0  # equal lines left out past MAX_LINES

    @property
    def differs(self) -> bool:
        return any(line.differs for line in self.lines)


@dataclass
class SampleDiff:
    idx: int
    facts: list[tuple[str, str]]  # the columns that are not one side's: score, agreed, diff class ...
    pairs: list[Pair]


def show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)[:200]
    return str(value)


def _side_of(name: str) -> tuple[str, str] | None:
    """(side, base name) of a one-sided column, else None."""
    for side in SIDES:
        if name.endswith(f"_{side}"):
            return side, name[: -len(side) - 1]
        if name.startswith(f"{side}_"):
            return side, name[len(side) + 1:]
    return None


def _parse(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_vector(value: Any) -> bool:
    return isinstance(value, list) and len(value) >= 8 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _vector(value: list[float]) -> str:
    return f"vector[{len(value)}] ‖v‖ = {math.sqrt(sum(v * v for v in value)):.6g}"


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if _is_vector(value):
        out[path or "$"] = value
    elif isinstance(value, dict) and value:
        for k in sorted(value):
            _flatten(value[k], f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            _flatten(v, f"{path}[{i}]", out)
    else:
        out[path or "$"] = value


def _field_line(path: str, a: Any, b: Any, missing: tuple[bool, bool]) -> Line:
    if _is_vector(a) or _is_vector(b):
        if _is_vector(a) and _is_vector(b) and len(a) == len(b):
            worst = max(abs(x - y) for x, y in zip(a, b, strict=True))
            return Line(path, _vector(a), f"{_vector(b)}; max |Δ| = {worst:.3g}", worst > 0)
        return Line(path, _vector(a) if _is_vector(a) else show(a), _vector(b) if _is_vector(b) else show(b), True)
    left = "(absent)" if missing[0] else show(a)
    right = "(absent)" if missing[1] else show(b)
    differs = missing[0] != missing[1] or a != b
    if differs and isinstance(a, str) and isinstance(b, str) and max(len(a), len(b)) >= TEXT_DIFF_MIN:
        return Line(path, left, right, True, _word_diff(a, b))
    return Line(path, left, right, differs)


def _word_diff(a: str, b: str) -> tuple[Segment, ...]:
    wa, wb = a.split(" "), b.split(" ")
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(Segment("same", " ".join(wa[i1:i2]) + " "))
            continue
        if i2 > i1:
            out.append(Segment("del", " ".join(wa[i1:i2]) + " "))
        if j2 > j1:
            out.append(Segment("ins", " ".join(wb[j1:j2]) + " "))
    return tuple(out)


def pair_lines(name: str, legacy: Any, candidate: Any) -> Pair:
    """Field-level lines of one pair of values (JSON flattened to paths), differing ones first."""
    a, b = _parse(legacy), _parse(candidate)
    pair = Pair(name)
    if isinstance(a, (dict, list)) and isinstance(b, (dict, list)) and not (_is_vector(a) and _is_vector(b)):
        fa: dict[str, Any] = {}
        fb: dict[str, Any] = {}
        _flatten(a, "", fa)
        _flatten(b, "", fb)
        paths = list(dict.fromkeys([*fa, *fb]))
        lines = [_field_line(p, fa.get(p), fb.get(p), (p not in fa, p not in fb)) for p in paths]
    else:
        lines = [_field_line("", a, b, (False, False))]
    lines.sort(key=lambda line: not line.differs)  # stable: paths keep their order within each group
    pair.lines, pair.hidden = lines[:MAX_LINES], max(0, len(lines) - MAX_LINES)
    return pair


def _both_sides(value: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the rest, {legacy, candidate}) of a JSON value that holds both sides somewhere, else None."""
    if not isinstance(value, dict):
        return None
    if all(s in value for s in SIDES):
        return {k: v for k, v in value.items() if k not in SIDES}, {s: value[s] for s in SIDES}
    for k, v in value.items():
        inner = _both_sides(v)
        if inner is not None:
            rest = {**{kk: vv for kk, vv in value.items() if kk != k}, **inner[0]}
            return rest, inner[1]
    return None


def sample_diff(row: dict[str, Any]) -> SampleDiff:
    """A stored sample as facts and side-by-side pairs."""
    sides: dict[str, dict[str, Any]] = {}
    facts: list[tuple[str, str]] = []
    pairs: list[Pair] = []
    for name, value in row.items():
        if name in ("sweep_id", "idx"):
            continue
        one = _side_of(name)
        if one is not None:
            sides.setdefault(one[1], {})[one[0]] = value
            continue
        split = _both_sides(_parse(value))
        if split is not None:
            rest, both = split
            facts += [(f"{name}.{k}", show(v)) for k, v in rest.items()]
            pairs.append(pair_lines(name, both["legacy"], both["candidate"]))
            continue
        facts.append((name, show(value)))
    for base, values in sides.items():
        if set(values) == set(SIDES):
            pairs.append(pair_lines(base, values["legacy"], values["candidate"]))
        else:  # a column named like a side with no twin: just a fact
            facts += [(f"{side}_{base}", show(v)) for side, v in values.items()]
    pairs.sort(key=lambda p: not p.differs)
    return SampleDiff(int(row.get("idx", -1)), facts, pairs)

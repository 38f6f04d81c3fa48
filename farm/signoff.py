"""Sign-off across endpoints: is the gateway safe to flip under the `[signoff]` plan of farm.toml?

An intersection-union test: each endpoint of the plan is tested at its own level alpha by its latest counted
sweep, and the gateway is "safe to flip" only when every one of them PASSes, so a false "safe" needs a false
PASS of the endpoint whose null holds, and its rate stays <= the largest alpha of the plan without any
multiplicity correction (docs/statistics.md, "Sign-off"). Pure functions of the plan and the decided sweeps;
SQL in farm/store/signoff.py, the command in farm/cli/signoff.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from farm.config import PlanEndpoint, SignoffPlan
from farm.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from farm.store.models import Sweep, Verdict
from farm.store.signoff import aware, sweep_time

MISSING = "MISSING"


def path_of(url: str) -> str:
    """The path of an endpoint URL (scheme, host and port dropped)."""
    return urlsplit(url).path or "/"


def base_url(sweep: Sweep, side: str) -> str:
    """Where a sweep's gateway on `side` lives: its base URL as the sweep recorded it."""
    spec = (sweep.params or {}).get("spec") or {}
    recorded = (spec.get(side) or {}).get("url")
    if recorded:
        return str(recorded).rstrip("/")
    parts = urlsplit(sweep.legacy_url if side == "legacy" else sweep.candidate_url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Endpoint:
    """What "the same endpoint" means for the parity log and the sign-off: one probe between one legacy path and
    one candidate path. Hosts and ports are deployments of it (a FAIL on staging is evidence about the code
    prod runs), and a model or index is an input of it (flipping the path flips every model)."""

    probe: str
    legacy_path: str
    candidate_path: str

    @classmethod
    def of(cls, sweep: Sweep) -> Endpoint:
        return cls(sweep.probe, path_of(sweep.legacy_url), path_of(sweep.candidate_url))


def _weaker(sweep: Sweep, verdict: Verdict, ep: PlanEndpoint) -> list[str]:
    """How a sweep's parameters are weaker than the plan's (empty: it tested at least what the plan asks)."""
    p = sweep.params or {}
    # The verdict judged at the effective tau: a noise floor that lowered tau tested a weaker agreement.
    tau = ((verdict.detail or {}).get("params") or {}).get("tau_effective", p.get("tau"))
    out = []
    for name, value, planned, looser in (("alpha", p.get("alpha"), ep.alpha, "above"),
                                         ("p_max", p.get("p_max"), ep.p_max, "above"),
                                         ("tau", tau, ep.tau, "below"), ("floor", p.get("floor"), ep.floor, "below")):
        if not isinstance(value, (int, float)):
            out.append(f"{name} not recorded")
        elif not math.isclose(value, planned, rel_tol=1e-9, abs_tol=1e-12) and (
                (value > planned) if looser == "above" else (value < planned)):
            effective = " (effective, after the noise floor)" if name == "tau" and tau != p.get("tau") else ""
            out.append(f"{name} {value:g}{effective} {looser} the plan's {planned:g}")
    return out


def matches(ep: PlanEndpoint, sweep: Sweep) -> bool:
    """Is `sweep` a sweep of the plan's endpoint: its probe, between the plan's two gateways (and paths)?"""
    return (sweep.probe == ep.probe and base_url(sweep, "legacy") == ep.legacy
            and base_url(sweep, "candidate") == ep.candidate
            and ep.legacy_path in (None, path_of(sweep.legacy_url))
            and ep.candidate_path in (None, path_of(sweep.candidate_url)))


def not_counted(plan: SignoffPlan, ep: PlanEndpoint, sweep: Sweep, verdict: Verdict) -> str | None:
    """Why a sweep of the endpoint does not count for the plan, or None when it does."""
    started = aware(sweep.created_at)
    if started < plan.created:
        return f"started {started:%Y-%m-%d %H:%M} UTC, before the plan was fixed"
    weaker = _weaker(sweep, verdict, ep)
    return "weaker than the plan: " + ", ".join(weaker) if weaker else None


@dataclass(frozen=True)
class Standing:
    """One endpoint of the plan as its latest counted sweep leaves it."""

    endpoint: PlanEndpoint
    outcome: str  # PASS, FAIL, INCONCLUSIVE or MISSING (never swept, or no sweep counts)
    reason: str
    sweep_id: str | None = None
    when: datetime | None = None
    counted: int = 0
    skipped: list[str] = field(default_factory=list)  # "<sweep id>: why it does not count"


@dataclass(frozen=True)
class Signoff:
    plan: SignoffPlan
    source: str
    standings: list[Standing]

    @property
    def blockers(self) -> list[Standing]:
        return [s for s in self.standings if s.outcome != "PASS"]

    @property
    def safe(self) -> bool:
        return not self.blockers

    @property
    def exit_code(self) -> int:
        if self.safe:
            return EXIT_PASS
        return EXIT_FAIL if any(s.outcome == "FAIL" for s in self.standings) else EXIT_INCONCLUSIVE

    @property
    def alpha(self) -> float:
        """The bound on a false "safe" (intersection-union: the largest level of the endpoints)."""
        return max(e.alpha for e in self.plan.endpoints)

    def headline(self) -> str:
        n = len(self.standings)
        if self.safe:
            every = f"all {n} endpoints" if n > 1 else "the one endpoint"
            return f"Safe to flip: {every} of plan {self.plan.digest()} PASS (false 'safe' <= {self.alpha:g})."
        parts = [f"{s.endpoint.name} ({'never swept' if s.outcome == MISSING else s.outcome})"
                 for s in self.blockers]
        return f"Not safe to flip: {len(self.blockers)} of {n} endpoint{'s' if n > 1 else ''} do not PASS: " + \
            ", ".join(parts) + "."


def standing(plan: SignoffPlan, ep: PlanEndpoint, decided: Sequence[tuple[Sweep, Verdict]]) -> Standing:
    """The endpoint's standing: the verdict of its latest counted sweep (`decided` is oldest first)."""
    latest: tuple[Sweep, Verdict] | None = None
    counted = 0
    skipped: list[str] = []
    later_bad: list[str] = []
    unsure: list[str] = []
    for sweep, verdict in decided:
        if not matches(ep, sweep):
            continue
        why = not_counted(plan, ep, sweep, verdict)
        if why is not None:
            skipped.append(f"{sweep.id}: {why}")
            if verdict.outcome != "PASS":
                later_bad.append(f"{sweep.id} ({verdict.outcome}, not counted)")
            continue
        counted += 1
        if latest is not None:
            # INCONCLUSIVE sweeps since the last FAIL: a fresh sweep after them is another look at the same thing.
            unsure = [] if latest[1].outcome == "FAIL" else unsure
            unsure += [latest[0].id] if latest[1].outcome == "INCONCLUSIVE" else []
        latest, later_bad = (sweep, verdict), []
    if latest is None:
        reason = "never swept" + (f" with a sweep that counts ({len(skipped)} not counted; the latest: "
                                   f"{skipped[-1]})" if skipped else _elsewhere(ep, decided))
        return Standing(ep, MISSING, reason, skipped=skipped)
    sweep, verdict = latest
    # A later sweep too weak to count still did not PASS: shown, so no one signs past it unawares.
    note = f" Later: {', '.join(later_bad)}." if later_bad and verdict.outcome == "PASS" else ""
    if unsure and verdict.outcome == "PASS":
        note += (f" Follows INCONCLUSIVE {', '.join(unsure)}: a fresh sweep after an INCONCLUSIVE is another look "
                 "(continue the same sweep instead, docs/statistics.md).")
    return Standing(ep, verdict.outcome, verdict.reason + note, sweep.id, sweep_time(sweep), counted, skipped)


def _elsewhere(ep: PlanEndpoint, decided: Sequence[tuple[Sweep, Verdict]]) -> str:
    """A hint when the probe was swept between other gateways (a plan naming `localhost` for `127.0.0.1`, say)."""
    other = next((s for s, _ in reversed(decided) if s.probe == ep.probe), None)
    if other is None:
        return ""
    return (f" between these gateways (the latest {ep.probe} sweep, {other.id}, was between "
            f"`{base_url(other, 'legacy')}` and `{base_url(other, 'candidate')}`)")


def evaluate(plan: SignoffPlan, source: str, decided: Sequence[tuple[Sweep, Verdict]]) -> Signoff:
    # Sweeps grouped once by what `matches` compares first (probe, the two base URLs): each endpoint then reads
    # its own few, not every decided sweep (25 endpoints over 1,000 sweeps took ~0.3 s). A standing with no
    # sweep at all is judged again over everything, for `_elsewhere`'s hint.
    groups: dict[tuple[str, str, str], list[tuple[Sweep, Verdict]]] = {}
    for pair in decided:
        groups.setdefault((pair[0].probe, base_url(pair[0], "legacy"), base_url(pair[0], "candidate")), []).append(pair)
    standings = []
    for ep in plan.endpoints:
        result = standing(plan, ep, groups.get((ep.probe, ep.legacy, ep.candidate), []))
        if result.outcome == MISSING and not result.skipped:
            result = standing(plan, ep, decided)
        standings.append(result)
    return Signoff(plan, source, standings)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(result: Signoff) -> str:
    """The sign-off as one Markdown table, with its headline and the plan it was judged by."""
    plan = result.plan
    lines = [
        f"# Sign-off: {'safe to flip' if result.safe else 'NOT safe to flip'}", "",
        result.headline(), "",
        f"Plan `{plan.digest()}` from `{result.source}`, fixed {plan.created:%Y-%m-%d %H:%M} UTC: each endpoint is "
        "judged by its latest sweep that started after that and used parameters at least as strict as the plan's; "
        "the gateway is safe to flip only when every endpoint PASSes (intersection-union test, false 'safe' <= "
        f"{result.alpha:g}).", "",
        "| Endpoint | Probe | Legacy → candidate | Plan (tau, p_max, alpha, floor) | Latest counted sweep | Date "
        "| Verdict | Reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result.standings:
        ep = s.endpoint
        gateways = f"`{ep.legacy}{ep.legacy_path or ''}` → `{ep.candidate}{ep.candidate_path or ''}`"
        plan_cell = f"{ep.tau:g}, {ep.p_max:g}, {ep.alpha:g}, {ep.floor:g}"
        verdict = "never swept" if s.outcome == MISSING else s.outcome
        sweep = f"`{s.sweep_id}`" + (f" (latest of {s.counted})" if s.counted > 1 else "") if s.sweep_id else "—"
        when = f"{s.when:%Y-%m-%d}" if s.when else "—"
        others = len(s.skipped)
        reason = s.reason + (f" ({others} other sweep{'s' if others > 1 else ''} not counted)"
                             if s.sweep_id and others else "")
        lines.append("| " + " | ".join(_cell(c) for c in (ep.name, f"`{ep.probe}`", gateways, plan_cell, sweep,
                                                           when, verdict, reason)) + " |")
    return "\n".join(lines) + "\n"


def as_json(result: Signoff) -> dict[str, Any]:
    return {
        "safe": result.safe, "exit_code": result.exit_code, "headline": result.headline(),
        "plan": {"hash": result.plan.digest(), "source": result.source, "created": result.plan.created.isoformat(),
                 "false_safe_bound": result.alpha},
        "endpoints": [{
            "name": s.endpoint.name, "probe": s.endpoint.probe, "legacy": s.endpoint.legacy,
            "candidate": s.endpoint.candidate, "legacy_path": s.endpoint.legacy_path,
            "candidate_path": s.endpoint.candidate_path,
            "thresholds": {"tau": s.endpoint.tau, "p_max": s.endpoint.p_max, "alpha": s.endpoint.alpha,
                           "floor": s.endpoint.floor},
            "verdict": s.outcome, "reason": s.reason, "sweep_id": s.sweep_id,
            "date": s.when.isoformat() if s.when else None, "sweeps_counted": s.counted, "not_counted": s.skipped,
        } for s in result.standings],
        "blocking": [s.endpoint.name for s in result.blockers],
    }

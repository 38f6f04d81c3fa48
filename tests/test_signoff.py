"""The sign-off plan (`[signoff]` in farm.toml) and the sign-off itself: which sweeps count, the
intersection-union rule, the exit codes and the table. Sweeps are rows as the store returns them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from farm.config import SignoffPlan, parse_config
from farm.errors import ConfigError
from farm.signoff import Endpoint, evaluate, markdown
from farm.store.models import Sweep, Verdict

SRC = "plan.toml"
L, C, C2 = "http://10.0.0.1:8101", "http://10.0.0.2:8102", "http://10.0.0.3:8102"
CREATED = datetime(2026, 12, 1, tzinfo=UTC)


def config(endpoints: dict[str, Any], created: Any = "2026-12-01", **extra: Any) -> Any:
    data = {"gateways": {"old": {"url": L, "profile": "lakehouse-legacy"},
                         "new": {"url": C, "profile": "lakehouse-candidate"}},
            "signoff": {"created": created, "endpoints": endpoints}, **extra}
    return parse_config(data, SRC)


def plan_of(**endpoints: dict[str, Any]) -> SignoffPlan:
    plan = config({name: {"legacy": "old", "candidate": "new", **body} for name, body in endpoints.items()}).signoff
    assert plan is not None
    return plan


# --- the plan in farm.toml ----------------------------------------------------------------------------------


def test_a_plan_resolves_gateways_and_thresholds_when_it_is_loaded() -> None:
    cfg = config({"embed": {"probe": "embed", "legacy": "old", "candidate": C2 + "/", "p_max": 0.01},
                  "search": {"probe": "search", "legacy": L, "candidate": "new", "r_min": 0.95,
                             "legacy_path": "/vectors/search"}},
                 thresholds={"embed": {"tau": 0.999}})
    plan = cfg.signoff
    assert plan.created == CREATED
    embed, search = plan.endpoints
    # Names become the configured URLs; what the plan leaves out is [thresholds.<probe>], else the probe's default.
    assert (embed.legacy, embed.candidate, embed.tau, embed.p_max, embed.alpha, embed.floor) == (
        L, C2, 0.999, 0.01, 0.05, 0.99)
    assert (search.legacy, search.candidate, search.tau, search.p_max, search.floor, search.legacy_path) == (
        L, C, 0.95, 0.01, 0.5, "/vectors/search")
    # The hash covers the resolved plan: another default threshold is another plan.
    again = config({"embed": {"probe": "embed", "legacy": "old", "candidate": C2, "p_max": 0.01},
                    "search": {"probe": "search", "legacy": L, "candidate": "new", "r_min": 0.95,
                               "legacy_path": "/vectors/search"}}, thresholds={"embed": {"tau": 0.999}}).signoff
    assert again.digest() == plan.digest() and len(plan.digest()) == 12
    looser = config({"embed": {"probe": "embed", "legacy": "old", "candidate": C2, "p_max": 0.01},
                     "search": {"probe": "search", "legacy": L, "candidate": "new", "r_min": 0.95,
                                "legacy_path": "/vectors/search"}}, thresholds={"embed": {"tau": 0.99}}).signoff
    assert looser.digest() != plan.digest()


@pytest.mark.parametrize(("created", "expected"), [
    (datetime(2026, 12, 1, 9, 30), datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
    ("2026-12-01T09:30:00+01:00", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
    ("2026-12-01", CREATED),
])
def test_created_is_a_date_or_a_date_time_in_utc(created: Any, expected: datetime) -> None:
    assert config({"e": {"probe": "embed", "legacy": "old", "candidate": "new"}}, created).signoff.created == expected


@pytest.mark.parametrize(("signoff", "key", "problem"), [
    ({"endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "new"}}}, "signoff.created", "required"),
    ({"created": "yesterday", "endpoints": {}}, "signoff.created", "expected a date"),
    ({"created": "2026-12-01"}, "signoff.endpoints", "expected a table of endpoints"),
    ({"created": "2026-12-01", "endpoints": {}}, "signoff.endpoints", "the plan names no endpoint"),
    ({"created": "2026-12-01", "endpoints": {}, "alpha": 0.05}, "signoff.alpha", "unknown key"),
    ({"created": "2026-12-01", "endpoints": {"e": "embed"}}, "signoff.endpoints.e", "expected a table"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embedd", "legacy": "old", "candidate": "new"}}},
     "signoff.endpoints.e.probe", "unknown probe 'embedd'"),
    ({"created": "2026-12-01", "endpoints": {"e": {"legacy": "old", "candidate": "new"}}},
     "signoff.endpoints.e.probe", "expected a probe name"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "newer"}}},
     "signoff.endpoints.e.candidate", "'newer' is not a gateway name (new, old) nor an http(s):// URL"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "candidate": "new"}}},
     "signoff.endpoints.e.legacy", "expected a gateway name"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "new",
                                                  "p_max": 1.5}}}, "signoff.endpoints.e.p_max", "between 0 and 1"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "new",
                                                  "alpha": "5%"}}}, "signoff.endpoints.e.alpha", "a number"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "new",
                                                  "p_max": 0}}}, "signoff.endpoints.e", "p_max must be in (0, 1)"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "new",
                                                  "floor": 0.9999, "tau": 0.999}}}, "signoff.endpoints.e",
     "need -1 <= floor <= tau <= 1"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "search", "legacy": "old", "candidate": "new",
                                                  "tau": 0.9, "r_min": 0.9}}}, "signoff.endpoints.e.r_min",
     "r_min is tau under another name"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "new",
                                                  "legacy_path": "ai/embed"}}}, "signoff.endpoints.e.legacy_path",
     "a path starts with '/'"),
    ({"created": "2026-12-01", "endpoints": {"e": {"probe": "embed", "legacy": "old", "candidate": "new",
                                                  "model": "x"}}}, "signoff.endpoints.e.model", "unknown key"),
])
def test_every_plan_error_is_one_config_error_naming_file_and_key(signoff: dict[str, Any], key: str,
                                                                  problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"gateways": {"old": {"url": L, "profile": "lakehouse-legacy"},
                                   "new": {"url": C, "profile": "lakehouse-candidate"}}, "signoff": signoff}, SRC)
    assert (err.value.source, err.value.key) == (SRC, key)
    assert problem in err.value.problem
    assert str(err.value).startswith(f"{SRC}: {key}: ")


def test_no_signoff_table_is_no_plan() -> None:
    assert parse_config({}, SRC).signoff is None


# --- which sweeps count, and the verdict over the plan ------------------------------------------------------

_T0 = CREATED + timedelta(hours=1)


def swept(n: int, probe: str = "embed", outcome: str = "PASS", *, candidate: str = C, legacy: str = L,
          paths: tuple[str, str] = ("/ai/embed", "/v1/embed"), at: datetime | None = None,
          reason: str | None = None, tau_effective: float | None = None, **params: float) -> tuple[Sweep, Verdict]:
    """Sweep number `n` (later numbers later), with the engine's default parameters unless given."""
    when = at or _T0 + timedelta(minutes=n)
    p = {"tau": 0.9999, "p_max": 0.001, "alpha": 0.05, "floor": 0.99, **params}
    sweep = Sweep(id=f"s{n}", probe=probe, legacy="legacy", candidate="candidate", legacy_url=legacy + paths[0],
                  candidate_url=candidate + paths[1], params={**p, "spec": {"legacy": {"url": legacy},
                                                                            "candidate": {"url": candidate}}},
                  created_at=when, finished_at=when + timedelta(seconds=30))
    verdict = Verdict(sweep_id=sweep.id, outcome=outcome, reason=reason or f"{outcome}: sweep {n}", n=100,
                      disagreements=0, errors=0,
                      detail={"params": {**p, "tau_effective": p["tau"] if tau_effective is None else tau_effective}})
    return sweep, verdict


def test_safe_only_when_every_endpoint_passes_with_its_latest_counted_sweep() -> None:
    plan = plan_of(embed={"probe": "embed"}, sql={"probe": "sql"})
    sql = dict(paths=("/query", "/v1/sql"), tau=1.0, floor=0.0)
    result = evaluate(plan, SRC, [swept(1), swept(2, "sql", **sql)])
    assert result.safe and result.exit_code == 0 and result.blockers == []
    assert result.headline() == f"Safe to flip: all 2 endpoints of plan {plan.digest()} PASS (false 'safe' <= 0.05)."
    # The latest counted sweep decides: a later FAIL blocks (exit 1), and names what blocks.
    result = evaluate(plan, SRC, [swept(1), swept(2, "sql", **sql), swept(3, outcome="FAIL")])
    assert (result.safe, result.exit_code) == (False, 1)
    assert result.headline() == "Not safe to flip: 1 of 2 endpoints do not PASS: embed (FAIL)."
    # A later PASS on the same pair lifts it; an INCONCLUSIVE or a missing endpoint is "not decided" (exit 3).
    assert evaluate(plan, SRC, [swept(1, outcome="FAIL"), swept(2), swept(3, "sql", **sql)]).exit_code == 0
    assert evaluate(plan, SRC, [swept(1), swept(2, "sql", "INCONCLUSIVE", **sql)]).exit_code == 3
    result = evaluate(plan, SRC, [swept(1)])
    assert result.exit_code == 3 and result.standings[1].outcome == "MISSING"
    assert result.standings[1].reason == "never swept"
    # A FAIL anywhere outweighs what is not decided.
    assert evaluate(plan, SRC, [swept(1, outcome="FAIL")]).exit_code == 1


def test_sweeps_before_the_plan_or_weaker_than_it_do_not_count() -> None:
    plan = plan_of(embed={"probe": "embed", "tau": 0.999, "p_max": 0.01})
    early = swept(1, at=CREATED - timedelta(minutes=1))
    result = evaluate(plan, SRC, [early])
    assert result.standings[0].outcome == "MISSING"
    assert result.standings[0].reason == ("never swept with a sweep that counts (1 not counted; the latest: s1: "
                                          "started 2026-11-30 23:59 UTC, before the plan was fixed)")
    weak = [swept(2, alpha=0.1), swept(3, p_max=0.02), swept(4, tau=0.99), swept(5, floor=0.9),
            swept(6, tau_effective=0.995)]
    standing = evaluate(plan, SRC, weak).standings[0]
    assert standing.outcome == "MISSING" and standing.skipped == [
        "s2: weaker than the plan: alpha 0.1 above the plan's 0.05",
        "s3: weaker than the plan: p_max 0.02 above the plan's 0.01",
        "s4: weaker than the plan: tau 0.99 below the plan's 0.999",
        "s5: weaker than the plan: floor 0.9 below the plan's 0.99",
        "s6: weaker than the plan: tau 0.995 (effective, after the noise floor) below the plan's 0.999"]
    # Stricter than the plan counts (the engine's defaults are: tau 0.9999, p_max 0.001).
    standing = evaluate(plan, SRC, [swept(7, alpha=0.01)]).standings[0]
    assert (standing.outcome, standing.sweep_id, standing.counted) == ("PASS", "s7", 1)
    # A later sweep too weak to count that did not PASS does not lift the PASS, but it is shown.
    standing = evaluate(plan, SRC, [swept(7), swept(8, "embed", "FAIL", alpha=0.2)]).standings[0]
    assert standing.outcome == "PASS" and standing.reason == "PASS: sweep 7 Later: s8 (FAIL, not counted)."
    # A PASS after INCONCLUSIVE sweeps of the endpoint is named as another look; after a FAIL (a fixed candidate)
    # the count starts again.
    standing = evaluate(plan, SRC, [swept(1, "embed", "INCONCLUSIVE"), swept(2, "embed", "INCONCLUSIVE"),
                                    swept(3)]).standings[0]
    assert standing.reason == ("PASS: sweep 3 Follows INCONCLUSIVE s1, s2: a fresh sweep after an INCONCLUSIVE is "
                               "another look (continue the same sweep instead, docs/statistics.md).")
    assert standing.counted == 3
    standing = evaluate(plan, SRC, [swept(1, "embed", "INCONCLUSIVE"), swept(2, "embed", "FAIL"),
                                    swept(3)]).standings[0]
    assert standing.reason == "PASS: sweep 3"


def test_a_plan_endpoint_is_its_probe_between_its_two_gateways_and_paths() -> None:
    plan = plan_of(embed={"probe": "embed", "legacy_path": "/ai/embed"})
    elsewhere = swept(1, outcome="FAIL", candidate=C2)  # another candidate deployment: not this plan's endpoint
    other_path = swept(2, outcome="FAIL", paths=("/api/embed", "/v1/embed"))
    other_probe = swept(3, "chat", "FAIL")
    assert evaluate(plan, SRC, [swept(0), elsewhere, other_path, other_probe]).safe
    assert Endpoint.of(elsewhere[0]) == Endpoint.of(swept(0)[0]) == Endpoint("embed", "/ai/embed", "/v1/embed")
    # Swept only elsewhere: "never swept", and where it was swept.
    assert evaluate(plan, SRC, [elsewhere]).standings[0].reason == (
        f"never swept between these gateways (the latest embed sweep, s1, was between `{L}` and `{C2}`)")


def test_the_table_has_one_row_per_endpoint_with_its_verdict_and_reason() -> None:
    plan = plan_of(embed={"probe": "embed"}, chat={"probe": "chat"}, sql={"probe": "sql"})
    result = evaluate(plan, SRC, [swept(1, reason="PASS: a | b"), swept(2, "embed", "PASS"),
                                  swept(3, "chat", "FAIL", reason="FAIL: 3 of 100", paths=("/ai/chat", "/v1/chat"),
                                        tau=1.0, floor=0.1, p_max=0.01)])
    text = markdown(result)
    head, table = text.split("\n\n| Endpoint")
    assert head.startswith("# Sign-off: NOT safe to flip\n\nNot safe to flip: 2 of 3 endpoints do not PASS: chat "
                           "(FAIL), sql (never swept).\n\nPlan `")
    assert "intersection-union test, false 'safe' <= 0.05" in head
    lines = ("| Endpoint" + table).splitlines()
    assert lines[0] == ("| Endpoint | Probe | Legacy → candidate | Plan (tau, p_max, alpha, floor) | "
                        "Latest counted sweep | Date | Verdict | Reason |")
    assert lines[2] == (f"| embed | `embed` | `{L}` → `{C}` | 0.9999, 0.001, 0.05, 0.99 | `s2` (latest of 2) | "
                        "2026-12-01 | PASS | PASS: sweep 2 |")
    assert lines[3] == (f"| chat | `chat` | `{L}` → `{C}` | 1, 0.01, 0.05, 0.1 | `s3` | 2026-12-01 | FAIL | "
                        "FAIL: 3 of 100 |")
    assert lines[4] == f"| sql | `sql` | `{L}` → `{C}` | 1, 0.001, 0.05, 0 | — | — | never swept | never swept |"
    assert len(lines) == 5
    piped = markdown(evaluate(plan_of(embed={"probe": "embed"}), SRC, [swept(1, reason="PASS: a | b")]))
    assert piped.splitlines()[-1].endswith("| PASS | PASS: a \\| b |")

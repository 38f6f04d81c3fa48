from __future__ import annotations

from farm.audit.drift import DriftRules, drift_table


def by_metric(current: dict, history: list, rules: DriftRules | None = None) -> dict:  # type: ignore[type-arg]
    return {r.metric: r for r in drift_table(current, history, rules)}


def test_first_run_is_no_baseline_but_invariant_still_fails() -> None:
    rows = by_metric({"p3_accepted": 10, "p4_self_pairs": 1, "p4_bad_sig_hash": 0}, [])
    assert rows["p3_accepted"].status == "NO_BASELINE"
    assert rows["p4_bad_sig_hash"].status == "NO_BASELINE"
    assert rows["p4_self_pairs"].status == "FAIL"


def test_zero_baseline() -> None:
    rows = by_metric({"a": 0, "b": 3, "c": 0}, [{"a": 0, "b": 0, "c": 40}])
    assert rows["a"].status == "OK"
    assert rows["b"].status == "NEW_NONZERO" and rows["b"].abs_delta == 3  # tiny, but never silent
    assert rows["c"].status == "DRIFT" and rows["c"].rel_delta == -1.0


def test_count_floors() -> None:
    rows = by_metric({"small": 14, "big": 1050, "moved": 1200, "tiny": 3},
                     [{"small": 10, "big": 1000, "moved": 1000, "tiny": 1}])
    assert rows["small"].status == "OK"  # |d| = 4 <= floor 5
    assert rows["big"].status == "OK"  # 5% < 10%
    assert rows["moved"].status == "DRIFT" and abs(rows["moved"].rel_delta - 0.2) < 1e-9
    assert rows["tiny"].status == "OK"  # 200% but |d| = 2 under the absolute floor
    strict = by_metric({"big": 1050}, [{"big": 1000}], DriftRules(abs_floor=1, ratio=0.01))
    assert strict["big"].status == "DRIFT"


def test_new_and_missing_metrics() -> None:
    rows = by_metric({"new": 1, "kept": 5}, [{"kept": 5, "gone": 7}])
    assert rows["new"].status == "NEW_METRIC"
    assert rows["gone"].status == "MISSING" and rows["gone"].baseline == 7
    assert rows["kept"].status == "OK"


def test_three_sigma_rule_needs_five_runs() -> None:
    history = [{"m": v} for v in (100, 102, 98, 101, 99)]
    rows = by_metric({"m": 108}, history)  # |d| = 9 vs 99: under 10% of the baseline, but > mean + 3 sigma
    assert rows["m"].status == "OUTLIER"
    assert by_metric({"m": 108}, history[1:])["m"].status == "OK"  # 4 earlier runs: the rule is off
    assert by_metric({"m": 103}, history)["m"].status == "OK"
    flat = [{"m": 100}] * 6
    assert by_metric({"m": 102}, flat)["m"].status == "OK"  # zero sigma: still needs |d| > abs floor


def test_invariant_back_to_zero_is_ok() -> None:
    assert by_metric({"p4_sft_contaminated": 0}, [{"p4_sft_contaminated": 3}])["p4_sft_contaminated"].status == "OK"

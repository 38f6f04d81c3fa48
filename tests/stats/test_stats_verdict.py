"""Verdict cases: PASS / FAIL / INCONCLUSIVE, integrity gate, floor, errors, JSON shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from farm.probes.embed.verdict import EmbedSamples, decide_embed
from farm.stats import VerdictParams
from farm.stats.binomial import AgreementSamples
from farm.stats.mean_family import decide_mean_family
from tests.stats._factory import clean, make_samples

P = VerdictParams()


def test_clean_pass_at_3000() -> None:
    v = decide_embed(make_samples(clean(3000)), P, planned=3000)
    assert v.outcome == "PASS"
    assert v.n == 3000 and v.disagreements == 0 and v.errors == 0
    assert v.upper <= 0.001 and v.lower == 0.0
    assert v.needed is None
    assert v.reason == "PASS: disagreement <= 0.1% at 95% (0 of 3,000 below cosine 0.9999)"
    assert v.params == {"tau": 0.9999, "p_max": 0.001, "alpha": 0.05, "floor": 0.99, "tau_effective": 0.9999}
    assert v.methods["interval"] == "clopper-pearson"


def test_pass_exactly_at_rule_of_three() -> None:
    assert decide_embed(make_samples(clean(2995)), P).outcome == "PASS"
    assert decide_embed(make_samples(clean(2994)), P).outcome == "INCONCLUSIVE"


def test_fail_with_one_percent_drift() -> None:
    cos = clean(3000)
    cos[::100] = 0.999  # 30 samples (1%) drift below tau but stay above the catastrophic floor
    v = decide_embed(make_samples(cos), P)
    assert v.outcome == "FAIL"
    assert v.disagreements == 30 and v.n == 3000
    assert v.lower > 0.001
    assert v.reason.startswith("FAIL: disagreement >= 0.")
    assert "(30 of 3,000 below cosine 0.9999; worst 0.9990)" in v.reason


def test_inconclusive_at_five_with_samples_needed() -> None:
    v = decide_embed(make_samples(clean(5)), P)
    assert v.outcome == "INCONCLUSIVE"
    assert v.needed == 2990
    assert v.upper == pytest.approx(1 - 0.05 ** (1 / 5))  # one-sided 95% bound
    assert v.reason == (
        "INCONCLUSIVE: 0 of 5 below cosine 0.9999; upper bound 45.1% > 0.1%; about 2,990 more samples needed to "
        "PASS at 80% power; continue with `farm sweep resume SWEEP_ID --more N`"
    )


def test_inconclusive_when_rate_sits_at_p_max() -> None:
    cos = clean(2000)
    cos[:2] = 0.9995  # 0.1% observed: neither bound clears p_max, and no n can pass at this rate
    v = decide_embed(make_samples(cos), P)
    assert v.outcome == "INCONCLUSIVE"
    assert v.needed is None
    assert "no sample size can show <= 0.1%" in v.reason


def test_catastrophic_floor_fails_even_when_the_rate_is_fine() -> None:
    cos = clean(10_000)
    cos[42] = 0.95
    v = decide_embed(make_samples(cos), P)
    assert v.upper <= 0.001  # the rate alone would pass
    assert v.outcome == "FAIL"
    assert "catastrophic floor 0.9900" in v.reason and "0.9500" in v.reason
    assert v.detail["catastrophic"] == 1
    assert v.detail["min_cosine"] == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"dim_candidate": [768] * 2999 + [1024]}, "dimension mismatch in 1 sample (legacy 768 vs candidate 1,024)"),
        ({"candidate_error": [None] * 2999 + ["dimension_mismatch"]}, "dimension mismatch in 1 sample"),
        ({"legacy_error": [None] * 2998 + ["non_finite"] * 2}, "non-finite values in 2 samples"),
        ({"candidate_error": [None] * 2999 + ["empty_vector"]}, "empty vectors in 1 sample"),
        ({"candidate_error": [None] * 2999 + ["count_mismatch"]}, "vector count mismatch in 1 sample"),
    ],
)
def test_integrity_gate(kwargs: dict[str, list[object]], words: str) -> None:
    v = decide_embed(make_samples(clean(3000), **kwargs), P, planned=3000)  # type: ignore[arg-type]
    assert v.outcome == "FAIL"
    assert v.reason.startswith("FAIL: integrity gate: ")
    assert words in v.reason


def test_integrity_gate_missing_samples() -> None:
    v = decide_embed(make_samples(clean(2998)), P, planned=3000)
    assert v.outcome == "FAIL"
    assert v.reason == "FAIL: integrity gate: 2 samples missing (2,998 of 3,000 recorded)"
    assert v.detail["integrity"]["missing"] == 2


def test_nan_cosine_without_error_class_is_an_integrity_failure() -> None:
    cos = clean(3000)
    cos[7] = np.nan  # e.g. a zero-norm vector: not comparable, and nobody said why
    v = decide_embed(make_samples(cos), P)
    assert v.outcome == "FAIL" and "non-finite values in 1 sample" in v.reason


def test_candidate_only_errors_count_as_disagreements() -> None:
    errs: list[str | None] = [None] * 3000
    errs[:20] = ["timeout"] * 20
    v = decide_embed(make_samples(clean(3000), candidate_error=errs), P)
    assert v.n == 3000 and v.disagreements == 20 and v.errors == 20
    assert v.outcome == "FAIL"
    assert "20 of 3,000 below cosine 0.9999, 20 of them candidate-only errors" in v.reason
    assert v.detail["errors"]["candidate_only_classes"] == {"timeout": 20}
    assert any("candidate-only error timeout" in f for f in v.detail["findings"])


def test_legacy_only_and_both_side_errors_are_excluded() -> None:
    le: list[str | None] = [None] * 3100
    ce: list[str | None] = [None] * 3100
    le[:80] = ["timeout"] * 80  # legacy-only
    le[80:100] = ["http_status"] * 20  # both sides
    ce[80:100] = ["http_status"] * 20
    v = decide_embed(make_samples(clean(3100), legacy_error=le, candidate_error=ce), P)
    assert v.n == 3000 and v.disagreements == 0 and v.errors == 100
    # 0 of 3,000 compared disagree, but 100 samples legacy failed on could hide disagreements: no PASS.
    assert v.outcome == "INCONCLUSIVE"
    assert v.reason.startswith("INCONCLUSIVE: legacy failed on 100 of 3,100 samples (timeout 80, http_status 20)")
    err = v.detail["errors"]
    assert err["legacy_only"] == 80 and err["both"] == 20 and err["candidate_only"] == 0
    lo, hi = err["legacy"]["wilson"]
    assert lo < 100 / 3100 < hi
    assert err["candidate"]["count"] == 20


def test_a_pass_survives_legacy_errors_only_when_they_could_not_undo_it() -> None:
    le: list[str | None] = [None] * 8002
    le[:2] = ["connection"] * 2
    v = decide_embed(make_samples(clean(8002), legacy_error=le), P)
    assert v.outcome == "PASS" and v.n == 8000  # counted as disagreements, 2 of 8,002 still bound <= 0.1%
    le = [None] * 3000 + ["connection"] * 2328  # a legacy gateway that died after 3,000 samples
    v = decide_embed(make_samples(clean(5328), legacy_error=le), P)
    assert v.outcome == "INCONCLUSIVE" and "legacy failed on 2,328 of 5,328 samples (connection 2,328)" in v.reason
    params = VerdictParams(tau=0.99, p_max=0.01, floor=0.5)

    def recall(errors: list[str | None]) -> AgreementSamples:
        e = make_samples(clean(len(errors)), legacy_error=errors)
        score = np.where([x is None for x in errors], 1.0, np.nan)
        return AgreementSamples(score, e.legacy_error, e.candidate_error, e.latency_legacy_ms, e.latency_candidate_ms)

    mean = decide_mean_family(recall(le), params, quantity="recall@10")
    assert mean.outcome == "INCONCLUSIVE" and "legacy failed on 2,328" in mean.reason
    assert decide_mean_family(recall([None] * 5328), params, quantity="recall@10").outcome == "PASS"


def test_sequential_mode_names_its_method_and_needs_more_than_fixed_n() -> None:
    v = decide_embed(make_samples(clean(3000)), P, sequential=True)
    assert v.outcome == "INCONCLUSIVE"  # the always-valid bound is wider than the fixed-n one
    assert v.methods["interval"] == "confidence-sequence"
    assert "Robbins" in v.methods["decision"]
    assert v.needed is not None and 0 < v.needed < 3000
    v2 = decide_embed(make_samples(clean(3000 + v.needed)), P, sequential=True)
    assert v2.outcome == "PASS"
    assert "always-valid" in v2.reason


def test_to_dict_is_json_serialisable_and_complete() -> None:
    cos = clean(500)
    errs: list[str | None] = [None] * 500
    errs[3] = "malformed_body"
    v = decide_embed(make_samples(cos, candidate_error=errs), P, planned=500)
    d = v.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["outcome"] == v.outcome and back["n"] == 500
    lat = back["detail"]["latency"]
    assert set(lat["ratio"]) == {"p50", "p95", "p99"}
    lo, hi = lat["ratio"]["p50"]["ci"]
    assert lo < lat["ratio"]["p50"]["estimate"] < hi


def test_latency_bootstrap_sees_a_slower_candidate() -> None:
    # The factory's candidate latencies are gamma(4, 12) vs legacy gamma(4, 10): about 1.2x slower.
    v = decide_embed(make_samples(clean(5000)), P)
    ratio = v.detail["latency"]["ratio"]["p50"]
    assert 1.1 < ratio["ci"][0] < ratio["estimate"] < ratio["ci"][1] < 1.3


def test_mismatched_field_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        EmbedSamples(
            cosine=np.ones(3), legacy_error=[None] * 3, candidate_error=[None] * 2,
            dim_legacy=np.full(3, 8), dim_candidate=np.full(3, 8),
            latency_legacy_ms=np.ones(3), latency_candidate_ms=np.ones(3),
        )

"""Noise floor: a jittery gateway compared with itself must PASS with the rule and fail without it."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from farm.probes.embed.verdict import decide_embed
from farm.stats import NoiseSamples, VerdictParams
from tests.stats._factory import make_samples

P = VerdictParams()


def _jitter_cosines(rng: np.random.Generator, n: int, dim: int = 256, sigma: float = 0.001) -> NDArray[np.float64]:
    """Cosine between two calls of ONE nondeterministic gateway: base vector plus fresh noise each call."""
    base = rng.normal(size=(n, dim))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    a = base + rng.normal(scale=sigma, size=(n, dim))
    b = base + rng.normal(scale=sigma, size=(n, dim))
    return np.asarray(np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))


def test_jittery_gateway_against_itself_passes_only_with_the_noise_rule() -> None:
    rng = np.random.default_rng(7)
    cross = _jitter_cosines(rng, 3000)  # "candidate" is the same jittery gateway
    noise = NoiseSamples(legacy_self=_jitter_cosines(rng, 200), candidate_self=_jitter_cosines(rng, 200))
    assert np.mean(cross < P.tau) > 0.5  # jitter puts most samples below tau = 0.9999

    without = decide_embed(make_samples(cross), P)
    assert without.outcome == "FAIL"

    with_rule = decide_embed(make_samples(cross), P, noise=noise)
    assert with_rule.outcome == "PASS", with_rule.reason
    tau_eff = with_rule.params["tau_effective"]
    assert P.floor <= tau_eff < P.tau
    assert "tau lowered from 0.9999 to the legacy noise floor" in with_rule.reason
    assert with_rule.detail["noise"]["material"] is True
    assert with_rule.detail["noise"]["legacy"]["below_tau"] > 0
    assert not any("less deterministic" in f for f in with_rule.detail["findings"])


def test_noise_rule_does_not_hide_a_real_drift() -> None:
    rng = np.random.default_rng(8)
    noise = NoiseSamples(legacy_self=_jitter_cosines(rng, 200), candidate_self=_jitter_cosines(rng, 200))
    drifted = _jitter_cosines(rng, 3000, sigma=0.01)  # ten times the legacy jitter: fp16-like drift
    v = decide_embed(make_samples(drifted), P, noise=noise)
    assert v.outcome == "FAIL"
    assert v.params["tau_effective"] < P.tau


def test_deterministic_legacy_keeps_tau_and_flags_a_noisy_candidate() -> None:
    rng = np.random.default_rng(9)
    noise = NoiseSamples(legacy_self=np.ones(200), candidate_self=_jitter_cosines(rng, 200))
    v = decide_embed(make_samples(np.full(3000, 0.999999)), P, noise=noise)
    assert v.params["tau_effective"] == P.tau
    assert v.detail["noise"]["material"] is False
    assert any("less deterministic" in f for f in v.detail["findings"])
    cand = v.detail["noise"]["candidate"]
    assert cand["below_tau"] > 0 and cand["self_disagreement_ci"][0] > 0


def test_rare_legacy_blip_in_a_huge_subsample_is_not_material() -> None:
    self_cos = np.ones(100_000)
    self_cos[0] = 0.9998  # one blip in 100,000: rate far below p_max / 2
    noise = NoiseSamples(legacy_self=self_cos, candidate_self=np.ones(10))
    v = decide_embed(make_samples(np.full(3000, 0.999999)), P, noise=noise)
    assert v.detail["noise"]["material"] is False
    assert v.params["tau_effective"] == P.tau

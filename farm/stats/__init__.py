"""Statistics engine: intervals, sequential stopping, noise floor and the verdict families (probe-agnostic).

Pure functions of numpy arrays and plain numbers (no HTTP, queues or SQL). See docs/statistics.md.
"""

from __future__ import annotations

from farm.stats.binomial import AgreementSamples, decide_binomial
from farm.stats.bounded import MeanParams, MeanVerdict, decide_mean
from farm.stats.intervals import clopper_pearson, cp_lower, cp_upper, samples_needed, wilson, zero_failure_n
from farm.stats.latency import latency_summary
from farm.stats.noise import NoiseFloor, NoiseSamples, noise_floor
from farm.stats.params import VerdictParams
from farm.stats.sequential import (
    clean_stream_n,
    confidence_sequence,
    sequential_decision,
    sequential_samples_needed,
)
from farm.stats.verdict import FAIL, INCONCLUSIVE, PASS, Verdict

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "PASS",
    "AgreementSamples",
    "MeanParams",
    "MeanVerdict",
    "NoiseFloor",
    "NoiseSamples",
    "Verdict",
    "VerdictParams",
    "clean_stream_n",
    "clopper_pearson",
    "confidence_sequence",
    "cp_lower",
    "cp_upper",
    "decide_binomial",
    "decide_mean",
    "latency_summary",
    "noise_floor",
    "samples_needed",
    "sequential_decision",
    "sequential_samples_needed",
    "wilson",
    "zero_failure_n",
]

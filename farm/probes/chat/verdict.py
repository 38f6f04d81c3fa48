"""The chat verdict. Exact mode (temperature 0): binomial agreement on normalised text equality, where a sample
whose token counts break the sweep's constant offset also disagrees. Semantic mode: the bounded-mean family on
chrF, with r_min = the legacy side's mean similarity to itself (A/A) minus the margin, so a candidate passes when
it is no further from legacy than legacy is from itself, within the margin. Both add the token accounting,
finish-reason map, stream checks and time-to-first-token figures to the verdict's detail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.probes.chat.compare import FINISH_CLASSES
from farm.stats.binomial import AgreementSamples, decide_binomial
from farm.stats.latency import latency_summary
from farm.stats.mean_family import decide_mean_family
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict, plain


def fmt_floor(value: float | None) -> str:
    return "unmeasured" if value is None else f"{value:.4f}"


def offsets(legacy: NDArray[np.int64], candidate: NDArray[np.int64], mask: NDArray[np.bool_]) -> dict[str, Any]:
    """Candidate minus legacy counts where both reported one (and `mask` holds): the modal offset, and how many
    samples break it. A constant non-zero offset is wire drift; samples off the mode are disagreements."""
    ok = mask & (legacy >= 0) & (candidate >= 0)
    d = (candidate - legacy)[ok]
    if d.size == 0:
        return {"n": 0, "offset": None, "inconsistent": 0, "values": {}, "off_mode": np.zeros_like(mask)}
    counts = Counter(int(v) for v in d)
    mode = max(sorted(counts), key=lambda v: counts[v])
    off = np.zeros_like(mask)
    off[ok] = (candidate - legacy)[ok] != mode
    return {"n": int(d.size), "offset": mode, "inconsistent": int(off.sum()),
            "values": {str(k): v for k, v in sorted(counts.items())}, "off_mode": off}


def per_message(legacy: NDArray[np.int64], candidate: NDArray[np.int64], messages: NDArray[np.int64] | None,
                mask: NDArray[np.bool_]) -> int | None:
    """k when the candidate counts k more (or fewer) tokens per message on every sample (an offset that grows
    with the conversation, e.g. a chat template's tokens per message); None otherwise."""
    if messages is None:
        return None
    ok = mask & (legacy >= 0) & (candidate >= 0) & (messages > 0)
    if not ok.any():
        return None
    d, m = (candidate - legacy)[ok], messages[ok]
    if (d % m).any() or len(set((d // m).tolist())) != 1 or len(set(d.tolist())) < 2:
        return None  # not a multiple of the messages, not one k, or a constant offset already
    k = int(d[0] // m[0])
    return k or None


def token_accounting(arrays: dict[str, NDArray[Any]]) -> tuple[dict[str, Any], NDArray[np.bool_]]:
    every = np.ones(arrays["prompt_legacy"].shape, dtype=bool)
    same_text = arrays["exact"] == 1
    messages = arrays.get("messages")
    out: dict[str, Any] = {}
    off = np.zeros(every.shape, dtype=bool)
    # Completion counts are comparable only where the two answers are the same text.
    for what, mask in (("prompt", every), ("completion", same_text)):
        legacy, candidate = arrays[f"{what}_legacy"], arrays[f"{what}_candidate"]
        stats = offsets(legacy, candidate, mask)
        off |= stats.pop("off_mode")
        stats["per_message"] = per_message(legacy, candidate, messages, mask) if what == "prompt" else None
        answered = np.isfinite(arrays["similarity"])
        stats["sent"] = {side: int((arrays[f"{what}_{side}"][answered] >= 0).sum()) for side in ("legacy",
                                                                                               "candidate")}
        stats["answers"] = int(answered.sum())
        out[what] = stats
    return out, off


def token_words(tokens: Mapping[str, Any]) -> str | None:
    """How the token counts differ, in words: "prompt by +1 per message", "prompt +1 on 30, +2 on 12 samples"."""
    parts = []
    for what in ("prompt", "completion"):
        t = tokens.get(what) or {}
        if t.get("per_message"):
            parts.append(f"{what} by {t['per_message']:+d} per message")
        elif t.get("inconsistent"):
            seen = ", ".join(f"{int(k):+d} on {v:,}" for k, v in (t.get("values") or {}).items())
            parts.append(f"{what} {seen} samples")
    return "; ".join(parts) or None


def not_sent(tokens: Mapping[str, Any]) -> list[str]:
    """Sides that sent no token count at all on answered samples ("candidate sent no prompt tokens")."""
    out = []
    for what in ("prompt", "completion"):
        t = tokens.get(what) or {}
        for side, n in (t.get("sent") or {}).items():
            if t.get("answers") and n == 0:
                out.append(f"{side} sent no {what} token counts")
    return out


def finish_map(errors: dict[str, list[Any]], exact: NDArray[np.int64]) -> dict[str, Any]:
    """Which finish reason of legacy met which of the candidate on the same answer text (where the names must
    mean the same), and the names no mapping knows (on any sample)."""
    both = [(a, b, e == 1) for a, b, e in zip(errors["finish_legacy"], errors["finish_candidate"], exact, strict=True)
            if a is not None and b is not None]
    pairs = Counter((a, b) for a, b, same_text in both if same_text)
    names = {n for a, b, _ in both for n in (a, b)}
    return {"pairs": [{"legacy": a, "candidate": b, "count": c,
                       "same_meaning": a in FINISH_CLASSES and FINISH_CLASSES.get(a) == FINISH_CLASSES.get(b)}
                      for (a, b), c in sorted(pairs.items(), key=lambda kv: -kv[1])],
            "unmapped": sorted(n for n in names if n not in FINISH_CLASSES)}


def stream_checks(arrays: dict[str, NDArray[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side in ("legacy", "candidate"):
        v = arrays[f"stream_{side}"]
        asked = v >= 0
        out[side] = {"checked": int(asked.sum()), "equal": int((v == 1).sum()), "differ": int((v == 0).sum())}
    return out


def timing(arrays: dict[str, NDArray[Any]], alpha: float) -> dict[str, Any]:
    ttft = latency_summary(arrays["ttft_legacy_ms"], arrays["ttft_candidate_ms"], alpha=alpha)
    tps = {side: _summary(arrays[f"tps_{side}"]) for side in ("legacy", "candidate")}
    return {"ttft_ms": ttft, "tokens_per_s": tps}


def _summary(values: NDArray[np.float64]) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"n": 0}
    rng = np.random.default_rng(0)
    boots = rng.choice(v, size=(200, v.size), replace=True).mean(axis=1) if v.size > 1 else np.array([v[0]])
    return {"n": int(v.size), "mean": float(v.mean()), "p50": float(np.median(v)),
            "mean_ci": [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))]}


def error_words(errors: list[Any], legacy_errors: list[Any]) -> str | None:
    """The candidate's errors where legacy answered, by class: "40 stream_truncated (cut before the done
    marker)"."""
    counts = Counter(c for c, lerr in zip(errors, legacy_errors, strict=True) if c is not None and lerr is None)
    if not counts:
        return None
    what = {"stream_truncated": "streams cut before their done marker",
            "stream_error": "error events inside the stream"}
    return ", ".join(f"{n:,} {c}" + (f" ({what[c]})" if c in what else "") for c, n in counts.most_common())


def _explained(verdict: Verdict, arrays: dict[str, NDArray[Any]], errors: dict[str, list[Any]],
               tokens: dict[str, Any], off_mode: NDArray[np.bool_]) -> Verdict:
    """The exact verdict's reason says what its disagreements are: the candidate's failed samples by class (the
    `worst` figure covers compared samples only), and equal texts whose token counts differ."""
    if verdict.outcome not in ("FAIL", "INCONCLUSIVE"):
        return verdict
    reason = verdict.reason
    failed = error_words(errors["candidate_error"], errors["legacy_error"])
    if failed:
        reason = reason.replace("; worst ", "; worst of the compared samples ")
        reason += f"; the candidate failed on {failed}, each a disagreement"
    equal = int((off_mode & (arrays["exact"] == 1)).sum())
    words = token_words(tokens)
    if equal and words:
        reason += f"; {equal:,} disagreements have equal texts: token counts differ ({words})"
    return replace(verdict, reason=reason)


def decide_chat(arrays: dict[str, NDArray[Any]], errors: dict[str, list[Any]], params: VerdictParams, *,
                planned: int | None, noise: NoiseSamples | None, sequential: bool,
                options: Mapping[str, Any] | None = None) -> Verdict:
    margins = arrays["margin"][np.isfinite(arrays["margin"])]
    tokens, off_mode = token_accounting(arrays)
    score = np.asarray(arrays["score"], dtype=np.float64).copy()

    def samples_of(s: NDArray[np.float64]) -> AgreementSamples:
        return AgreementSamples(s, errors["legacy_error"], errors["candidate_error"], arrays["latency_legacy_ms"],
                                arrays["latency_candidate_ms"])

    semantic: dict[str, Any] | None = None
    if margins.size:
        margin = float(margins[0])
        legacy_self = np.asarray(noise.legacy_self if noise is not None else [], dtype=np.float64)
        legacy_self = legacy_self[np.isfinite(legacy_self)]
        self_mean = float(legacy_self.mean()) if legacy_self.size else None
        # The mean family needs 0 < r_min < 1; without a noise floor the bounds are still shown, the outcome is not.
        r_min = min(0.9999, max(params.floor, self_mean - margin, 1e-4)) if self_mean is not None else 0.5
        verdict = decide_mean_family(samples_of(score), replace(params, tau=r_min), quantity="chrF",
                                     planned=planned, noise=noise, sequential=sequential)
        semantic = {"margin": margin, "legacy_self_mean": self_mean, "legacy_self_n": int(legacy_self.size),
                    "r_min": r_min, "rule": "r_min = mean chrF of legacy against itself (A/A) - margin"}
        if self_mean is None:
            verdict = replace(verdict, outcome="INCONCLUSIVE",
                              reason="INCONCLUSIVE: the semantic comparison needs the legacy A/A noise floor "
                                     "(--noise-sample > 0, or --legacy-secondary), and none was measured")
        elif verdict.outcome in ("PASS", "FAIL") and "integrity" not in verdict.reason:
            verdict = replace(verdict, reason=f"{verdict.reason}; r_min = legacy A/A chrF {self_mean:.4f} - "
                                              f"margin {margin:g}")
    else:
        score[off_mode & (score >= params.tau)] = min(params.tau, 1.0) - 1e-4  # inconsistent counts disagree
        verdict = decide_binomial(samples_of(score), params, quantity="exact match", planned=planned, noise=noise,
                                  sequential=sequential)
        verdict = _explained(verdict, arrays, errors, tokens, off_mode)
    warnings = not_sent(tokens)
    if semantic is not None and (options or {}).get("sampling_seed") is not None:
        warnings.append("--sampling-seed makes legacy repeat itself: its A/A similarity is "
                        f"{fmt_floor(semantic['legacy_self_mean'])}, so the noise floor measures no sampling and "
                        f"r_min ({semantic['r_min']:.4f}) is 1 - margin: the semantic verdict judges the seeded "
                        "answers as a near-exact comparison (leave the seed out to measure sampled answers)")
    findings = [*list(verdict.detail.get("findings") or []), *warnings]
    detail = {**verdict.detail, "findings": findings, "warnings": warnings, "semantic": semantic, "tokens": tokens,
              "token_inconsistent_samples": int(off_mode.sum()), "finish": finish_map(errors, arrays["exact"]),
              "stream_checks": stream_checks(arrays), "timing": timing(arrays, params.alpha),
              "exact_matches": int((arrays["exact"] == 1).sum()),
              "similarity_mean": float(np.nanmean(arrays["similarity"])) if np.isfinite(arrays["similarity"]).any()
              else None}
    return replace(verdict, detail=plain(detail))

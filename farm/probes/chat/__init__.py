"""The chat probe: do two chat gateways give the same answers, whatever their providers, token shapes and stream
framing?

Each conversation is its own request (`requests`); when the sweep streams, the first conversation of every
batch is asked a second time without streaming, so each side's stream is checked against its own plain answer.
At temperature 0 a sample agrees when the texts are equal after light normalisation (binomial verdict); above it,
or with `--compare semantic`, the chrF similarity is judged by the bounded-mean family against the legacy side's
own A/A similarity minus a margin. Token counts, finish reasons and latency (time to first token, tokens/s) are
compared per sample. Files: `profile.py` (wire profiles, stream parsing), `prompts.py` (inputs), `model.py` and
`demo.py` (the demo gateways' trigram model), `compare.py`, `verdict.py`, `drift.py`, `report.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import click
from numpy.typing import NDArray

from farm.probes import register
from farm.probes.base import Backend, Column, Compared, DemoOption, Probe, Profile, SideResult
from farm.probes.chat.compare import finish_class, similarity, stream_check
from farm.probes.chat.profile import PRESETS, STREAM_ERROR, STREAM_TRUNCATED, ChatAnswer, ChatProfile
from farm.probes.chat.prompts import conversation_from_json, conversation_from_text, synthetic_conversation
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict
from farm.wiredrift.roles import DriftRoles
from farm.wiredrift.rows import DriftRow

TEXT_KEPT = 240  # characters of each answer kept per sample, for the report's side-by-side tables


def _chat(profile: Profile) -> ChatProfile:
    if not isinstance(profile, ChatProfile):
        raise TypeError(f"profile {profile.name} is a {profile.probe} profile, not a chat one")
    return profile


def semantic_mode(options: Mapping[str, Any]) -> bool:
    mode = str(options.get("compare") or "auto")
    return mode == "semantic" or (mode == "auto" and float(options.get("temperature") or 0.0) > 0)


def _settings(options: Mapping[str, Any]) -> dict[str, Any]:
    return {"temperature": options.get("temperature"), "max_tokens": options.get("max_tokens"),
            "seed": options.get("sampling_seed")}


class ChatProbe(Probe):
    name = "chat"
    demo_samples = 400
    demo_shows = "SSE against NDJSON streams: the same answers at temperature 0"
    title = "Chat parity"
    quantity = "exact match"
    family = "binomial"
    profile_type = ChatProfile
    presets = PRESETS
    default_profiles = ("lakehouse-legacy", "lakehouse-candidate")
    default_tau, default_floor, default_p_max = 1.0, 0.1, 0.01
    default_noise_sample = 0.25  # the semantic verdict's threshold is legacy's own A/A similarity
    request_per_input = True
    columns = (
        Column("margin", "float"), Column("exact", "int"), Column("similarity", "float"),
        Column("prompt_legacy", "int"), Column("prompt_candidate", "int"),
        Column("completion_legacy", "int"), Column("completion_candidate", "int"),
        Column("finish_legacy", "text"), Column("finish_candidate", "text"),
        Column("ttft_legacy_ms", "float"), Column("ttft_candidate_ms", "float"),
        Column("tps_legacy", "float"), Column("tps_candidate", "float"),
        Column("stream_legacy", "int"), Column("stream_candidate", "int"),
        Column("text_legacy", "text"), Column("text_candidate", "text"), Column("messages", "int"),
    )
    sweep_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--temperature", "Sampling temperature sent to both sides (a conversation's own wins).", 0.0,
                   click.FloatRange(0.0, 2.0)),
        DemoOption("--max-tokens", "Largest answer, in tokens, sent to both sides.", 64, click.IntRange(1, 8192)),
        DemoOption("--sampling-seed", "Sampling seed sent to both sides (default: none sent).", None, int),
        DemoOption("--stream", "1: stream the answers (and ask the first of each batch also without); 0: don't.",
                   1, click.IntRange(0, 1)),
        DemoOption("--compare", "auto: exact at temperature 0, else semantic.", "auto",
                   click.Choice(["auto", "exact", "semantic"])),
        DemoOption("--margin", "Semantic mode: how far below legacy's own A/A similarity the candidate's mean "
                   "may be.", 0.1, click.FloatRange(0.0, 1.0)),
    )
    demo_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--count-bos", "1: count a beginning-of-sequence token in prompt_tokens.", 0,
                   click.IntRange(0, 1)),
        DemoOption("--finish-names", "Rename finish reasons, e.g. stop=end_turn,length=max_tokens.", "", str),
        DemoOption("--chunking", "Tokens per stream chunk.", 1, click.IntRange(min=1)),
        DemoOption("--cut-rate", "Fraction of streams cut off halfway, before the done marker.", 0.0,
                   click.FloatRange(0.0, 1.0)),
        DemoOption("--token-delay-ms", "Pause before each stream chunk (ms).", 0.0, click.FloatRange(min=0.0)),
    )

    # --- corpus ------------------------------------------------------------------------------------
    def item_from_text(self, line: str) -> Any:
        return conversation_from_text(line)

    def item_from_json(self, value: Any) -> Any:
        return conversation_from_json(value)

    def synthetic(self, seed: int, idx: int) -> Any:
        return synthetic_conversation(seed, idx)

    def items_from_request(self, profile: Profile, body: dict[str, Any]) -> list[Any]:
        return [_chat(profile).conversation_of(body)]

    # --- wire --------------------------------------------------------------------------------------
    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        return _chat(profile).build_request(items[0], model, _settings(options), bool(options.get("stream", 1)))

    def requests(self, profile: Profile, items: Sequence[Any], model: str | None,
                 options: Mapping[str, Any]) -> list[tuple[dict[str, Any], int]]:
        p, settings, stream = _chat(profile), _settings(options), bool(options.get("stream", 1))
        out = [(p.build_request(item, model, settings, stream), 1) for item in items]
        if stream and items:  # the stream-vs-plain check: the batch's first input asked without streaming
            out.append((p.build_request(items[0], model, settings, False), 1))
        return out

    def streams(self, profile: Profile, body: dict[str, Any]) -> bool:
        return _chat(profile).wants_stream(body)

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        return _chat(profile).parse_answer(doc).to_dict(), [None] * n

    def parse_stream(self, profile: Profile, pieces: Sequence[tuple[float, bytes]], complete: bool,
                     n: int) -> tuple[Any, list[str | None], Any]:
        answer, done, last = _chat(profile).parse_stream(pieces, complete)
        error = STREAM_ERROR if answer.error is not None else None if done else STREAM_TRUNCATED
        return answer.to_dict(), [error] * n, last if last is not None else {}

    def error_detail(self, profile: Profile, value: Any, errors: Sequence[str | None]) -> str | None:
        if STREAM_ERROR in errors and isinstance(value, dict) and value.get("error"):
            return f"error event in the stream: {value['error']}"
        return None

    def combine(self, profile: Profile, items: Sequence[Any], parts: list[SideResult],
                options: Mapping[str, Any]) -> SideResult:
        n = len(items)
        answers = [_timed(part) for part in parts[:n]]
        check = _timed(parts[n]) if len(parts) > n else None
        plain_doc = parts[n].response if len(parts) > n else None
        doc = plain_doc if plain_doc is not None else next((p.response for p in parts if p.response is not None),
                                                           None)
        value = {"answers": answers, "check": check, "messages": [len(item["messages"]) for item in items]} \
            if any(a is not None for a in answers) else None
        return SideResult(value, [part.errors[0] for part in parts[:n]], parts[0].status,
                          max(p.latency_ms for p in parts), max(p.attempts for p in parts), parts[0].request, doc,
                          [p.latency_ms for p in parts[:n]], detail=next((p.detail for p in parts if p.detail), None))

    # --- comparison --------------------------------------------------------------------------------
    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        semantic = semantic_mode(options)
        cols: dict[str, list[Any]] = {c.name: [None] * n for c in self.columns}
        cols["margin"] = [float(options.get("margin", 0.1)) if semantic else None] * n
        score: list[float | None] = [None] * n
        agreed: list[bool | None] = [None] * n
        counts = (legacy.value or candidate.value or {}).get("messages")  # per-message token offsets need them
        if isinstance(counts, list) and len(counts) == n:
            cols["messages"] = counts
        for side, result in (("legacy", legacy), ("candidate", candidate)):
            answers = result.value["answers"] if result.value else [None] * n
            for i, a in enumerate(answers):
                if a is None:
                    continue
                ans = ChatAnswer.from_dict(a)
                cols[f"prompt_{side}"][i] = ans.prompt_tokens
                cols[f"completion_{side}"][i] = ans.completion_tokens
                cols[f"finish_{side}"][i] = ans.finish
                cols[f"ttft_{side}_ms"][i] = ans.ttft_ms
                cols[f"tps_{side}"][i] = ans.tokens_per_s
                cols[f"text_{side}"][i] = ans.text[:TEXT_KEPT] + (f" [stream error: {ans.error}]" if ans.error
                                                                  else "")
            # A stream cut or failed is counted once, as its sample's error, not again as a stream-vs-plain miss.
            cols[f"stream_{side}"][0] = stream_check(result.value) if n and result.errors[0] is None else None
        for i in range(n):
            if legacy.errors[i] is not None or candidate.errors[i] is not None or not legacy.value \
                    or not candidate.value:
                continue
            la, ca = legacy.value["answers"][i], candidate.value["answers"][i]
            if la is None or ca is None:
                continue
            sim, exact = similarity(ChatAnswer.from_dict(la), ChatAnswer.from_dict(ca))
            lf, cf = finish_class(la["finish"]), finish_class(ca["finish"])
            finish_differs = lf is not None and cf is not None and lf != cf
            cols["similarity"][i], cols["exact"][i] = sim, int(exact)
            if semantic:
                score[i] = sim  # judged by the mean family in `decide`; no per-sample agreement here
            else:
                score[i] = min(sim, 0.9999) if finish_differs else sim
                agreed[i] = exact and not finish_differs
        return Compared(score, agreed, list(legacy.errors), list(candidate.errors), cols)

    def self_scores(self, first: SideResult, second: SideResult, options: Mapping[str, Any]) -> list[float | None]:
        n = len(first.errors)
        out: list[float | None] = [None] * n
        if not first.value or not second.value:
            return out
        for i in range(n):
            a, b = first.value["answers"][i], second.value["answers"][i]
            if first.errors[i] is None and second.errors[i] is None and a is not None and b is not None:
                out[i] = similarity(ChatAnswer.from_dict(a), ChatAnswer.from_dict(b))[0]
        return out

    # --- verdict -----------------------------------------------------------------------------------
    def decide(self, arrays: dict[str, NDArray[Any]], errors: dict[str, list[str | None]], params: VerdictParams,
               *, planned: int | None, noise: NoiseSamples | None, sequential: bool,
               options: Mapping[str, Any] | None = None) -> Verdict:
        from farm.probes.chat.verdict import decide_chat

        return decide_chat(arrays, errors, params, planned=planned, noise=noise, sequential=sequential,
                           options=options or {})

    # --- demo gateway ------------------------------------------------------------------------------
    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        from farm.probes.chat.demo import backend

        return backend(_chat(profile), knobs)

    # --- report ------------------------------------------------------------------------------------
    def report_sections(self, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[
            list[str], list[Path]]:
        from farm.probes.chat.report import sections

        return sections(url, sweep, verdict, out_dir, stem)

    def parity_cell(self, verdict: Any, params: dict[str, Any]) -> str:
        from farm.probes.chat.report import statistics

        d = statistics(verdict)
        semantic = d.get("semantic")
        if semantic:
            return f"✅ PASS mean chrF {d.get('mean') or 0:.4f} ≥ {semantic.get('r_min') or 0:.4f} (n={verdict.n:,})"
        return f"✅ PASS {verdict.n - verdict.disagreements:,}/{verdict.n:,} exact"

    # --- drift -------------------------------------------------------------------------------------
    def drift_roles(self) -> DriftRoles:
        from farm.probes.chat.drift import ChatRoles

        return ChatRoles()

    def drift_from_samples(self, arrays: dict[str, NDArray[Any]],
                           errors: dict[str, list[str | None]]) -> list[DriftRow]:
        from farm.probes.chat.drift import sample_rows

        return sample_rows(arrays, errors)


def _timed(part: SideResult) -> dict[str, Any] | None:
    """The answer of one request with its timing: a plain answer's first token is its whole latency."""
    if part.value is None:
        return None
    answer = ChatAnswer.from_dict(part.value)
    seconds = part.latency_ms / 1000.0
    tps = answer.completion_tokens / seconds if answer.completion_tokens and seconds > 0 else None
    ttft = answer.ttft_ms if answer.streamed else part.latency_ms
    return replace(answer, ttft_ms=ttft, tokens_per_s=tps if tps is None or math.isfinite(tps) else None).to_dict()


PROBE = register(ChatProbe())

from farm.probes.chat import adapter as _adapter  # noqa: E402, F401  (registers the stream reframing)

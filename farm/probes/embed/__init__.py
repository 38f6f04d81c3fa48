"""The embed probe: do two gateways' embedding vectors agree, input by input?

Per sample: cosine (the score), both norms, their ratio, max |diff| of the unit vectors, dimensions. Verdict:
binomial agreement at cosine >= tau, after an integrity gate on the vectors. The folder holds everything
embed-specific: the wire profile and presets (`profile.py`), the comparison (`compare.py`), the verdict's
integrity gate (`verdict.py`), the demo embedder (`embedder.py`), the drift-catalog field roles (`drift.py`)
and the report sections (`report.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import click
import numpy as np
from numpy.typing import NDArray

from farm.probes import register
from farm.probes.base import Backend, Column, Compared, DemoOption, MalformedBody, Probe, Profile, SideResult
from farm.probes.embed.compare import compare, self_cosines
from farm.probes.embed.profile import PRESETS, EmbedProfile, classify_vectors
from farm.stats.noise import NoiseSamples
from farm.stats.params import VerdictParams
from farm.stats.verdict import Verdict
from farm.wiredrift.roles import DriftRoles


def _embed(profile: Profile) -> EmbedProfile:
    if not isinstance(profile, EmbedProfile):
        raise TypeError(f"profile {profile.name} is a {profile.probe} profile, not an embed one")
    return profile


class EmbedProbe(Probe):
    demo_shows = "unit vectors against raw magnitudes: the same embeddings once normalised"
    name = "embed"
    title = "Embed parity"
    quantity = "cosine"
    family = "binomial"
    profile_type = EmbedProfile
    presets = PRESETS
    default_profiles = ("lakehouse-legacy", "lakehouse-candidate")
    columns = (Column("norm_legacy", "float"), Column("norm_candidate", "float"), Column("norm_ratio", "float"),
               Column("max_abs_diff", "float"), Column("dim_legacy", "int"), Column("dim_candidate", "int"))
    demo_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--scale", "Raw vector magnitude (default: unit vectors if the profile is unit-normalised, "
                   "else 21.5).", None, click.FloatRange(min=0.0, min_open=True)),
        DemoOption("--drift-cos", "Cosine of the drifted vectors to the truth.", 0.95, click.FloatRange(-1.0, 1.0)),
        DemoOption("--noise", "Relative nondeterministic jitter added to every vector on every call.", 0.0,
                   click.FloatRange(min=0.0)),
        DemoOption("--model", "Model used when a request names none (nomic-embed-text, nomic-embed-text-v2-moe, "
                   "all-minilm, bge-small).", "nomic-embed-text", str),
    )

    def items_from_request(self, profile: Profile, body: dict[str, Any]) -> list[Any]:
        return _embed(profile).texts_of(body)

    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        return _embed(profile).build_request(list(items), model)

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        vectors = _embed(profile).parse_vectors(doc)
        return vectors, classify_vectors(vectors, n)

    def encode(self, value: Any) -> tuple[Any, bytes]:
        # Raw float64: exact, and ~10x smaller and faster than JSON numbers.
        return list(value.shape), value.astype(np.float64).tobytes()

    def decode(self, header: Any, body: bytes) -> Any:
        return np.frombuffer(body, dtype=np.float64).reshape(header).copy()

    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        return compare(legacy, candidate, n, params)

    def self_scores(self, first: SideResult, second: SideResult, options: Mapping[str, Any]) -> list[float | None]:
        return self_cosines(first, second)

    def decide(self, arrays: dict[str, NDArray[Any]], errors: dict[str, list[str | None]], params: VerdictParams,
               *, planned: int | None, noise: NoiseSamples | None, sequential: bool,
               options: Mapping[str, Any] | None = None) -> Verdict:
        from farm.probes.embed.verdict import EmbedSamples, decide_embed

        samples = EmbedSamples(
            cosine=arrays["score"], legacy_error=errors["legacy_error"], candidate_error=errors["candidate_error"],
            dim_legacy=arrays["dim_legacy"], dim_candidate=arrays["dim_candidate"],
            latency_legacy_ms=arrays["latency_legacy_ms"], latency_candidate_ms=arrays["latency_candidate_ms"])
        return decide_embed(samples, params, planned=planned, noise=noise, sequential=sequential)

    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        from farm.probes.embed.embedder import MAX_TEXT_CHARS, MODELS, EmbedKnobs, embed

        p = _embed(profile)
        scale = knobs.get("scale")
        drift_cos = knobs.get("drift_cos")
        settings = EmbedKnobs(scale=scale or 21.5, unit=p.unit_vectors and scale is None,
                              drift_rate=float(knobs.get("drift_rate") or 0.0),
                              drift_cos=0.95 if drift_cos is None else float(drift_cos),  # 0 is a cosine
                              noise=float(knobs.get("noise") or 0.0))
        default_model = str(knobs.get("model") or "nomic-embed-text")
        if default_model not in MODELS:
            raise MalformedBody(f"unknown model {default_model!r} (known: {', '.join(sorted(MODELS))})")
        rng = np.random.default_rng()

        def answer(body: dict[str, Any]) -> tuple[int, Callable[[], Any]]:
            texts = p.texts_of(body)
            for i, text in enumerate(texts):
                if len(text) > MAX_TEXT_CHARS:
                    raise MalformedBody(f"input {i} is {len(text):,} characters long; this demo gateway embeds "
                                        f"at most {MAX_TEXT_CHARS:,}")
            model = p.model_of(body) or default_model
            if model not in MODELS:
                raise LookupError(f"model {model!r} not found")

            def compute() -> Any:
                vectors = embed(texts, model, settings, rng) if texts else np.zeros((0, MODELS[model]))
                return p.build_response(vectors, model)

            return len(texts), compute

        return answer

    def report_sections(self, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[
            list[str], list[Path]]:
        from farm.probes.embed.report import sections

        return sections(url, sweep, out_dir, stem)

    def parity_cell(self, verdict: Any, params: dict[str, Any]) -> str:
        return f"✅ PASS {verdict.n - verdict.disagreements:,}/{verdict.n:,} cos≥{params.get('tau', 0.9999)}"

    def drift_roles(self) -> DriftRoles:
        from farm.probes.embed.drift import EmbedRoles

        return EmbedRoles()


PROBE = register(EmbedProbe())

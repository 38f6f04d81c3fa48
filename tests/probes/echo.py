"""A probe defined inside the test suite, touching no shared code: the proof of the plug-in surface.

An echo endpoint answers each input text back; the two sides agree on a sample when they echo the same
text. Registered on import; processes that must know it (gateways, workers) get `FARM_PROBE_MODULES`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from farm.probes import register
from farm.probes.base import Backend, Compared, DemoOption, MalformedBody, Probe, Profile, SideResult
from farm.profiles import get_path, set_path
from farm.stats.params import VerdictParams


@dataclass(frozen=True, kw_only=True)
class EchoProfile(Profile):
    probe: ClassVar[str] = "echo"
    inputs_field: str
    answers_path: str


class EchoProbe(Probe):
    name = "echo"
    title = "Echo parity"
    quantity = "equality"
    profile_type = EchoProfile
    presets: ClassVar[dict[str, Profile]] = {
        "echo-legacy": EchoProfile(name="echo-legacy", path="/echo", inputs_field="inputs", answers_path="echoes"),
        "echo-candidate": EchoProfile(name="echo-candidate", path="/v2/echo", inputs_field="texts",
                                      answers_path="data.items"),
    }
    default_profiles = ("echo-legacy", "echo-candidate")
    default_tau, default_floor = 1.0, 0.0
    demo_options: ClassVar[tuple[DemoOption, ...]] = (DemoOption("--shout", "Upper-case every answer.", 0, int),)
    sweep_options: ClassVar[tuple[DemoOption, ...]] = (DemoOption("--prefix", "Sent before every input.", "", str),)

    def items_from_request(self, profile: Profile, body: dict[str, Any]) -> list[Any]:
        assert isinstance(profile, EchoProfile)
        texts = body.get(profile.inputs_field)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise MalformedBody(f"{profile.inputs_field!r} must be a list of strings")
        return texts

    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        assert isinstance(profile, EchoProfile)
        return {profile.inputs_field: [options.get("prefix", "") + item for item in items]}

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        assert isinstance(profile, EchoProfile)
        answers = get_path(doc, profile.answers_path)
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise MalformedBody(f"{profile.answers_path!r} is not a list of strings")
        return answers, [None if len(answers) == n else "count_mismatch"] * n

    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        both = legacy.value is not None and candidate.value is not None and len(legacy.value) == len(candidate.value)
        score: list[float | None] = [None] * n
        if both:
            score = [None if a or b else float(x == y) for x, y, a, b in
                     zip(legacy.value, candidate.value, legacy.errors, candidate.errors, strict=True)]
        return Compared(score, [None if s is None else s >= params.tau for s in score], list(legacy.errors),
                        list(candidate.errors))

    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        assert isinstance(profile, EchoProfile)
        drift, shout = float(knobs.get("drift_rate") or 0.0), bool(knobs.get("shout"))

        def answer(body: dict[str, Any]) -> tuple[int, Callable[[], Any]]:
            texts = self.items_from_request(profile, body)

            def compute() -> Any:
                out = [t.upper() if shout else t for t in texts]
                # Which inputs drift is a hash of the text: the same ones on every call and every run.
                out = [o + "!" if int(hashlib.md5(t.encode()).hexdigest()[:6], 16) / 2**24 < drift else o
                       for o, t in zip(out, texts, strict=True)]
                doc: dict[str, Any] = {}
                set_path(doc, profile.answers_path, out)
                return doc

            return len(texts), compute

        return answer


PROBE = register(EchoProbe())


@dataclass(frozen=True, kw_only=True)
class OverlapProfile(EchoProfile):
    probe: ClassVar[str] = "overlap"


class OverlapProbe(EchoProbe):
    """The same endpoint judged by the bounded-mean family: the word overlap (Jaccard) of the two echoes."""

    name = "overlap"
    title = "Echo word overlap"
    quantity = "word overlap"
    family = "mean"
    profile_type = OverlapProfile
    presets: ClassVar[dict[str, Profile]] = {
        "echo-legacy": OverlapProfile(name="echo-legacy", path="/echo", inputs_field="inputs", answers_path="echoes"),
        "echo-candidate": OverlapProfile(name="echo-candidate", path="/v2/echo", inputs_field="texts",
                                         answers_path="data.items"),
    }
    default_tau, default_floor, default_p_max = 0.9, 0.5, 0.01

    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        both = legacy.value is not None and candidate.value is not None and len(legacy.value) == len(candidate.value)
        score: list[float | None] = [None] * n
        if both:
            score = [None if a or b else _jaccard(x, y) for x, y, a, b in
                     zip(legacy.value, candidate.value, legacy.errors, candidate.errors, strict=True)]
        return Compared(score, [None if s is None else s >= params.tau for s in score], list(legacy.errors),
                        list(candidate.errors))


def _jaccard(a: str, b: str) -> float:
    x, y = set(a.split()), set(b.split())
    return len(x & y) / len(x | y) if x | y else 1.0


OVERLAP = register(OverlapProbe())

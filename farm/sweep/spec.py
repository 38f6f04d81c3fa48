"""What a sweep is asked to do: plain data, shared by the embedded engine, the producer and the workers."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from farm.config import FarmConfig, GatewayConfig
from farm.corpus import CorpusSpec
from farm.errors import UsageError
from farm.gateway.client import RetryPolicy, Target
from farm.profiles import WireProfile, profile_from_dict, profile_to_dict, resolve_profile
from farm.stats import VerdictParams


@dataclass(frozen=True)
class SweepSpec:
    legacy: Target
    candidate: Target
    corpus: CorpusSpec
    database_url: str
    model: str | None = None
    batch_size: int = 32
    concurrency: int = 8
    params: VerdictParams = field(default_factory=VerdictParams)
    noise_sample: float = 0.0
    until_decided: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    probe: str = "embed"

    def parameters(self) -> dict[str, Any]:
        """Everything that shaped the verdict, for the sweep row, the report and `--json`."""
        return {
            **asdict(self.params), "batch_size": self.batch_size, "concurrency": self.concurrency,
            "noise_sample": self.noise_sample, "until_decided": self.until_decided, "model": self.model,
            "corpus": self.corpus.describe(), "retry_attempts": self.retry.attempts, "timeout_s": self.retry.timeout,
        }

    def sweep_row(self, sweep_id: str, mode: str) -> dict[str, Any]:
        return {
            "id": sweep_id, "probe": self.probe, "legacy": self.legacy.name, "candidate": self.candidate.name,
            "legacy_url": self.legacy.endpoint, "candidate_url": self.candidate.endpoint,
            "legacy_profile": self.legacy.profile.name, "candidate_profile": self.candidate.profile.name,
            "model": self.model, "corpus": self.corpus.describe(), "mode": mode, "status": "running",
            "params": {**self.parameters(), "wire_profiles": {
                "legacy": profile_to_dict(self.legacy.profile), "candidate": profile_to_dict(self.candidate.profile)},
                # What `spec_from_row` needs to dispatch the sweep again (`farm sweep resume`): names, never tokens.
                "spec": {"legacy": target_to_dict(self.legacy), "candidate": target_to_dict(self.candidate),
                         "corpus": asdict(self.corpus), "retry": asdict(self.retry)}},
            "planned": self.corpus.limit,
        }


def spec_from_row(sweep: Any, database_url: str) -> SweepSpec:
    """The spec a recorded sweep was started with (the inverse of `SweepSpec.sweep_row`)."""
    p = sweep.params
    stored = p.get("spec")
    if stored is None:
        raise UsageError(f"sweep {sweep.id} was recorded before sweeps kept their spec: start it again")
    return SweepSpec(
        legacy=target_from_dict(stored["legacy"]), candidate=target_from_dict(stored["candidate"]),
        corpus=CorpusSpec(**stored["corpus"]), database_url=database_url, model=p.get("model"),
        batch_size=p["batch_size"], concurrency=p["concurrency"],
        params=VerdictParams(tau=p["tau"], p_max=p["p_max"], alpha=p["alpha"], floor=p["floor"]),
        noise_sample=p["noise_sample"], until_decided=bool(p.get("until_decided")),
        retry=RetryPolicy(**stored["retry"]), probe=sweep.probe,
    )


def target_to_dict(target: Target) -> dict[str, Any]:
    """A gateway as plain data: what jobs carry and sweeps record (the token's variable name, never a token)."""
    return {"name": target.name, "url": target.url, "token_env": target.token_env,
            "profile": profile_to_dict(target.profile)}


def target_from_dict(d: dict[str, Any]) -> Target:
    return Target(d["name"], d["url"], profile_from_dict(d["profile"]), d.get("token_env"))


def new_sweep_id() -> str:
    """Sortable and short: date, time, and 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def resolve_target(ref: str, profile: str | None, default_profile: str, config: FarmConfig, role: str) -> Target:
    """A gateway from `--legacy NAME|URL`: a name from farm.toml, or a URL with a profile."""
    gw: GatewayConfig | None = config.gateways.get(ref)
    if gw is not None:
        prof = resolve_profile(profile or gw.profile, config, key=f"--{role}-profile")
        return Target(gw.name, gw.url, prof, gw.token_env)
    if ref.startswith(("http://", "https://")):
        prof = resolve_profile(profile or default_profile, config, key=f"--{role}-profile")
        return Target(role, ref.rstrip("/"), prof, GatewayConfig.default_token_env(role))
    known = ", ".join(sorted(config.gateways)) or "none configured"
    raise UsageError(f"--{role} {ref!r}: not a gateway name from the config ({known}) nor an http(s):// URL")


def profiles_of(sweep: Any) -> tuple[WireProfile, WireProfile]:
    """The wire profiles a recorded sweep ran with (stored in its row, so no config is needed later)."""
    stored = sweep.params["wire_profiles"]
    return profile_from_dict(stored["legacy"]), profile_from_dict(stored["candidate"])

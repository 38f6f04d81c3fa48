"""The storage probe: do two gateways serve the same objects from the same store, byte for byte?

Inputs are object keys, listings (prefix, page size) and missing keys, from a corpus, the demo store's seeded
keys, or what the legacy gateway lists under `--list-prefix` (`listing.py`). Per input: body hash and size, HEAD,
ranged reads (206 / 416), listing keys and counts; header differences are drift. Verdict: binomial agreement
per input. The folder: the wire profile (`profile.py`), corpus inputs (`inputs.py`), the exchange with streamed
hashing (`exchange.py`), the comparison (`compare.py`), the demo store and its seeded objects (`store.py`), the
demo gateway's routes (`gateway.py`), drift roles (`drift.py`) and report sections (`report.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from farm.probes import register
from farm.probes.base import Column, Compared, DemoOption, GatewayInputs, MalformedBody, Probe, Profile, SideResult
from farm.probes.storage.inputs import item as _item
from farm.probes.storage.profile import PRESETS, StorageProfile
from farm.stats.params import VerdictParams

if TYPE_CHECKING:
    import httpx
    from numpy.typing import NDArray
    from starlette.routing import BaseRoute

    from farm.gateway.client import RetryPolicy, Target
    from farm.stats.noise import NoiseSamples
    from farm.stats.verdict import Verdict
    from farm.wiredrift.roles import DriftRoles

_LIST_PREFIXES = ["", "logs/", "logs/2024/", "données/", "日本/", "a/b/", "with space/", "emoji 🎉/", "UPPER/",
                  "nothing-here/"]
_PAGE_SIZES = [1, 7, 50, 1000]


def _storage(profile: Profile) -> StorageProfile:
    if not isinstance(profile, StorageProfile):
        raise TypeError(f"profile {profile.name} is a {profile.probe} profile, not a storage one")
    return profile


class StorageProbe(Probe):
    name = "storage"
    demo_samples, demo_p_max = 300, 0.01  # several requests per object: 300 is tens of seconds
    demo_shows = "one S3 store behind two listing and ETag styles: the same bytes"
    title = "Object storage parity"
    quantity = "object equality"
    family = "binomial"
    profile_type = StorageProfile
    presets = PRESETS
    default_profiles = ("lakehouse-legacy", "lakehouse-candidate")
    default_tau, default_floor = 1.0, 0.0
    columns = (Column("op", "text"), Column("diff_class", "text"), Column("header_drift", "text"),
               Column("size", "int"), Column("pages_legacy", "int"), Column("pages_candidate", "int"))
    sweep_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--bucket", "Bucket the inputs' keys and listings are in.", "farm-demo", str),
        DemoOption("--list-prefix", "Inputs from a prefix instead of a corpus: the listing under it, every key the "
                   "legacy gateway lists there (all pages; --samples caps them) and one missing key.", None, str),
        DemoOption("--strict-headers", "Count header and listing drift (ETag quoting, Content-Type, "
                   "Last-Modified, metadata, order, page size) as disagreements.", False, bool),
        DemoOption("--allow-writes", "Add a PUT / GET / DELETE round trip per object under --scratch-prefix.",
                   False, bool),
        DemoOption("--scratch-prefix", "Where --allow-writes writes (cleaned up, also by a resumed sweep).",
                   "farm-scratch/", str),
    )
    demo_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--s3-endpoint", "The S3 API server the gateway fronts (moto's, MinIO...); both gateways of a "
                   "pair front the same one.", None, str),
        DemoOption("--etag-style", "ETags `quoted` (as S3 sends them) or `bare`.", "quoted", str),
        DemoOption("--default-content-type", "Content-Type served for objects stored without one (the store "
                   "says binary/octet-stream).", None, str),
        DemoOption("--page-size", "Largest listing page the gateway returns.", 1000, click.IntRange(min=1)),
        DemoOption("--list-order", "Listing order within a page: lexicographic (S3's) or reverse.", "lexicographic",
                   str),
        DemoOption("--seed-store", "Seed the demo objects (bucket farm-demo, 200 objects) into --s3-endpoint at "
                   "start; seeding again is harmless.", False, bool),
    )

    # --- corpus ------------------------------------------------------------------------------------
    def item_from_text(self, line: str) -> Any:
        return _item(line.strip())

    def item_from_json(self, value: Any) -> Any:
        return _item(value, from_json=True)

    def gateway_inputs(self, options: Mapping[str, Any]) -> GatewayInputs | None:
        prefix = options.get("list_prefix")
        if prefix is None:
            return None
        bucket = str(options.get("bucket") or "farm-demo")

        def read(target: Target, policy: RetryPolicy) -> Iterator[Any]:
            from farm.probes.storage.listing import listed_inputs

            return listed_inputs(target, policy, bucket, str(prefix))

        return GatewayInputs(f"listing({bucket}/{prefix})", read)

    def synthetic(self, seed: int, idx: int) -> Any:
        """The demo store's seeded keys, with a listing every 16 inputs and a missing key every 16."""
        import random

        from farm.probes.storage.store import SEEDED, seeded_key

        rng = random.Random(f"farm-storage-corpus:{seed}:{idx}")
        if idx % 16 == 5:
            return {"op": "list", "prefix": rng.choice(_LIST_PREFIXES), "page_size": rng.choice(_PAGE_SIZES)}
        if idx % 16 == 11:
            return {"op": "missing", "key": f"missing/{seed}/{idx}-{rng.random():.6f}"}
        return {"op": "object", "key": seeded_key(rng.randrange(SEEDED))}

    def items_from_request(self, profile: Profile, body: dict[str, Any]) -> list[Any]:
        keys = body.get("keys")
        if not isinstance(keys, list):
            raise MalformedBody("a captured storage request is {keys: [...]} (object keys)")
        return [_item(k) for k in keys]

    # --- wire --------------------------------------------------------------------------------------
    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        return {"items": list(items)}

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        raise MalformedBody("the storage probe reads its answers in its own exchange")

    async def exchange(self, client: httpx.AsyncClient, target: Target, items: Sequence[Any], model: str | None,
                       policy: RetryPolicy, worker: str | None, options: Mapping[str, Any]) -> SideResult | None:
        from farm.probes.storage.exchange import exchange

        return await exchange(client, target, items, policy, worker, options)

    # --- comparison --------------------------------------------------------------------------------
    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        from farm.probes.storage.compare import compare_item, mark_unserved

        strict = bool(options.get("strict_headers"))
        cols: dict[str, list[Any]] = {c.name: [None] * n for c in self.columns}
        score: list[float | None] = [None] * n
        agreed: list[bool | None] = [None] * n
        lv, cv = legacy.value or [{}] * n, candidate.value or [{}] * n
        cols["op"] = [lv[i].get("op") or cv[i].get("op") for i in range(n)]
        legacy_errors = mark_unserved(cols["op"], list(legacy.errors))
        for i in range(n):
            a, b = lv[i], cv[i]
            if legacy_errors[i] is not None or candidate.errors[i] is not None:
                continue
            out = compare_item(a, b, strict)
            score[i], agreed[i] = float(out.agreed), out.agreed
            cols["diff_class"][i] = out.diff_class
            cols["header_drift"][i] = ",".join(out.drift) or None
            if a.get("op") == "object":
                cols["size"][i] = a["get"]["size"] if a["get"]["status"] < 300 else None
            if a.get("op") == "list":
                cols["pages_legacy"][i], cols["pages_candidate"][i] = len(a["pages"]), len(b["pages"])
        return Compared(score, agreed, legacy_errors, list(candidate.errors), cols)

    def decide(self, arrays: dict[str, NDArray[Any]], errors: dict[str, list[str | None]], params: VerdictParams,
               *, planned: int | None, noise: NoiseSamples | None, sequential: bool,
               options: Mapping[str, Any] | None = None) -> Verdict:
        from farm.probes.storage.compare import objects_unserved

        verdict = super().decide(arrays, errors, params, planned=planned, noise=noise, sequential=sequential,
                                 options=options)
        ops, legacy_errors = errors.get("op") or [], errors["legacy_error"]
        objects, top = objects_unserved(ops, legacy_errors) if len(ops) == len(legacy_errors) else (0, None)
        if verdict.outcome == "FAIL" or not objects:
            return verdict
        # Batches without an object input escape mark_unserved (small batches): still no PASS on listings alone
        # (and this says why better than the shared rule on legacy errors would).
        reason = (f"INCONCLUSIVE: legacy served none of the {objects:,} object inputs ({top}): the listings and "
                  "missing keys that agreed say nothing about the store; check --bucket and that the store is seeded")
        return dataclasses.replace(verdict, outcome="INCONCLUSIVE", reason=reason)

    # --- demo --------------------------------------------------------------------------------------
    def demo_routes(self, profile: Profile, knobs: dict[str, Any]) -> list[BaseRoute] | None:
        from farm.probes.storage.gateway import routes

        try:
            return routes(_storage(profile), knobs)
        except ValueError as exc:
            raise MalformedBody(str(exc)) from None

    def demo_pair(self) -> contextlib.AbstractContextManager[tuple[list[str], list[str]]]:
        return _demo_store()

    # --- report and drift --------------------------------------------------------------------------
    def report_sections(self, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[
            list[str], list[Path]]:
        from farm.probes.storage.report import sections

        return sections(self, url, sweep, verdict, out_dir, stem)

    def parity_cell(self, verdict: Any, params: dict[str, Any]) -> str:
        return f"✅ PASS {verdict.n - verdict.disagreements:,}/{verdict.n:,} objects and listings"

    def drift_roles(self) -> DriftRoles:
        from farm.probes.storage.drift import StorageRoles

        return StorageRoles()


@contextlib.contextmanager
def _demo_store() -> Iterator[tuple[list[str], list[str]]]:
    """A moto S3 server seeded with the demo objects; the candidate drifts the way real gateways do (bare ETags,
    100-key listing pages), which the catalog shows and the verdict does not count."""
    from farm.probes.storage.store import moto_server, seed

    with moto_server() as endpoint:
        seed(endpoint)
        yield (["--s3-endpoint", endpoint], ["--s3-endpoint", endpoint, "--etag-style", "bare", "--page-size", "100"])


PROBE = register(StorageProbe())

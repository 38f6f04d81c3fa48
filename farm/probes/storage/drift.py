"""Storage field roles for the drift catalog: ETag quoting, Content-Type, listing page size and order, the error
body's shape, the listing's query parameter; renamed listing fields and the adapter map come from the shared
structural diff of the listing pages and headers each batch's first answers carry."""

from __future__ import annotations

from typing import Any

from farm.probes.base import Profile
from farm.probes.storage.profile import StorageProfile
from farm.wiredrift.roles import DriftRoles, url_row
from farm.wiredrift.rows import DriftRow


def _bump(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def _storage(profile: Profile) -> StorageProfile:
    assert isinstance(profile, StorageProfile)
    return profile


class StorageRoles(DriftRoles):
    fact_keys = ("etag", "ctype", "page_max", "order", "error")

    def observe_facts(self, facts: dict[str, Any], profile: Profile, request: Any, flat: dict[str, Any]) -> str | None:
        facts["docs"] += 1
        tag = flat.get("headers.etag")
        if isinstance(tag, str):
            _bump(facts["etag"], "quoted" if tag.startswith('"') else "bare")
        ctype = flat.get("headers.content-type")
        if isinstance(ctype, str):
            _bump(facts["ctype"], ctype)
        pages = flat.get("list_pages")
        if isinstance(pages, list) and pages:
            _bump(facts["page_max"], str(max(pages)))
        if isinstance(flat.get("list_sorted"), bool):
            _bump(facts["order"], "lexicographic" if flat["list_sorted"] else "other")
        shape = sorted(k.removeprefix("error.") for k in flat if k.startswith("error."))
        if shape:
            _bump(facts["error"], ", ".join(shape))
        return None

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        lp, cp = _storage(legacy), _storage(candidate)
        lf, cf = state["facts"]["legacy"], state["facts"]["candidate"]

        def top(counts: dict[str, int]) -> str:
            return ", ".join(f"`{k}` ({n})" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])[:4]) or "—"

        def page(counts: dict[str, int]) -> str:
            return f"at most {max(int(k) for k in counts):,} keys" if counts else "—"

        return [
            url_row(legacy, candidate),
            DriftRow("etag", "Header: ETag quoting", top(lf["etag"]), top(cf["etag"]),
                     set(lf["etag"]) == set(cf["etag"]),
                     {"legacy_styles": dict(lf["etag"]), "candidate_styles": dict(cf["etag"])}),
            DriftRow("content_type", "Header: Content-Type", top(lf["ctype"]), top(cf["ctype"]),
                     lf["ctype"] == cf["ctype"],
                     {"legacy_types": dict(lf["ctype"]), "candidate_types": dict(cf["ctype"])}),
            DriftRow("page_size", "Listing: page size", page(lf["page_max"]), page(cf["page_max"]),
                     set(lf["page_max"]) == set(cf["page_max"]),
                     {"legacy_page_max": dict(lf["page_max"]), "candidate_page_max": dict(cf["page_max"])}),
            DriftRow("list_order", "Listing: order", top(lf["order"]), top(cf["order"]),
                     set(lf["order"]) == set(cf["order"]), {"legacy_order": dict(lf["order"]),
                                                             "candidate_order": dict(cf["order"])}),
            DriftRow("list_params", "Listing: query parameters", f"`prefix`, `{lp.limit_param}`, `{lp.token_param}`",
                     f"`prefix`, `{cp.limit_param}`, `{cp.token_param}`",
                     (lp.limit_param, lp.token_param) == (cp.limit_param, cp.token_param),
                     {"legacy_limit": lp.limit_param, "candidate_limit": cp.limit_param}),
            DriftRow("error_shape", "Error body", top(lf["error"]), top(cf["error"]),
                     set(lf["error"]) == set(cf["error"]),
                     {"legacy_error": dict(lf["error"]), "candidate_error": dict(cf["error"])}),
        ]

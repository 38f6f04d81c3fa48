"""Storage inputs from a prefix (`--list-prefix P`): the keys the legacy gateway lists under P, page by page as
the sweep consumes them (never the whole listing in memory), after the listing itself and before one key that
should be missing. Read by the process that specifies the sweep (embedded, or the distributed producer), with
the token from its own environment; a resumed sweep lists again."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx

from farm.errors import UsageError
from farm.gateway.client import RetryPolicy, Target, request_headers
from farm.probes.base import MalformedBody
from farm.probes.storage.exchange import MAX_PAGES
from farm.probes.storage.profile import StorageProfile

PAGE = 1000


def listed_inputs(target: Target, policy: RetryPolicy, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    p = target.profile
    assert isinstance(p, StorageProfile)
    yield {"op": "list", "prefix": prefix, "page_size": PAGE}  # the listing is compared too
    url = p.list_url(target.url, bucket)
    where = f"--list-prefix {prefix!r}: listing {bucket!r} through {target.name} ({url})"
    headers = {k: v for k, v in request_headers(target, None).items() if k != "content-type"}
    token: str | None = None
    with httpx.Client(timeout=policy.timeout) as client:
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"prefix": prefix, p.limit_param: PAGE}
            if token:
                params[p.token_param] = token
            doc = _page(client, url, params, headers, policy, where)
            try:
                entries, token = p.parse_page(doc)
            except MalformedBody as exc:
                raise UsageError(f"{where}: {exc}") from None
            for entry in entries:
                yield {"op": "object", "key": entry["key"]}
            if not token:
                break
    tag = hashlib.sha256(f"{bucket}/{prefix}".encode()).hexdigest()[:12]
    yield {"op": "missing", "key": f"{prefix}farm-missing-{tag}"}  # the error shape is compared too


def _page(client: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str], policy: RetryPolicy,
          where: str) -> Any:
    """One listing page's document, retried like a sweep's request on 5xx, 429 and transport errors."""
    problem = "no answer"
    for attempt in range(policy.attempts):
        try:
            resp = client.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if resp.status_code < 400:
                try:
                    return resp.json()
                except ValueError:
                    raise UsageError(f"{where}: the answer is not JSON") from None
            problem = f"HTTP {resp.status_code}"
            if resp.status_code < 500 and resp.status_code != 429:
                break
        if attempt + 1 < policy.attempts:
            time.sleep(policy.delay(attempt))
    raise UsageError(f"{where}: {problem}")

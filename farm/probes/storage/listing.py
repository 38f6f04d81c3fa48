"""Storage inputs from a prefix (`--list-prefix P`): the keys the legacy gateway lists under P, page by page as
the sweep consumes them (never the whole listing in memory), after the listing itself and before one key that
should be missing. Read by the process that specifies the sweep (embedded, or the distributed producer), with
the token from its own environment; a resumed sweep lists again. Each page goes through the send path (its
retries, deadline, size cap and body classes) on an event loop in a thread of its own (anyio's blocking portal),
since the sweep pulls its inputs synchronously.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from anyio.from_thread import start_blocking_portal

from farm.errors import UsageError
from farm.gateway.client import make_client
from farm.gateway.errors import describe
from farm.gateway.send import send
from farm.probes.storage.exchange import MAX_PAGES
from farm.probes.storage.profile import StorageProfile
from farm.wire import MalformedBody, Request, Response, RetryPolicy, Target

PAGE = 1000


def listed_inputs(target: Target, policy: RetryPolicy, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    p = target.profile
    assert isinstance(p, StorageProfile)
    yield {"op": "list", "prefix": prefix, "page_size": PAGE}  # the listing is compared too
    url = p.list_url(target.url, bucket)
    where = f"--list-prefix {prefix!r}: listing {bucket!r} through {target.name} ({url})"
    token: str | None = None
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(make_client(1, policy.timeout)) as client:
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"prefix": prefix, p.limit_param: PAGE}
            if token:
                params[p.token_param] = token
            page = portal.call(send, client, target, Request("GET", url, params=params, accepts=("json",),
                                                             decode=True), policy)
            try:
                entries, token = p.parse_page(_document(page, where))
            except MalformedBody as exc:
                raise UsageError(f"{where}: {exc}") from None
            for entry in entries:
                yield {"op": "object", "key": entry["key"]}
            if not token:
                break
    tag = hashlib.sha256(f"{bucket}/{prefix}".encode()).hexdigest()[:12]
    yield {"op": "missing", "key": f"{prefix}farm-missing-{tag}"}  # the error shape is compared too


def _document(page: Response, where: str) -> Any:
    """A listing page's document, or one line saying why there is none."""
    status = f" (HTTP {page.status})" if page.status is not None else ""
    if page.error is not None:
        raise UsageError(f"{where}: {describe(page.error)}{status} after {page.attempts} attempt(s)")
    if page.status is None or page.status >= 400:
        raise UsageError(f"{where}: HTTP {page.status}")
    return page.doc

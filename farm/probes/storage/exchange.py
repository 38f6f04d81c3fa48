"""The storage probe's exchange: for each input, the requests it takes, streamed and hashed.

- an object: HEAD, GET (body hashed as it streams: a 64 MiB object never sits in memory), ranged GETs
  (a head, a suffix, a window from a hash of the key, one past the end: 206 / 416 parity; one object in four);
  with `--allow-writes` a PUT / GET / DELETE / GET round trip under the scratch prefix (its key is a function of
  the gateway and the object, so a batch sent again after a crash overwrites and deletes what it left);
- a listing: pages until exhausted (bounded), keys in order, sizes, ETags;
- a missing key: the status and the error body.

A 404 / 405 whose body is not the profile's error (no code at `error_code_path`: Starlette's plain "Not Found")
means no storage endpoint at that path, a wrong path or profile: `http_status` for the sample, whatever its op.
A 404 in the profile's shape for an object or a listing (a key or bucket the input says exists) is `not_found`,
not an answer to compare; for a missing key it is the expected answer, unless it says the bucket is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from farm.gateway.client import PER_BATCH_REQUESTS, worker_header
from farm.gateway.errors import CONNECTION, HTTP_STATUS, MALFORMED, NOT_FOUND
from farm.gateway.send import send
from farm.probes.base import digest
from farm.probes.storage.profile import StorageProfile
from farm.wire import BodySink, MalformedBody, Request, RetryPolicy, SideResult, Target

MAX_PAGES = 10_000
KEPT_HEADERS = ("etag", "content-type", "last-modified", "content-length", "content-range", "accept-ranges")


class SampleFailed(Exception):
    """No answer to compare for this input on this side: `error` is the sample's error class."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class TransportFailure(SampleFailed):
    pass


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    sha256: str | None = None
    size: int = 0
    doc: Any = None
    latency_ms: float = 0.0
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def ranges_for(key: str) -> list[str]:
    """The ranged reads of one object: the same for both sides (a function of the key, not of a size); one object
    in four is read in ranges (each range is a request through both gateways to the store)."""
    h = int(hashlib.md5(key.encode()).hexdigest()[:6], 16)
    if h % 4:
        return []
    start = (h >> 2) % 70_000
    return ["bytes=0-1023", "bytes=-512", f"bytes={start}-{start + 4095}", "bytes=900000000-"]


def scratch_body(key: str) -> bytes:
    return hashlib.sha512(key.encode()).digest() * 16  # 1 KiB, a function of the key


def _json_or_hash(params: dict[str, Any] | None) -> Callable[[int, Mapping[str, str]], BodySink | None]:
    """Which answers are read as documents (a listing page, an error body; small) and which hashed as they stream."""
    def sink(status: int, headers: Mapping[str, str]) -> BodySink | None:
        json_body = headers.get("content-type", "").startswith("application/json") and \
            (status >= 400 or params is not None)
        return None if json_body else hashlib.sha256()

    return sink


async def fetch(client: httpx.AsyncClient, target: Target, method: str, url: str, headers: dict[str, str],
                policy: RetryPolicy, content: bytes | None = None, params: dict[str, Any] | None = None) -> Fetched:
    """One request through the send path (retries, deadline, size cap, body classes); the body hashed as it streams
    (JSON and error bodies, small, are parsed instead). A listing page must be JSON."""
    resp = await send(client, target, Request(method, url, headers, content=content, params=params,
                                              accepts=("json",) if params is not None else None, decode=True,
                                              sink=_json_or_hash(params)), policy)
    if resp.error is not None or resp.status is None:
        raise TransportFailure(resp.error or CONNECTION)
    kept = {h: resp.headers[h] for h in KEPT_HEADERS if h in resp.headers}
    kept.update({h: v for h, v in resp.headers.items() if h.startswith("x-meta-")})
    out = Fetched(resp.status, kept, size=resp.size, latency_ms=resp.latency_ms, attempts=resp.attempts)
    if resp.sink is not None:
        out.sha256 = cast("hashlib._Hash", resp.sink).hexdigest()
    elif resp.doc is not None:
        out.doc = resp.doc
    elif resp.content:
        out.doc = resp.content[:200].decode(errors="replace")  # an error body that is no document: its words
    return out


def check_found(p: StorageProfile, f: Fetched, *, expect_missing: bool = False) -> None:
    """Raise the sample's error class for a 404 / 405 that is no answer (see the module's docstring)."""
    if f.status not in (404, 405):
        return
    code = p.error_code(f.doc) if f.status == 404 else None
    if code is None:
        raise SampleFailed(HTTP_STATUS)
    if not expect_missing or code == p.bucket_missing_code:
        raise SampleFailed(NOT_FOUND)


def _summary(f: Fetched) -> dict[str, Any]:
    return {"status": f.status, "sha256": f.sha256, "size": f.size, "headers": f.headers}


async def _object(client: httpx.AsyncClient, target: Target, p: StorageProfile, bucket: str, item: dict[str, Any],
                  headers: dict[str, str], policy: RetryPolicy, options: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                                                     list[float]]:
    key = str(item["key"])
    url = p.object_url(target.url, bucket, key)
    head = await fetch(client, target, "HEAD", url, headers, policy)
    got = await fetch(client, target, "GET", url, headers, policy)
    check_found(p, got)
    out: dict[str, Any] = {"op": "object", "key": key, "head": _summary(head), "get": _summary(got)}
    lat = [head.latency_ms, got.latency_ms]
    out["ranges"] = []
    for rng in item.get("ranges") or ranges_for(key):  # the input's own ranges, else the derived ones
        r = await fetch(client, target, "GET", url, {**headers, "range": rng}, policy)
        out["ranges"].append({"range": rng, "status": r.status, "sha256": r.sha256 if r.status < 300 else None,
                              "size": r.size if r.status < 300 else None})
        lat.append(r.latency_ms)
    if options.get("allow_writes"):
        scratch = f"{options.get('scratch_prefix') or 'farm-scratch/'}{target.name}/{digest(key)}"
        surl = p.object_url(target.url, bucket, scratch)
        body = scratch_body(key)
        put = await fetch(client, target, "PUT", surl, {**headers, "content-type": "application/octet-stream"}, policy,
                          content=body)
        back = await fetch(client, target, "GET", surl, headers, policy)
        gone = await fetch(client, target, "DELETE", surl, headers, policy)
        after = await fetch(client, target, "GET", surl, headers, policy)
        out["write"] = {"put": put.status, "get": back.status, "same": back.sha256 == hashlib.sha256(body).hexdigest(),
                        "delete": gone.status, "after": after.status}
        lat += [put.latency_ms, back.latency_ms, gone.latency_ms, after.latency_ms]
    return out, lat


async def _listing(client: httpx.AsyncClient, target: Target, p: StorageProfile, bucket: str, item: dict[str, Any],
                   headers: dict[str, str], policy: RetryPolicy) -> tuple[dict[str, Any], list[float], Any]:
    url = p.list_url(target.url, bucket)
    entries: list[dict[str, Any]] = []
    pages: list[int] = []
    token: str | None = None
    first_doc = None
    lat: list[float] = []
    status = 200
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"prefix": item.get("prefix") or "", p.limit_param: int(item.get("page_size") or 1000)}
        if token:
            params[p.token_param] = token
        page = await fetch(client, target, "GET", url, headers, policy, params=params)
        lat.append(page.latency_ms)
        status = page.status
        check_found(p, page)
        if page.status >= 400:
            break
        first_doc = first_doc if first_doc is not None else page.doc
        batch, token = p.parse_page(page.doc)
        entries.extend(batch)
        pages.append(len(batch))
        if not token:
            break
    out = {"op": "list", "prefix": item.get("prefix") or "", "page_size": item.get("page_size"), "status": status,
           "keys": [e["key"] for e in entries], "sizes": [e["size"] for e in entries],
           "etags": [e["etag"] for e in entries], "pages": pages, "exhausted": token is None}
    return out, lat, first_doc


async def _item(client: httpx.AsyncClient, target: Target, p: StorageProfile, bucket: str, item: dict[str, Any],
                headers: dict[str, str], policy: RetryPolicy, options: Mapping[str, Any]) -> tuple[
                    dict[str, Any], str | None, list[float], Any]:
    """(value, error class, latencies, the listing's first page or the error body) of one input."""
    try:
        if item["op"] == "list":
            value, lat, page = await _listing(client, target, p, bucket, item, headers, policy)
            return value, None, lat, page
        if item["op"] == "missing":
            got = await fetch(client, target, "GET", p.object_url(target.url, bucket, item["key"]), headers, policy)
            check_found(p, got, expect_missing=True)
            return {"op": "missing", "key": item["key"], "status": got.status, "error": got.doc}, None, \
                [got.latency_ms], got.doc
        value, lat = await _object(client, target, p, bucket, item, headers, policy, options)
        return value, None, lat, None
    except SampleFailed as exc:
        return {"op": item.get("op"), "failed": exc.error}, exc.error, [], None
    except MalformedBody:
        return {"op": item.get("op"), "failed": MALFORMED}, MALFORMED, [], None


async def exchange(client: httpx.AsyncClient, target: Target, items: Sequence[Any], policy: RetryPolicy,
                   worker: str | None, options: Mapping[str, Any]) -> SideResult:
    """A batch's inputs, PER_BATCH_REQUESTS at a time, each input's requests in turn."""
    p = target.profile
    assert isinstance(p, StorageProfile)
    headers = worker_header(worker)
    bucket = str(options.get("bucket") or "farm-demo")
    gate = asyncio.Semaphore(PER_BATCH_REQUESTS)

    async def one(item: dict[str, Any]) -> tuple[dict[str, Any], str | None, list[float], Any]:
        async with gate:
            return await _item(client, target, p, bucket, item, headers, policy, options)

    answers = await asyncio.gather(*(one(item) for item in items))
    doc: dict[str, Any] = {}
    request: dict[str, Any] = {}
    for value, error, _, page in answers:  # what the drift catalog reads: the first of each kind, in input order
        if error is not None:
            continue
        if value["op"] == "list" and "list" not in doc and page is not None:
            doc["list"] = page
            doc["list_pages"] = value["pages"]
            doc["list_sorted"] = value["keys"] == sorted(value["keys"])
            request["list_query"] = {"prefix": value["prefix"], p.limit_param: value["page_size"]}
        elif value["op"] == "missing" and "error" not in doc and isinstance(page, dict):
            doc["error"] = page
        elif value["op"] == "object" and "headers" not in doc:
            doc["headers"] = value["get"]["headers"]
    errors = [a[1] for a in answers]
    latencies = [ms for a in answers for ms in a[2]]
    return SideResult([a[0] for a in answers], errors, 200 if all(e is None for e in errors) else None,
                      statistics.fmean(latencies) if latencies else 0.0, 1, request, doc or None)

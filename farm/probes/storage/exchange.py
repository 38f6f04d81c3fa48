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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from farm.gateway.client import RetryPolicy, Target, request_headers
from farm.gateway.errors import CONNECTION, HTTP_STATUS, MALFORMED, NOT_FOUND, TIMEOUT
from farm.probes.base import MalformedBody, SideResult, digest
from farm.probes.storage.profile import StorageProfile

MAX_PAGES = 10_000
KEPT_HEADERS = ("etag", "content-type", "last-modified", "content-length", "content-range", "accept-ranges")
ERROR_BODY_MAX = 64 * 1024


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


async def fetch(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], policy: RetryPolicy,
                content: bytes | None = None, params: dict[str, Any] | None = None) -> Fetched:
    """One request, retried on 5xx, 429, timeouts and connection errors; the body hashed as it streams (JSON and
    error bodies, small, are parsed instead)."""
    error = CONNECTION
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        try:
            async with client.stream(method, url, headers=headers, content=content, params=params,
                                     timeout=policy.timeout) as resp:
                status = resp.status_code
                if status >= 500 or status == 429:
                    error = HTTP_STATUS
                else:
                    kept = {h: resp.headers[h] for h in KEPT_HEADERS if h in resp.headers}
                    kept.update({h: v for h, v in resp.headers.items() if h.startswith("x-meta-")})
                    out = Fetched(status, kept, attempts=attempt + 1)
                    json_body = resp.headers.get("content-type", "").startswith("application/json") and \
                        (status >= 400 or params is not None)
                    if json_body:
                        raw = b""
                        async for chunk in resp.aiter_raw():
                            raw += chunk
                            if len(raw) > ERROR_BODY_MAX * 64:
                                break
                        try:
                            out.doc = orjson.loads(raw) if raw else None
                        except orjson.JSONDecodeError:
                            out.doc = raw[:200].decode(errors="replace")
                        out.size = len(raw)
                    else:
                        h = hashlib.sha256()
                        async for chunk in resp.aiter_raw():
                            h.update(chunk)
                            out.size += len(chunk)
                        out.sha256 = h.hexdigest()
                    out.latency_ms = (time.perf_counter() - start) * 1000.0
                    return out
        except httpx.TimeoutException:
            error = TIMEOUT
        except httpx.TransportError:
            error = CONNECTION
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    raise TransportFailure(error)


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
    head = await fetch(client, "HEAD", url, headers, policy)
    got = await fetch(client, "GET", url, headers, policy)
    check_found(p, got)
    out: dict[str, Any] = {"op": "object", "key": key, "head": _summary(head), "get": _summary(got)}
    lat = [head.latency_ms, got.latency_ms]
    out["ranges"] = []
    for rng in item.get("ranges") or ranges_for(key):  # the input's own ranges, else the derived ones
        r = await fetch(client, "GET", url, {**headers, "range": rng}, policy)
        out["ranges"].append({"range": rng, "status": r.status, "sha256": r.sha256 if r.status < 300 else None,
                              "size": r.size if r.status < 300 else None})
        lat.append(r.latency_ms)
    if options.get("allow_writes"):
        scratch = f"{options.get('scratch_prefix') or 'farm-scratch/'}{target.name}/{digest(key)}"
        surl = p.object_url(target.url, bucket, scratch)
        body = scratch_body(key)
        put = await fetch(client, "PUT", surl, {**headers, "content-type": "application/octet-stream"}, policy,
                          content=body)
        back = await fetch(client, "GET", surl, headers, policy)
        gone = await fetch(client, "DELETE", surl, headers, policy)
        after = await fetch(client, "GET", surl, headers, policy)
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
        page = await fetch(client, "GET", url, headers, policy, params=params)
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


async def exchange(client: httpx.AsyncClient, target: Target, items: Sequence[Any], policy: RetryPolicy,
                   worker: str | None, options: Mapping[str, Any]) -> SideResult:
    p = target.profile
    assert isinstance(p, StorageProfile)
    headers = {k: v for k, v in request_headers(target, worker).items() if k != "content-type"}
    bucket = str(options.get("bucket") or "farm-demo")
    values: list[Any] = []
    errors: list[str | None] = []
    latencies: list[float] = []
    attempts = 1
    doc: dict[str, Any] = {}
    request: dict[str, Any] = {}
    for item in items:
        try:
            if item["op"] == "list":
                value, lat, page = await _listing(client, target, p, bucket, item, headers, policy)
                if "list" not in doc and page is not None:
                    doc["list"] = page
                    doc["list_pages"] = value["pages"]
                    doc["list_sorted"] = value["keys"] == sorted(value["keys"])
                    request["list_query"] = {"prefix": value["prefix"], p.limit_param: value["page_size"]}
            elif item["op"] == "missing":
                got = await fetch(client, "GET", p.object_url(target.url, bucket, item["key"]), headers, policy)
                check_found(p, got, expect_missing=True)
                value, lat = {"op": "missing", "key": item["key"], "status": got.status, "error": got.doc}, \
                    [got.latency_ms]
                if "error" not in doc and isinstance(got.doc, dict):
                    doc["error"] = got.doc
            else:
                value, lat = await _object(client, target, p, bucket, item, headers, policy, options)
                if "headers" not in doc:
                    doc["headers"] = value["get"]["headers"]
            values.append(value)
            errors.append(None)
            latencies.extend(lat)
        except SampleFailed as exc:
            values.append({"op": item.get("op"), "failed": exc.error})
            errors.append(exc.error)
        except MalformedBody:
            values.append({"op": item.get("op"), "failed": MALFORMED})
            errors.append(MALFORMED)
    return SideResult(values, errors, 200 if all(e is None for e in errors) else None,
                      statistics.fmean(latencies) if latencies else 0.0, attempts, request, doc or None)

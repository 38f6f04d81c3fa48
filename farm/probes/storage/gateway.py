"""The storage demo gateway: Starlette routes in front of a real S3 API server, in one wire profile's shape.

Object bodies stream from the store to the client in chunks (never held whole). Knobs for the drift real
gateways show: ETag quoting, Content-Type defaulting, listing page size and order, and `--drift-rate` (a
fraction of objects served with one byte changed, chosen by a hash of the key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC
from email.utils import format_datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from farm.probes.storage.profile import StorageProfile
from farm.probes.storage.store import BUCKET, SEEDED, s3_client, seed

CHUNK = 256 * 1024
MAX_PAGE = 1000


def _drifts(key: str, rate: float) -> bool:
    return rate > 0 and int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32 < rate


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status, media_type="application/json")


def seed_or_say(endpoint: str) -> None:
    """`--seed-store`: the demo objects into the store before serving (idempotent), or one line why not."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    try:
        seed(endpoint)
    except (BotoCoreError, ClientError) as exc:
        raise ValueError(f"--seed-store: cannot seed {SEEDED} objects into bucket {BUCKET!r} at {endpoint}: "
                         f"{exc}") from None


def routes(profile: StorageProfile, knobs: dict[str, Any]) -> list[BaseRoute]:
    endpoint = knobs.get("s3_endpoint")
    if not endpoint:
        raise ValueError("the storage demo gateway needs --s3-endpoint URL (an S3 API server; `farm demo` starts "
                         "one)")
    if knobs.get("seed_store"):
        seed_or_say(str(endpoint))
    s3 = s3_client(str(endpoint))
    quoted = str(knobs.get("etag_style") or "quoted") == "quoted"
    default_type = knobs.get("default_content_type")
    page_cap = int(knobs.get("page_size") or MAX_PAGE)
    reverse = str(knobs.get("list_order") or "lexicographic") == "reverse"
    drift = float(knobs.get("drift_rate") or 0.0)
    errors = s3.exceptions

    def etag(raw: str) -> str:
        bare = raw.strip('"')
        return f'"{bare}"' if quoted else bare

    def error(code: str, message: str, status: int) -> Response:
        return _json(profile.error_body(code, message), status)

    def headers_of(meta: dict[str, Any]) -> dict[str, str]:
        ctype = meta.get("ContentType") or "binary/octet-stream"
        if default_type and ctype == "binary/octet-stream":  # the store's default for objects stored without one
            ctype = str(default_type)
        out = {"etag": etag(meta["ETag"]), "content-type": ctype, "accept-ranges": "bytes",
               "last-modified": format_datetime(meta["LastModified"].astimezone(UTC), usegmt=True)}
        out.update({f"x-meta-{k}": v for k, v in (meta.get("Metadata") or {}).items()})
        if meta.get("ContentRange"):
            out["content-range"] = meta["ContentRange"]
        return out

    def client_error(exc: Exception) -> Response:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", "InternalError"))
        if code in ("NoSuchKey", "404", "NotFound"):
            return error("NoSuchKey", "The specified key does not exist.", 404)
        if code == "NoSuchBucket":
            return error("NoSuchBucket", "The specified bucket does not exist.", 404)
        if code == "InvalidRange":
            return error("InvalidRange", "The requested range is not satisfiable.", 416)
        return error(code, "store error", 502)

    async def obj(request: Request) -> Response:
        bucket, key = request.path_params["bucket"], request.path_params["key"]
        method = request.method
        try:
            if method == "PUT":
                body = await request.body()
                kwargs: dict[str, Any] = {"ContentType": request.headers["content-type"]} \
                    if "content-type" in request.headers else {}
                put = await run_in_threadpool(s3.put_object, Bucket=bucket, Key=key, Body=body, **kwargs)
                return Response(b"", 201, headers={"etag": etag(put["ETag"])})
            if method == "DELETE":
                await run_in_threadpool(s3.delete_object, Bucket=bucket, Key=key)
                return Response(b"", 204)
            if method == "HEAD":
                meta = await run_in_threadpool(s3.head_object, Bucket=bucket, Key=key)
                return Response(b"", 200, headers={**headers_of(meta), "content-length": str(meta["ContentLength"])})
            rng = request.headers.get("range")
            got = await run_in_threadpool(s3.get_object, Bucket=bucket, Key=key, **({"Range": rng} if rng else {}))
        except (errors.NoSuchKey, errors.NoSuchBucket, errors.ClientError) as exc:
            return client_error(exc)
        status = int(got["ResponseMetadata"]["HTTPStatusCode"])
        change = _drifts(key, drift)

        def chunks() -> Iterator[bytes]:
            first = True
            for chunk in got["Body"].iter_chunks(CHUNK):
                if first and change and chunk:
                    chunk = bytes([chunk[0] ^ 0x01]) + chunk[1:]
                first = False
                yield chunk

        head = {**headers_of(got), "content-length": str(got["ContentLength"])}
        return StreamingResponse(chunks(), status, headers=head, media_type=None)

    async def listing(request: Request) -> Response:
        bucket = request.path_params["bucket"]
        q = request.query_params
        try:
            limit = max(1, min(int(q.get(profile.limit_param) or MAX_PAGE), page_cap, MAX_PAGE))
        except ValueError:
            return error("InvalidArgument", f"{profile.limit_param} must be an integer", 400)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": q.get("prefix") or "", "MaxKeys": limit}
        if q.get(profile.token_param):
            kwargs["ContinuationToken"] = q[profile.token_param]
        try:
            page = await run_in_threadpool(s3.list_objects_v2, **kwargs)
        except (errors.NoSuchBucket, errors.ClientError) as exc:
            return client_error(exc)
        entries = [{"key": o["Key"], "size": o["Size"], "etag": etag(o["ETag"]),
                    "modified": o["LastModified"].astimezone(UTC).isoformat()} for o in page.get("Contents", [])]
        if reverse:
            entries.reverse()
        return _json(profile.build_page(entries, page.get("NextContinuationToken") if page.get("IsTruncated")
                                        else None))

    return [Route(profile.path + "/{bucket}", listing, methods=["GET"]),
            Route(profile.path + "/{bucket}/{key:path}", obj, methods=["GET", "HEAD", "PUT", "DELETE"])]

"""The demo object store: a real S3 API server (moto's, in S3 mode) in a child process, and its seeded objects.

Both demo gateways front the same store (`--s3-endpoint URL`); any S3-compatible server a user starts (MinIO,
SeaweedFS...) works the same. Seeded objects run from 0 bytes to several MiB, with many content types, user
metadata, unicode and nested keys; their bytes are a function of the key, so the corpus knows them without a
listing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from farm.errors import FarmError

BUCKET = "farm-demo"
SCRATCH = "farm-scratch/"
_TYPES = [None, "text/plain", "application/json", "image/png", "application/octet-stream", "text/csv; charset=utf-8",
          "application/x-parquet"]
_SIZES = [0, 1, 17, 100, 1023, 1024, 4096, 65_536, 100_000, 5, 262_144, 33]
_DIRS = ["", "logs/", "logs/2024/01/", "données/été/", "日本/データ/", "a/b/c/d/e/", "with space/", "emoji 🎉/",
         "UPPER/lower/", "tables/part=1/"]
SEEDED = 200


def seeded_key(i: int) -> str:
    rng = random.Random(f"farm-storage-key:{i}")
    name = rng.choice(["report", "Résumé", "ファイル", "data", "x", "part-0001", "naïve café", "#hash", "a+b=c"])
    ext = rng.choice([".txt", ".json", ".bin", ".csv", ".png", ""])
    return f"{rng.choice(_DIRS)}{name}-{i:04d}{ext}"


def seeded_size(i: int) -> int:
    """0 bytes to several MiB: mostly small, one in 23 of 1 MiB, one in 97 of 5 MiB (sizes a store sees)."""
    if i % 97 == 50:
        return 5 * 1_048_576
    if i % 23 == 14:
        return 1_048_576 + i
    return _SIZES[i % len(_SIZES)]


def object_bytes(key: str, size: int) -> bytes:
    """An object's content: seeded by its key (the same on every machine)."""
    return random.Random(f"farm-storage-bytes:{key}").randbytes(size)


def seeded_objects(n: int = SEEDED) -> Iterator[tuple[str, int, str | None, dict[str, str]]]:
    for i in range(n):
        key = seeded_key(i)
        ctype = _TYPES[i % len(_TYPES)]
        meta = {"origin": "farm", "index": str(i)} if i % 3 == 0 else {}
        yield key, seeded_size(i), ctype, meta


def s3_client(endpoint: str) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="farm",
                        aws_secret_access_key="farm", config=Config(retries={"max_attempts": 3}))


def seed(endpoint: str, bucket: str = BUCKET, n: int = SEEDED) -> int:
    """Create `bucket` and put the seeded objects (idempotent); returns how many."""
    s3 = s3_client(endpoint)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        s3.create_bucket(Bucket=bucket)

    def put(obj: tuple[str, int, str | None, dict[str, str]]) -> None:
        key, size, ctype, meta = obj
        extra: dict[str, Any] = {"Metadata": meta}
        if ctype:
            extra["ContentType"] = ctype
        s3.put_object(Bucket=bucket, Key=key, Body=object_bytes(key, size), **extra)

    with ThreadPoolExecutor(max_workers=8) as pool:  # boto3 clients are thread-safe
        return len(list(pool.map(put, seeded_objects(n))))


@contextlib.contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """A moto S3 server in a child process on loopback; yields its endpoint URL, stops it on exit."""
    from farm.gateway.process import free_port

    port = port or free_port()
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise FarmError(f"the moto S3 server exited with code {proc.returncode} on start")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url + "/", timeout=1.0)
                break
            if time.monotonic() > deadline:
                raise FarmError(f"the moto S3 server did not answer on {url} within 30s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

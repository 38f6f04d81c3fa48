"""The storage probe when there is nothing to compare: an empty store, a wrong bucket, a wrong profile, a gateway
that is no storage gateway (exit 4, one line), `--seed-store`, and corpus lines it refuses (exit 2, one line).
Real HTTP: demo gateways in front of a moto S3 server of this module's own, unseeded at first."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, free_port, spawn
from farm.probes.storage.store import BUCKET, SEEDED, moto_server, s3_client

ROOT = str(Path(__file__).resolve().parents[2])
NOT_FOUND_LINE = "failing: {n} of {n} not found (404 with the gateway's error code"


@pytest.fixture(scope="module")
def empty_store() -> Iterator[str]:
    with moto_server() as endpoint:  # not seeded: the store a user gets from `python -m moto.server`
        yield endpoint


@pytest.fixture(scope="module")
def gateways(empty_store: str) -> Iterator[dict[str, GatewayProcess]]:
    s3 = ("--s3-endpoint", empty_store)
    with spawn("lakehouse-legacy", *s3, probe="storage") as legacy, \
            spawn("lakehouse-candidate", *s3, probe="storage") as candidate, \
            spawn("lakehouse-candidate", probe="embed") as embed:
        yield {"legacy": legacy, "candidate": candidate, "embed": embed}


def run(tmp_path: Path, *args: str) -> Result:
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    return CliRunner().invoke(main_group, ["sweep", "storage", "--quiet", "--no-report", *args], env=env)


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_an_empty_store_and_a_wrong_bucket_stop_with_exit_4_never_pass(gateways: dict[str, GatewayProcess],
                                                                       empty_store: str, tmp_path: Path) -> None:
    pair = ("--legacy", gateways["legacy"].url, "--candidate", gateways["candidate"].url)
    # No bucket at all: every input, missing keys too, is a 404 NoSuchBucket on both sides.
    result = run(tmp_path, *pair, "--samples", "100", "--p-max", "0.05")
    assert result.exit_code == 4, result.output
    line = one_line(result)
    assert f"legacy {NOT_FOUND_LINE.format(n=68)}" in line and f"candidate {NOT_FOUND_LINE.format(n=68)}" in line
    # The bucket exists but is empty: listings answer (empty) and missing keys 404 NoSuchKey, yet legacy served
    # no object of any batch, so those prove nothing either.
    s3_client(empty_store).create_bucket(Bucket=BUCKET)
    result = run(tmp_path, *pair, "--samples", "100", "--p-max", "0.05")
    assert result.exit_code == 4 and f"legacy {NOT_FOUND_LINE.format(n=68)}" in one_line(result), result.output
    # One input a batch, in order: the first three batches are objects, all not found (exit 4 on those)...
    result = run(tmp_path, *pair, "--samples", "400", "--batch-size", "1", "--concurrency", "1")
    assert result.exit_code == 4 and f"legacy {NOT_FOUND_LINE.format(n=3)}" in one_line(result), result.output
    # ... and where lone listings and missing keys (which agree) come first, the verdict refuses to PASS on them.
    corpus = tmp_path / "few-objects.jsonl"
    corpus.write_text("".join(json.dumps({"req": r}) + "\n" for r in [
        {"op": "list", "prefix": "", "page_size": 7}] * 3 + [{"op": "missing", "key": "gone"}] * 40 +
        [{"op": "object", "key": "a/b.txt"}]), encoding="utf-8")
    result = run(tmp_path, *pair, "--corpus", str(corpus), "--field", "req", "--p-max", "0.1", "--batch-size", "1",
                 "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 3 and out["verdict"] == "INCONCLUSIVE", result.output
    assert out["reason"].startswith("INCONCLUSIVE: legacy served none of the 1 object inputs (not_found)"), \
        out["reason"]


def test_a_wrong_profile_or_a_gateway_of_another_probe_is_exit_4(gateways: dict[str, GatewayProcess],
                                                                tmp_path: Path) -> None:
    legacy, candidate, embed = gateways["legacy"].url, gateways["candidate"].url, gateways["embed"].url
    # Starlette's plain 404 "Not Found": no storage endpoint at the legacy profile's path on this gateway.
    result = run(tmp_path, "--legacy", legacy, "--candidate", candidate, "--candidate-profile", "lakehouse-legacy",
                 "--samples", "64")
    assert result.exit_code == 4, result.output
    assert f"candidate failing: 64 of 64 HTTP error status at {candidate}/storage" in one_line(result)
    result = run(tmp_path, "--legacy", legacy, "--candidate", embed, "--samples", "64")
    assert result.exit_code == 4, result.output
    assert f"candidate failing: 64 of 64 HTTP error status at {embed}/v1/storage" in one_line(result)


def test_seed_store_seeds_the_demo_objects_once_however_often_it_starts(tmp_path: Path) -> None:
    with moto_server() as store:  # its own store: the module's stays empty whatever order tests run in
        s3 = ("--s3-endpoint", store, "--seed-store")
        with spawn("lakehouse-legacy", *s3, probe="storage") as legacy, \
                spawn("lakehouse-candidate", *s3, probe="storage") as candidate:  # seeds again: the same objects
            keys = s3_client(store).list_objects_v2(Bucket=BUCKET, MaxKeys=1000)
            assert keys["KeyCount"] == SEEDED and not keys["IsTruncated"]
            pair = ("--legacy", legacy.url, "--candidate", candidate.url)
            result = run(tmp_path, *pair, "--samples", "64", "--p-max", "0.1", "--json")
            out = json.loads(result.stdout)
            assert result.exit_code == 0 and out["verdict"] == "PASS" and out["errors"] == 0, result.output
            # The right store under a wrong bucket is the same failure as an empty store.
            result = run(tmp_path, *pair, "--samples", "64", "--bucket", "nosuch-bucket")
            assert result.exit_code == 4 and f"legacy {NOT_FOUND_LINE.format(n=64)}" in one_line(result), \
                result.output


def test_seed_store_against_no_store_is_one_line_exit_2() -> None:
    env = {**os.environ, "PYTHONPATH": ROOT, "FARM_CONFIG": ""}
    proc = subprocess.run([sys.executable, "-m", "farm", "gateways", "serve", "--probe", "storage", "--profile",
                           "lakehouse-legacy", "--port", str(free_port()), "--s3-endpoint", "http://127.0.0.1:9",
                           "--seed-store"], env=env, capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "--seed-store: cannot seed 200 objects into bucket 'farm-demo' at http://127.0.0.1:9" in lines[0]


@pytest.mark.parametrize(("lines", "field", "message"), [
    (['{"req": "a/b.txt"}', '{"req": {"op": "object", "key": "k", "ranges": ["bytes=zz"]}}'], "req",
     r"range 'bytes=zz' is not `bytes=a-b`"),
    (['{"req": {"op": "object", "key": "k", "ranges": ["bytes=0-9", "bytes=9-3"]}}'], "req", r"'bytes=9-3'"),
    (['{"op": "object", "key": "a/b.txt"}'], "op", r"'object' is an op, not a key: put the whole input under one "
                                                   r"field"),
])
def test_corpus_lines_the_probe_refuses_name_file_and_line(gateways: dict[str, GatewayProcess], tmp_path: Path,
                                                           lines: list[str], field: str, message: str) -> None:
    corpus = tmp_path / "inputs.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(tmp_path, "--legacy", gateways["legacy"].url, "--candidate", gateways["candidate"].url,
                 "--corpus", str(corpus), "--field", field)
    assert result.exit_code == 2, result.output
    line = one_line(result)
    assert f"{corpus}:{len(lines)}: field {field!r}: " in line and re.search(message, line), line

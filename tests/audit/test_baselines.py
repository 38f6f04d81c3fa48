from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

from farm.audit import append_baseline, load_last, load_log, run_audit, write_log
from farm.audit.mirror import export_log, import_log

RUST = (b'{"timestamp":"2026-04-30T10:00:00Z","runtime":"rust","host":"lakehouse","root":"/home/profit/lakehouse",'
        b'"version":"0.9.1","metrics":{"p3_accepted":386,"p3_partial":132,"p3_rejected":57,"p3_human":480,'
        b'"p4_sft_rows":353,"p4_rag_rows":448,"p4_pref_pairs":83,"p4_total_quarantined":1325},'
        b'"checks":{"phase0":"pass"}}\n')
GO = (b'{"implementation": "go", "recorded_at": "2026-05-01T09:00:00Z", "host": "lakehouse",\t"metrics": '
      b'{"p3_accepted": 386, "p3_partial": 132, "p3_rejected": 57, "p3_human": 480, "p4_sft_rows": 353, '
      b'"p4_rag_rows": 448, "p4_pref_pairs": 83, "p4_total_quarantined": 1325, "ratio": 1.50}, "checks": {}}\n')


def two_impl_log(tmp_path: Path) -> Path:
    path = tmp_path / "audit_baselines.jsonl"
    path.write_bytes(RUST + GO + RUST.replace(b"10:00:00", b"11:00:00"))
    return path


def test_round_trip_of_two_implementations_is_byte_identical(tmp_path: Path) -> None:
    path = two_impl_log(tmp_path)
    log = load_log(path)
    assert [e.implementation for e in log.entries] == ["rust", "go", "rust"]
    assert log.entries[1].metrics["ratio"] == 1.5  # "1.50" re-serialised would differ: the bytes are kept
    out = tmp_path / "copy.jsonl"
    write_log(log, out)
    assert out.read_bytes() == path.read_bytes()
    last = load_last(path)
    assert last is not None and last.recorded_at == "2026-04-30T11:00:00Z"


def test_append_keeps_foreign_lines_and_writes_sorted_keys(tmp_path: Path, root: Path) -> None:
    path = two_impl_log(tmp_path)
    before = path.read_bytes()
    report = run_audit(str(root), log_path=path)
    entry = append_baseline(path, report.envelope())
    data = path.read_bytes()
    assert data.startswith(before) and data.endswith(b"\n") and entry.seq == 3
    line = data[len(before):]
    assert list(orjson.loads(line)) == sorted(orjson.loads(line))
    assert load_log(path).last() is not None and load_log(path).entries[-1].implementation == "farm-python"
    # the drift table saw the Rust entry as baseline: shared metrics OK, the others NEW_METRIC
    statuses = {r["metric"]: r["status"] for r in report.drift}
    assert statuses["p3_accepted"] == "OK" and statuses["p1_records"] == "NEW_METRIC"


def test_torn_final_line_is_ignored_then_cut_by_next_append(tmp_path: Path) -> None:
    path = two_impl_log(tmp_path)
    good = path.read_bytes()
    path.write_bytes(good + b'{"timestamp": "2026-05-02", "metr')
    log = load_log(path)
    assert len(log.entries) == 3 and log.torn.startswith(b'{"timestamp"')
    append_baseline(path, {"metrics": {"x": 1}, "timestamp": "t"})
    assert path.read_bytes() == good + b'{"metrics":{"x":1},"timestamp":"t"}\n'


def test_unterminated_valid_final_line_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(RUST + GO.rstrip(b"\n"))
    log = load_log(path)
    assert len(log.entries) == 2 and log.to_bytes() == path.read_bytes()
    append_baseline(path, {"metrics": {"x": 1}})
    assert path.read_bytes() == RUST + GO + b'{"metrics":{"x":1}}\n'


WRITER = """
import sys
from farm.audit.baselines import append_baseline
path = sys.argv[1]
pad = "x" * 200_000
print("ready", flush=True)
i = 0
while True:
    append_baseline(path, {"metrics": {"i": i}, "pad": pad, "timestamp": str(i)})
    i += 1
"""


def test_sigkill_during_append_leaves_a_valid_log(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(RUST)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                              cwd=Path(__file__).resolve().parents[2]) for _ in range(2)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 30
    while path.stat().st_size < 3_000_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    for p in procs:
        os.kill(p.pid, signal.SIGKILL)
    for p in procs:
        p.wait()
        assert p.stdout is not None
        p.stdout.close()
    log = load_log(path)
    # Linux may cut a write short when SIGKILL lands in it (a killable write returns what it wrote): a torn tail
    # is possible, never a corrupted entry; the next append cuts it.
    assert all(e.valid for e in log.entries) and len(log.entries) > 5
    assert log.entries[0].raw == RUST
    if log.torn:
        append_baseline(path, {"metrics": {"i": -1}, "timestamp": "after"})
        again = load_log(path)
        assert again.torn == b"" and all(e.valid for e in again.entries)
        assert len(again.entries) == len(log.entries) + 1
    assert path.read_bytes().endswith(b"\n")
    per_writer = [e.metrics["i"] for e in log.entries[1:]]
    assert len(per_writer) == len(log.entries) - 1  # every line parsed whole: no interleaving


def test_mirror_import_export_round_trip_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/farm.db"
    path = two_impl_log(tmp_path)
    assert import_log(url, path) == 3
    assert import_log(url, path) == 3  # idempotent
    assert export_log(url) == path.read_bytes()
    append_baseline(path, {"metrics": {"x": 1}, "run_id": "r1"}, database_url=url)
    assert export_log(url, str(path.resolve())) == path.read_bytes()


@pytest.mark.services
def test_mirror_round_trip_postgres(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    from farm.store.db import upgrade

    name = f"farm_audit_{uuid.uuid4().hex[:12]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        path = two_impl_log(tmp_path)
        append_baseline(path, {"metrics": {"x": 1}, "run_id": "pg-1"})
        assert import_log(url, path, "fleet/lakehouse") == 4
        assert export_log(url, "fleet/lakehouse") == path.read_bytes()
    finally:
        from farm.store.db import _ENGINES, normalise_url

        engine = _ENGINES.pop(normalise_url(url), None)
        if engine is not None:
            engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

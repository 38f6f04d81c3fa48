"""Migration 0004 carries a database made by the previous schema over without losing a sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from farm.probes import get_probe
from farm.store.db import alembic_config, get_engine, upgrade
from farm.store.sweeps import load_sample_arrays, worst_samples


def _old_database(url: str) -> None:
    """A database at revision 0003 holding one embed sweep of three samples, as the old code wrote it."""
    engine = get_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    params = json.dumps({"tau": 0.999, "p_max": 0.001, "alpha": 0.05, "floor": 0.99})
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO sweeps (id, probe, legacy, candidate, legacy_url, candidate_url, legacy_profile, "
            "candidate_profile, corpus, mode, status, params, batches_done) VALUES ('s1', 'embed', 'l', 'c', "
            "'http://l/ai/embed', 'http://c/v1/embed', 'lakehouse-legacy', 'lakehouse-candidate', 'x', "
            "'embedded', 'done', :params, 1)"), {"params": params})
        for idx, cos, err in ((0, 1.0, None), (1, 0.9995, None), (2, None, "timeout")):
            conn.execute(text(
                "INSERT INTO samples (sweep_id, idx, batch_no, text_sha, legacy_error, candidate_error, cosine, "
                "norm_legacy, norm_candidate, norm_ratio, max_abs_diff, dim_legacy, dim_candidate, "
                "latency_legacy_ms, latency_candidate_ms) VALUES ('s1', :idx, 0, :sha, NULL, :err, :cos, 1.0, "
                "21.5, 21.5, 0.001, 768, 768, 5.0, 6.0)"), {"idx": idx, "sha": f"sha{idx}", "err": err, "cos": cos})
        conn.execute(text("INSERT INTO noise_samples (sweep_id, idx, side, cosine, error) "
                          "VALUES ('s1', 0, 'legacy', 0.99999, NULL)"))


def _check(url: str) -> None:
    arrays, errors, noise = load_sample_arrays(url, "s1", get_probe("embed"))
    assert arrays["score"][:2].tolist() == [1.0, 0.9995] and errors["candidate_error"] == [None, None, "timeout"]
    assert arrays["norm_candidate"].tolist() == [21.5] * 3 and arrays["dim_legacy"].tolist() == [768] * 3
    assert noise["legacy"].tolist() == [0.99999]
    with get_engine(url).connect() as conn:
        agreed = conn.execute(text("SELECT agreed FROM samples WHERE sweep_id = 's1' ORDER BY idx")).scalars().all()
        shas = conn.execute(text("SELECT input_sha FROM samples ORDER BY idx")).scalars().all()
    assert [None if a is None else bool(a) for a in agreed] == [True, True, None]  # tau of the sweep: 0.999
    assert shas == ["sha0", "sha1", "sha2"]
    lowest, failed = worst_samples(url, "s1", get_probe("embed"))
    assert lowest[0]["score"] == 0.9995 and lowest[0]["norm_ratio"] == 21.5 and failed[0]["idx"] == 2


def test_migration_carries_sweeps_over_on_sqlite(sqlite_url: str) -> None:
    _old_database(sqlite_url)
    assert upgrade(sqlite_url) == "0004"
    _check(sqlite_url)


@pytest.mark.services
def test_migration_carries_sweeps_over_on_postgres(pg_url: str) -> None:
    _old_database(pg_url)
    assert upgrade(pg_url) == "0004"
    _check(pg_url)


def test_processes_migrating_one_fresh_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    # A sweep and `farm sweep status` started together on a new file both migrate it.
    import subprocess
    import sys
    import time

    for attempt in range(3):
        url = f"sqlite:///{tmp_path}/fresh{attempt}.db"
        go = tmp_path / f"go{attempt}"
        # Imports first (each says so with a file), then all at once when `go` appears (else the imports stagger
        # them past the race).
        code = (f"import os, sys, time\nfrom farm.store.db import upgrade\n"
                f"open(os.path.join({str(tmp_path)!r}, f'ready{attempt}-' + sys.argv[1]), 'w').close()\n"
                f"while not os.path.exists({str(go)!r}): time.sleep(0.001)\nupgrade({url!r})")
        procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], stderr=subprocess.PIPE, text=True)
                 for i in range(4)]
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob(f"ready{attempt}-*"))) < 4 and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs if p.poll() is not None]
            time.sleep(0.01)
        go.touch()
        results = [(p.returncode, err) for p in procs for _, err in [p.communicate(timeout=120)]]
        assert all(rc == 0 for rc, _ in results), [err for rc, err in results if rc]
        with get_engine(url).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1

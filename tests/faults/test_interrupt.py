"""SIGTERM while the embedded engine's database writer is retrying a lost connection: exit 130 and one line, no
traceback (it used to end in "unhandled exception during asyncio.run() shutdown ... farm.errors.Interrupted", or a
hang: the signal's exception landed in one of the event loop's own callbacks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from farm.gateway.process import GatewayProcess
from farm.store.sweeps import recent_sweeps, sample_count
from tests.faults.services import PrivatePostgres, wait_until


def _lines(stream: object, into: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)


def test_sigterm_during_a_database_retry_is_exit_130_and_one_line(
        tmp_path: Path, private_pg: PrivatePostgres, fault_db: str,
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess]) -> None:
    legacy, candidate = lakehouse_pair
    url = fault_db  # a migrated database on the private Postgres this test stops
    proc = subprocess.Popen([sys.executable, "-m", "farm", "sweep", "embed", "--legacy", legacy.url, "--candidate",
                             candidate.url, "--samples", "200000", "--quiet", "--no-report"],
                            env={**os.environ, "FARM_DATABASE_URL": url, "FARM_CONFIG": ""}, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    reader = threading.Thread(target=_lines, args=(proc.stderr, err), daemon=True)
    reader.start()
    try:
        def writing() -> bool:
            sweeps = recent_sweeps(url, 1)
            return bool(sweeps) and sample_count(url, sweeps[0].id) > 0

        wait_until(writing, 60, "no samples written")
        private_pg.stop()  # immediate: every connection is cut, new ones are refused
        wait_until(lambda: any("retrying for up to" in line for line in err), 60, "no retry warning on stderr")
        proc.send_signal(signal.SIGTERM)
        began = time.monotonic()
        code = proc.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        private_pg.start()
    text = "".join(err)
    assert code == 130, text[-3000:]
    assert time.monotonic() - began < 10, "the writer kept retrying after SIGTERM"
    assert "Traceback" not in text and "unhandled exception" not in text, text[-3000:]
    assert text.strip().splitlines()[-1] == "farm: interrupted (SIGTERM)", text[-3000:]
    assert [line for line in err if not line.startswith("farm: ")] == [], text[-3000:]

"""`farm ui` in a real headless Chromium: the board, a sweep page, live progress, audits, and access rules.

Every page is screenshotted under the test's tmp_path (`*.png`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from farm.config import load_config
from farm.gateway.process import GatewayProcess, free_port, spawn
from farm.signoff import as_json, evaluate
from farm.store.signoff import decided_sweeps
from farm.store.ui import decided_for_signoff, running_sweeps
from tests.audit.conftest import rewrite
from tests.ui.conftest import UiServer, farm_env, run_sweep

SECRET = "tok-do-not-render-7f3a"  # a gateway token in the server's environment: no page may show it


@dataclass(frozen=True)
class Swept:
    db: str
    legacy: str
    candidate: str
    inconclusive: dict[str, Any]
    passed: dict[str, Any]
    failed: dict[str, Any]


@pytest.fixture(scope="module")
def swept(lakehouse_pair: tuple[GatewayProcess, GatewayProcess], tmp_path_factory: pytest.TempPathFactory) -> Swept:
    """Three real sweeps of one endpoint: INCONCLUSIVE (too few samples), PASS, then FAIL against a drifting
    candidate, which revokes the PASS."""
    legacy, candidate = lakehouse_pair
    db = f"sqlite:///{tmp_path_factory.mktemp('ui-db')}/farm.db"
    inconclusive = run_sweep(db, legacy.url, candidate.url, "--samples", "200")
    passed = run_sweep(db, legacy.url, candidate.url, "--samples", "3000")
    with spawn("lakehouse-candidate", "--drift-rate", "0.05") as drifting:
        failed = run_sweep(db, legacy.url, drifting.url, "--samples", "1000")
    assert (inconclusive["verdict"], passed["verdict"], failed["verdict"]) == ("INCONCLUSIVE", "PASS", "FAIL")
    return Swept(db, legacy.url, candidate.url, inconclusive, passed, failed)


def _plan(path: Path, legacy: str, candidate: str) -> Path:
    path.write_text(f"""[signoff]
created = 2020-01-01T00:00:00Z

[signoff.endpoints.embed]
probe = "embed"
legacy = "{legacy}"
candidate = "{candidate}"
p_max = 0.001
alpha = 0.05
""")
    return path


def test_board_shows_the_verdicts_of_sweeps_made_here(swept: Swept, ui: Callable[..., UiServer], browser: Any,
                                                      tmp_path: Path) -> None:
    config = _plan(tmp_path / "farm.toml", swept.legacy, swept.candidate)
    server = ui(swept.db, env={"FARM_CONFIG": str(config), "FARM_GATEWAY_LEGACY_TOKEN": SECRET})
    page = browser.new_page(viewport={"width": 1300, "height": 800})
    page.goto(server.url + "/")
    rows = page.locator("#board tr[data-endpoint]")
    assert rows.count() == 1  # one endpoint, one gateway pair by name (legacy -> candidate)
    row = rows.first
    assert row.get_attribute("data-endpoint") == "embed /ai/embed /v1/embed"
    failed = swept.failed
    assert row.locator("td").nth(2).locator("a").first.inner_text() == "FAIL"
    assert row.locator("td").nth(3).inner_text() == f"[{failed['lower']:.6f}, {failed['upper']:.6f}]"
    assert row.locator("td").nth(4).inner_text() == f"{failed['n']:,}"
    assert row.locator("td").nth(7).inner_text() == "3"
    assert row.locator("svg.spark circle").count() == 3  # the trend: one dot per sweep
    # The PASS is revoked by the later FAIL of the same endpoint, and says which sweeps.
    assert "PASS revoked" in row.inner_text()
    assert swept.passed["sweep_id"] in row.inner_text() and failed["sweep_id"] in row.inner_text()
    assert "revoked" in (row.get_attribute("class") or "")
    # The sign-off plan names the clean pair by URL: its latest counted sweep is the PASS.
    signoff = page.locator("#signoff")
    assert "safe to flip" in signoff.inner_text().lower() and swept.passed["sweep_id"] in signoff.inner_text()
    page.screenshot(path=str(tmp_path / "board.png"), full_page=True)
    assert SECRET not in page.content()
    # The page's sign-off reads only some columns (farm.store.ui): it judges exactly as `farm signoff` does.
    plan = load_config(str(config)).signoff
    assert plan is not None
    assert as_json(evaluate(plan, "farm.toml", decided_for_signoff(swept.db, {"embed"}))) == \
        as_json(evaluate(plan, "farm.toml", decided_sweeps(swept.db, {"embed"})))
    # Following the link opens the sweep's own page.
    row.locator("td").nth(2).locator("a").first.click()
    page.wait_for_url(f"**/sweeps/{failed['sweep_id']}")
    assert "FAIL" in page.locator("#verdict").inner_text()
    assert SECRET not in page.content()
    page.close()


def test_sweep_page_shows_the_catalog_and_a_worst_sample_diff(swept: Swept, ui: Callable[..., UiServer],
                                                              browser: Any, tmp_path: Path) -> None:
    server = ui(swept.db)
    failed = swept.failed
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{server.url}/sweeps/{failed['sweep_id'][:15]}")  # a unique prefix names the sweep
    assert page.locator("#verdict").inner_text().startswith("Verdict: FAIL. " + str(failed["reason"]))
    stats = page.locator("#statistics").inner_text()
    assert f"disagreements (x): {failed['disagreements']:,}" in stats and "Latency per request" in stats
    assert "Errors per side and class" in stats
    assert page.locator("#latency-plot svg rect").count() == 8  # p50, p95, p99 of both sides and a legend
    catalog = page.locator("#catalog table").first
    cells = [[c.strip() for c in r.split("\t")] for r in catalog.inner_text().splitlines()]
    assert ["Response: vectors field", "embeddings", "vectors"] in cells
    assert ["URL prefix", "/ai/embed", "/v1/embed"] in cells
    # Worst samples: the drifted candidate's raw magnitudes against legacy's unit vectors, marked as differing.
    samples = page.locator("#worst .sample")
    assert samples.count() == 5
    first = samples.first.locator("tr.differs").first
    assert first.locator("td.path").inner_text() == "norm"
    legacy_norm, candidate_norm = (float(first.locator("td").nth(i).inner_text()) for i in (1, 2))
    assert abs(legacy_norm - 1.0) < 1e-3 and candidate_norm > 1.5
    assert "score" in samples.first.inner_text()
    page.screenshot(path=str(tmp_path / "sweep.png"), full_page=True)
    # The adapter map downloads as the JSON the sweep reported.
    with page.expect_download() as download:
        page.locator("#adapter a[download]").click()
    saved = tmp_path / "adapter.json"
    download.value.save_as(saved)
    import json

    assert json.loads(saved.read_text()) == failed["adapter_map"]
    assert httpx.get(f"{server.url}/sweeps/nope").status_code == 404
    assert httpx.get(f"{server.url}/api/sweeps/nope/status").status_code == 404
    page.close()


@pytest.fixture
def slow_sweep(lakehouse_pair: tuple[GatewayProcess, GatewayProcess], tmp_path: Path) -> Iterator[
        tuple[str, subprocess.Popen[bytes]]]:
    """A sweep in its own process against a legacy gateway that takes 100 ms a request, two batches at a time:
    it stores its samples every 1,024 (farm.sweep.engine.FLUSH_ROWS) every few seconds, and runs for about a
    minute, so it is running while the test watches it."""
    _, candidate = lakehouse_pair
    db = f"sqlite:///{tmp_path}/live.db"
    with spawn("lakehouse-legacy", "--latency-ms", "100") as slow:
        argv = [sys.executable, "-m", "farm", "sweep", "embed", "--legacy", slow.url, "--candidate", candidate.url,
                "--samples", "20000", "--batch-size", "32", "--concurrency", "2", "--quiet", "--no-report"]
        proc = subprocess.Popen(argv, env=farm_env(db), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            yield db, proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)


def _running_id(db: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sweep ended early with {proc.returncode}"
        if os.path.exists(db.removeprefix("sqlite:///")):
            running = running_sweeps(db)
            if running:
                return running[0].id
        time.sleep(0.2)
    raise AssertionError("the sweep did not start")


def _shown(page: Any, selector: str) -> int:
    return int(page.locator(selector).inner_text().replace(",", ""))


def test_a_running_sweeps_progress_changes_on_screen(slow_sweep: tuple[str, subprocess.Popen[bytes]],
                                                     ui: Callable[..., UiServer], browser: Any,
                                                     tmp_path: Path) -> None:
    db, proc = slow_sweep
    sweep_id = _running_id(db, proc)
    server = ui(db)
    page = browser.new_page(viewport={"width": 1300, "height": 700})
    page.goto(f"{server.url}/sweeps/{sweep_id}")
    page.evaluate("window.__notReloaded = true")
    samples = f'#verdict [data-live="{sweep_id}"] [data-field="samples"]'
    page.wait_for_function(f"/^[0-9,]+$/.test(document.querySelector('{samples}').textContent)")
    first = _shown(page, samples)
    page.wait_for_function(f"Number(document.querySelector('{samples}').textContent.replace(/,/g, '')) > {first}",
                           timeout=20_000)
    second = _shown(page, samples)
    page.wait_for_function(f"Number(document.querySelector('{samples}').textContent.replace(/,/g, '')) > {second}",
                           timeout=20_000)
    assert page.evaluate("window.__notReloaded") is True  # the number moved without a reload
    assert page.locator('#verdict [data-field="planned"]').inner_text() == "20,000"
    bounds = page.locator('#verdict [data-field="bounds"]').inner_text()
    assert bounds.startswith("[0.000000, ") and bounds.endswith("]")  # the interim interval of 0 disagreements
    page.screenshot(path=str(tmp_path / "sweep-running.png"), full_page=True)
    # The board lists it as running, live too.
    board = browser.new_page(viewport={"width": 1300, "height": 500})
    board.goto(server.url + "/")
    cell = f'#running [data-live="{sweep_id}"] [data-field="samples"]'
    board.wait_for_function(f"/^[0-9,]+$/.test(document.querySelector('{cell}').textContent)")
    now = _shown(board, cell)
    board.wait_for_function(f"Number(document.querySelector('{cell}').textContent.replace(/,/g, '')) > {now}",
                            timeout=20_000)
    board.screenshot(path=str(tmp_path / "board-running.png"), full_page=True)
    # Its end shows up too: the page reloads once to show what became of it.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    page.wait_for_function("window.__notReloaded === undefined", timeout=20_000)
    assert "No verdict yet: the sweep is failed" in page.locator("#verdict").inner_text()
    page.close()
    board.close()


def test_audits_show_the_latest_run_per_root_flagged_metrics_first(ui: Callable[..., UiServer], browser: Any,
                                                                   tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/audit.db"
    root = tmp_path / "root"
    farm = [sys.executable, "-m", "farm"]

    def audit() -> int:
        return subprocess.run([*farm, "audit", "--root", str(root), "--append-baseline"], env=farm_env(db),
                              capture_output=True, timeout=300, check=False).returncode

    assert subprocess.run([*farm, "audit", "fixture", "--root", str(root)], env=farm_env(db), capture_output=True,
                          timeout=120, check=False).returncode == 0
    assert audit() == 0
    rewrite(root / "data/exports/sft.jsonl", lambda i, r: {**r, "sig_hash": "ABC"} if i == 0 else None)
    assert audit() == 1
    server = ui(db)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(server.url + "/audits")
    sections = page.locator("section.audit")
    assert sections.count() == 1 and str(root) in sections.first.locator("h2").inner_text()
    assert "2 runs" in sections.first.inner_text()
    rows = sections.first.locator("tr")
    flagged = sections.first.locator("tr.flag")
    assert flagged.count() >= 1
    # Flagged metrics come first: the rows right after the header are exactly the flagged ones.
    statuses = [rows.nth(i).locator("td").last.inner_text() for i in range(1, rows.count())]
    n = flagged.count()
    assert all(s not in ("OK", "NO_BASELINE") for s in statuses[:n]) and all(s == "OK" for s in statuses[n:])
    assert any("sig_hash" in flagged.nth(i).inner_text() for i in range(n))
    page.screenshot(path=str(tmp_path / "audits.png"), full_page=True)
    page.close()


def test_auth_is_enforced_beyond_loopback(swept: Swept, ui: Callable[..., UiServer], browser: Any,
                                          tmp_path: Path) -> None:
    # Bound to every address; the test reaches it on loopback (the machine has no other network).
    server = ui(swept.db, "--host", "0.0.0.0", env={"FARM_UI_AUTH": "alice:s3cret"})
    sweep = f"/sweeps/{swept.passed['sweep_id']}"
    for path in ("/", sweep, f"/api{sweep}/status", "/audits", "/static/live.js"):
        assert httpx.get(server.url + path).status_code == 401
        assert httpx.get(server.url + path, auth=("alice", "wrong")).status_code == 401
        assert httpx.get(server.url + path, auth=("alice", "s3cret")).status_code == 200
    assert httpx.get(server.url + "/").headers["www-authenticate"].startswith("Basic")
    from playwright.sync_api import Error as BrowserError

    anonymous = browser.new_page()
    with pytest.raises(BrowserError, match="ERR_INVALID_AUTH_CREDENTIALS"):  # headless: no prompt, a refusal
        anonymous.goto(server.url + "/")
    anonymous.close()
    context = browser.new_context(http_credentials={"username": "alice", "password": "s3cret"},
                                  viewport={"width": 1300, "height": 700})
    page = context.new_page()
    assert page.goto(server.url + "/").status == 200
    assert page.locator("#board tr[data-endpoint]").count() == 1
    page.screenshot(path=str(tmp_path / "board-auth.png"), full_page=True)
    context.close()
    # Without FARM_UI_AUTH, Flower's credentials serve.
    flower = ui(swept.db, "--host", "0.0.0.0", env={"FARM_FLOWER_AUTH": "ops:fl0wer"})
    assert httpx.get(flower.url + "/").status_code == 401
    assert httpx.get(flower.url + "/", auth=("ops", "fl0wer")).status_code == 200


@pytest.mark.parametrize(("host", "env", "message"), [
    ("0.0.0.0", {}, "farm: error: farm ui bound to 0.0.0.0, beyond loopback, needs basic auth: set "
                    "FARM_UI_AUTH=user:password (or FARM_FLOWER_AUTH)"),
    ("::", {}, "farm: error: farm ui bound to ::, beyond loopback, needs basic auth"),
    ("127.0.0.1", {"FARM_UI_AUTH": "no-colon"}, "farm: error: FARM_UI_AUTH must be user:password"),
])
def test_without_auth_beyond_loopback_it_refuses_to_start(tmp_path: Path, host: str, env: dict[str, str],
                                                          message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "farm", "ui", "--host", host, "--port", str(free_port())],
                          env={**farm_env(f"sqlite:///{tmp_path}/farm.db"), **env}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1 and done.stderr.startswith(message)

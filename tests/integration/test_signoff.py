"""Sign-off over real HTTP: demo gateways on loopback, real sweeps through the `farm` CLI, then the parity log's
revoked rows and `farm signoff` over a plan of three endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, spawn

# Small sweeps decide quickly against a generous p_max: 0 of 100 disagreements shows <= 5% at 95%.
SMALL = ("--samples", "100", "--p-max", "0.05")

HAND_WRITTEN = """# Cutover parity log

Prose a person wrote, kept byte for byte.

| Endpoint | Date | Legacy path | Candidate path | Verdict | Notes |
|---|---|---|---|---|---|
| `embed` (forced v1) | 2026-04-30 | `/ai/embed` | `/v1/embed` | ✅ PASS 5/5 cos=1.000 | bit-identical |
| `sql` (by hand) | 2026-04-30 | `/query` | `/v1/sql` | ✅ PASS 3/3 | another endpoint |

## After the table

More   prose, odd   spacing.
"""


@pytest.fixture(scope="module")
def drifted() -> Iterator[GatewayProcess]:
    """A candidate that answers a fifth of the inputs with another vector: a FAIL at once."""
    with spawn("lakehouse-candidate", "--drift-rate", "0.2") as gw:
        yield gw


def run(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_group, list(argv), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def sweep(env: dict[str, str], probe: str, legacy: str, candidate: str, reports: Path, *args: str) -> dict:
    code, out, err = run(env, "sweep", probe, "--legacy", legacy, "--candidate", candidate, "--json", "--quiet",
                         "--reports-dir", str(reports), *args)
    assert code in (0, 1, 3), err
    result: dict = json.loads(out)
    return result


def rows(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("| `")]


def test_a_fail_after_a_pass_of_the_same_endpoint_revokes_it_even_on_another_candidate(
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess], drifted: GatewayProcess, sqlite_url: str,
        tmp_path: Path) -> None:
    legacy, candidate = lakehouse_pair
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    summary = tmp_path / "cutover" / "SUMMARY.md"
    summary.parent.mkdir()
    summary.write_text(HAND_WRITTEN)
    ok = sweep(env, "embed", legacy.url, candidate.url, tmp_path, *SMALL)
    assert ok["verdict"] == "PASS", ok["reason"]
    [row] = [r for r in rows(summary.read_text()) if ok["sweep_id"] in r]
    assert "| ✅ PASS 100/100 cos≥0.9999 |" in row
    assert f"Gateways `legacy` ({legacy.url}) → `candidate` ({candidate.url})." in row
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    bad = sweep(env, "embed", legacy.url, drifted.url, tmp_path, *SMALL)
    assert bad["verdict"] == "FAIL", bad["reason"]
    text = summary.read_text()
    [row] = [r for r in rows(text) if ok["sweep_id"] in r]
    assert f"| ❌ PASS on {today}, FAIL on {today}: revoked |" in row
    assert f"Revoked by sweep `{bad['sweep_id']}` (`{legacy.url}` → `{drifted.url}`)." in row
    # The FAIL is no parity row of its own; the hand-written PASS of the same endpoint is revoked too, the
    # other endpoint's row is not, and every byte outside the rows is as it was.
    assert not any(drifted.url in r.split("Revoked by")[0] for r in rows(text))
    hand = [r for r in rows(text) if "(forced v1)" in r]
    assert hand == [f"| `embed` (forced v1) | 2026-04-30 | `/ai/embed` | `/v1/embed` | ❌ PASS on 2026-04-30, FAIL "
                    f"on {today}: revoked | bit-identical Revoked by sweep `{bad['sweep_id']}` (`{legacy.url}` → "
                    f"`{drifted.url}`). |"]
    assert "| `sql` (by hand) | 2026-04-30 | `/query` | `/v1/sql` | ✅ PASS 3/3 | another endpoint |" in text
    outside = [ln for ln in text.splitlines(keepends=True) if not ln.startswith("| `")]
    assert "".join(outside) == "".join(ln for ln in HAND_WRITTEN.splitlines(keepends=True)
                                       if not ln.startswith("| `"))

    # Re-rendering the old PASS does not bring it back: the log follows the database, not the last command.
    code, _, err = run(env, "report", ok["sweep_id"], "--reports-dir", str(tmp_path))
    assert code == 0, err
    assert summary.read_text() == text
    # An INCONCLUSIVE revokes as a FAIL does; a fresh PASS on a pair gives that pair its row back.
    again = sweep(env, "embed", legacy.url, candidate.url, tmp_path, *SMALL)
    assert again["verdict"] == "PASS"
    [row] = [r for r in rows(summary.read_text()) if r.startswith("| `embed` (gateway default)")]
    assert again["sweep_id"] in row and "| ✅ PASS 100/100 cos≥0.9999 |" in row and "revoked" not in row
    unsure = sweep(env, "embed", legacy.url, candidate.url, tmp_path, "--samples", "5")
    assert unsure["verdict"] == "INCONCLUSIVE"
    [row] = [r for r in rows(summary.read_text()) if again["sweep_id"] in r]
    assert f"| ❌ PASS on {today}, INCONCLUSIVE on {today}: revoked |" in row
    assert len(rows(summary.read_text())) == 3  # one farm row per gateway pair that passed, plus the two by hand


@pytest.fixture(scope="module")
def others() -> Iterator[dict[str, GatewayProcess]]:
    data = ("--rows", "2000")
    with spawn("lakehouse-legacy", *data, probe="sql") as sql_legacy, \
            spawn("lakehouse-candidate", *data, probe="sql") as sql_candidate, \
            spawn("lakehouse-legacy", probe="chat") as chat_legacy, \
            spawn("lakehouse-candidate", probe="chat") as chat_candidate:
        yield {"sql_legacy": sql_legacy, "sql_candidate": sql_candidate, "chat_legacy": chat_legacy,
               "chat_candidate": chat_candidate}


def plan(path: Path, created: str, endpoints: dict[str, tuple[str, str, str]], **extra: str) -> Path:
    lines = ["[signoff]", f"created = {created}", ""]
    for name, (probe, legacy, candidate) in endpoints.items():
        lines += [f"[signoff.endpoints.{name}]", f'probe = "{probe}"', f'legacy = "{legacy}"',
                  f'candidate = "{candidate}"', "p_max = 0.05", *(f"{k} = {v}" for k, v in extra.items()), ""]
    path.write_text("\n".join(lines))
    return path


def test_signoff_over_three_endpoints_with_one_fail_is_not_safe_and_names_it(
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess], drifted: GatewayProcess,
        others: dict[str, GatewayProcess], sqlite_url: str, tmp_path: Path) -> None:
    legacy = lakehouse_pair[0]
    env = {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}
    before = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    three = {"embed": ("embed", legacy.url, drifted.url),
             "sql": ("sql", others["sql_legacy"].url, others["sql_candidate"].url),
             "chat": ("chat", others["chat_legacy"].url, others["chat_candidate"].url)}
    config = plan(tmp_path / "farm.toml", before, three)

    # Before any sweep: nothing is decided (exit 3), every endpoint "never swept".
    code, out, _ = run(env, "signoff", "--config", str(config))
    assert code == 3 and out.startswith("# Sign-off: NOT safe to flip") and out.count("| never swept |") == 3

    # A sweep with a weaker p_max than the plan's does not count for it.
    weak = sweep(env, "sql", others["sql_legacy"].url, others["sql_candidate"].url, tmp_path, "--samples", "100",
                 "--p-max", "0.2")
    assert weak["verdict"] == "PASS"
    code, out, _ = run(env, "signoff", "--config", str(config), "--json")
    sql = next(e for e in json.loads(out)["endpoints"] if e["name"] == "sql")
    assert code == 3 and sql["verdict"] == "MISSING" and sql["not_counted"] == [
        f"{weak['sweep_id']}: weaker than the plan: p_max 0.2 above the plan's 0.05"]

    assert sweep(env, "embed", legacy.url, drifted.url, tmp_path, *SMALL)["verdict"] == "FAIL"
    assert sweep(env, "sql", others["sql_legacy"].url, others["sql_candidate"].url, tmp_path,
                 *SMALL)["verdict"] == "PASS"
    chat = sweep(env, "chat", others["chat_legacy"].url, others["chat_candidate"].url, tmp_path, *SMALL,
                 "--max-tokens", "24")
    assert chat["verdict"] == "PASS", chat["reason"]

    table = tmp_path / "signoff.md"
    code, out, err = run(env, "signoff", "--config", str(config), "--out", str(table))
    assert code == 1, err
    assert out.startswith("Not safe to flip: 1 of 3 endpoints do not PASS: embed (FAIL).")
    text = table.read_text()
    body = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| Endpoint")]
    verdicts = {ln.split(" | ")[0].strip("| "): ln.split(" | ")[6] for ln in body}
    assert verdicts == {"embed": "FAIL", "sql": "PASS", "chat": "PASS"}
    assert "FAIL: " in next(ln for ln in body if ln.startswith("| embed |"))  # the verdict's own reason

    code, out, _ = run(env, "signoff", "--config", str(config), "--json")
    got = json.loads(out)
    assert code == 1 and got["safe"] is False and got["blocking"] == ["embed"] and got["exit_code"] == 1

    # The same plan without the failing endpoint is safe to flip; a plan fixed after the sweeps is not decided.
    two = plan(tmp_path / "two.toml", before, {k: v for k, v in three.items() if k != "embed"})
    code, out, _ = run(env, "signoff", "--config", str(two))
    assert code == 0 and out.startswith("# Sign-off: safe to flip") and "Safe to flip: all 2 endpoints" in out
    later = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, _ = run(env, "signoff", "--config", str(plan(tmp_path / "late.toml", later, three)), "--json")
    assert code == 3 and all(e["verdict"] == "MISSING" for e in json.loads(out)["endpoints"])


def test_signoff_without_a_plan_is_one_line_and_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    config = tmp_path / "farm.toml"
    config.write_text('[thresholds.embed]\ntau = 0.999\n')
    code, out, err = run({"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}, "signoff", "--config", str(config))
    assert code == 2 and out == ""
    assert err == f"farm: error: {config}: signoff: no sign-off plan: add [signoff] with created and " \
        "[signoff.endpoints.<name>] tables (see docs/statistics.md, Sign-off)\n"


def test_on_postgres_the_log_and_the_signoff_read_the_same_history(
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess], drifted: GatewayProcess, pg_url: str,
        tmp_path: Path) -> None:
    from farm.store.db import upgrade

    legacy, candidate = lakehouse_pair
    upgrade(pg_url)
    env = {"FARM_DATABASE_URL": pg_url, "FARM_CONFIG": ""}
    before = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = plan(tmp_path / "farm.toml", before, {"clean": ("embed", legacy.url, candidate.url),
                                                   "drifted": ("embed", legacy.url, drifted.url)})
    ok = sweep(env, "embed", legacy.url, candidate.url, tmp_path, *SMALL)
    bad = sweep(env, "embed", legacy.url, drifted.url, tmp_path, *SMALL)
    assert (ok["verdict"], bad["verdict"]) == ("PASS", "FAIL")
    [row] = rows((tmp_path / "cutover" / "SUMMARY.md").read_text())
    assert ok["sweep_id"] in row and "FAIL on" in row and ": revoked |" in row and bad["sweep_id"] in row
    code, out, _ = run(env, "signoff", "--config", str(config), "--json")
    got = json.loads(out)
    assert code == 1 and got["blocking"] == ["drifted"]
    assert [(e["name"], e["verdict"], e["sweep_id"]) for e in got["endpoints"]] == [
        ("clean", "PASS", ok["sweep_id"]), ("drifted", "FAIL", bad["sweep_id"])]

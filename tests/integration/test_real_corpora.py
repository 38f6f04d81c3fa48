"""Verdicts on corpora as users bring them, over real HTTP: file order, finite corpora, continuation."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from farm.cli import main_group
from farm.corpus import synthetic_text
from farm.gateway.process import GatewayProcess, spawn
from farm.probes import get_probe
from farm.probes.embed.embedder import _text_key
from farm.store.sweeps import get_sweep, sample_count

DRIFT_RATE = 0.05  # the candidate drifts inputs whose hash falls under this; the test picks which, by that hash


def drifts(text: str) -> bool:
    return (_text_key(text, b"drift") % 1_000_000) / 1_000_000 < DRIFT_RATE


def run(db: str, *argv: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(main_group, [*argv, "--json", "--quiet", "--no-report"],
                                env={"FARM_DATABASE_URL": db, "FARM_CONFIG": ""}, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}, result.stderr


def easy_first_corpus(path: Path, clean: int, drifted: int) -> None:
    """`clean` inputs the drifting candidate answers faithfully, then `drifted` it does not: the file sorted the way
    a capture log sorted by time can be."""
    good, bad, i = [], [], 0
    while len(good) < clean or len(bad) < drifted:
        text = synthetic_text(7, i)
        i += 1
        (bad if drifts(text) else good).append(text)
    path.write_text("\n".join(good[:clean] + bad[:drifted]) + "\n")


def test_drift_at_the_end_of_the_file_is_found_by_the_random_order(lakehouse_pair: tuple[GatewayProcess,
                                                                                         GatewayProcess],
                                                                   sqlite_url: str, tmp_path: Path) -> None:
    legacy, _ = lakehouse_pair
    corpus = tmp_path / "log.txt"
    easy_first_corpus(corpus, clean=5000, drifted=60)  # 1.2% drifted, all at the end; p_max is 0.1%
    with spawn("lakehouse-candidate", "--drift-rate", str(DRIFT_RATE), "--drift-cos", "0.995") as drifting:
        args = ("sweep", "embed", "--legacy", legacy.url, "--candidate", drifting.url, "--corpus", str(corpus))
        # File order with a sequential stop is refused: it would decide on the clean head of the file.
        code, _, err = run(sqlite_url, *args, "--order", "file", "--until-decided")
        assert code == 2 and "--order file with --until-decided" in err
        code, out, _ = run(sqlite_url, *args, "--until-decided", "--order-seed", "11")
    assert out["verdict"] == "FAIL" and code == 1, out["reason"]
    assert out["disagreements"] >= 1 and out["n"] < 5060
    # The draw is recorded and replayable: the same seed gives the same sequence of inputs.
    sweep = get_sweep(sqlite_url, out["sweep_id"])
    assert sweep.params["spec"]["corpus"]["order"] == "random" and sweep.params["spec"]["corpus"]["order_seed"] == 11


def test_the_same_order_seed_replays_the_same_sequence(lakehouse_pair: tuple[GatewayProcess, GatewayProcess],
                                                       sqlite_url: str, tmp_path: Path) -> None:
    legacy, candidate = lakehouse_pair
    corpus = tmp_path / "q.txt"
    corpus.write_text("\n".join(synthetic_text(3, i) for i in range(400)) + "\n")
    args = ("sweep", "embed", "--legacy", legacy.url, "--candidate", candidate.url, "--corpus", str(corpus),
            "--samples", "100")
    shas = []
    for seed in ("5", "5", "6"):
        code, out, _ = run(sqlite_url, *args, "--order-seed", seed)
        assert code == 3  # 100 samples decide nothing at 0.1%
        shas.append(_shas(sqlite_url, out["sweep_id"]))
    assert shas[0] == shas[1] and shas[0] != shas[2] and len(shas[0]) == 100
    # 100 of the 400, drawn from the whole file: not the first 100 lines.
    first_lines = {get_probe("embed").item_digest(synthetic_text(3, i)) for i in range(100)}
    assert len(set(shas[0]) - first_lines) > 50


def _shas(db: str, sweep_id: str) -> list[str]:
    from sqlalchemy import select

    from farm.store.db import transaction
    from farm.store.models import Sample

    with transaction(db) as s:
        return list(s.scalars(select(Sample.input_sha).where(Sample.sweep_id == sweep_id).order_by(Sample.idx)))


def test_a_clean_statement_file_swept_whole_is_a_census(sqlite_url: str, tmp_path: Path) -> None:
    corpus = tmp_path / "suite.sql"
    corpus.write_text("".join(f"SELECT {i} + 1 AS v, 'row {i}' AS label;\n" for i in range(300)))
    with (spawn("lakehouse-legacy", "--engine", "sqlite", probe="sql") as legacy,
          spawn("lakehouse-candidate", "--engine", "sqlite", probe="sql") as candidate):
        args = ("sweep", "sql", "--legacy", legacy.url, "--candidate", candidate.url, "--corpus", str(corpus),
                "--p-max", "0.001")
        code, out, _ = run(sqlite_url, *args, "--population", "corpus")
        assert code == 0 and out["verdict"] == "PASS", out["reason"]
        assert "census" in out["reason"] and out["n"] == 300
        # As a sample of a stream, 300 agreeing statements cannot show 0.1%: the census can.
        code, out, _ = run(sqlite_url, *args, "--population", "stream")
        assert code == 3 and "more samples needed" in out["reason"]
        # Part of the corpus: finite-population bounds, and what is left is what is needed at most.
        code, out, _ = run(sqlite_url, *args, "--population", "corpus", "--samples", "200")
        assert code == 3 and "the 100 inputs of the corpus not yet swept decide it" in out["reason"], out["reason"]
        # ... and continuing it with those 100 is the census.
        code, out, _ = run(sqlite_url, "sweep", "resume", out["sweep_id"], "--more", "100")
        assert code == 0 and "census" in out["reason"] and sample_count(sqlite_url, out["sweep_id"]) == 300


def test_an_inconclusive_sweep_continues_with_the_always_valid_bounds(
        lakehouse_pair: tuple[GatewayProcess, GatewayProcess], sqlite_url: str) -> None:
    legacy, candidate = lakehouse_pair
    code, out, _ = run(sqlite_url, "sweep", "embed", "--legacy", legacy.url, "--candidate", candidate.url,
                       "--samples", "500")
    assert code == 3 and "farm sweep resume SWEEP_ID --more N" in out["reason"]
    sweep_id = out["sweep_id"]
    code, out, _ = run(sqlite_url, "sweep", "resume", sweep_id, "--more", "3000")
    assert code == 0 and out["verdict"] == "PASS" and out["n"] == 3500, out["reason"]
    assert "always-valid" in out["reason"]  # the whole sweep judged by the confidence sequence
    assert sample_count(sqlite_url, sweep_id) == 3500
    assert get_sweep(sqlite_url, sweep_id).params["continued"] == [{"from": 500, "to": 3500, "until_decided": False}]

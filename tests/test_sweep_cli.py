from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from farm.cli import main_group
from farm.config import load_config
from farm.distributed.jobs import JobFactory, Part
from farm.distributed.work import run_side
from farm.store.sweeps import create_sweep, get_sweep, set_status
from farm.sweep.run import gateway_rows
from farm.sweep.spec import SweepRequest, SweepSpec, build_spec, new_sweep_id, spec_from_row


def _spec(config_path: str | None = None) -> SweepSpec:
    url = "http://127.0.0.1:9"  # never called: nothing listens on the discard port
    return build_spec(load_config(config_path), SweepRequest(legacy=url, candidate=url, samples=64, concurrency=4,
                                                             timeout=1.0, retries=0))


def test_thresholds_come_from_farm_toml(tmp_path: Path) -> None:
    path = tmp_path / "farm.toml"
    path.write_text("[thresholds.embed]\ntau = 0.999\np_max = 0.01\nnoise_sample = 0.1\n")
    spec = _spec(str(path))
    assert (spec.params.tau, spec.params.p_max, spec.params.alpha, spec.noise_sample) == (0.999, 0.01, 0.05, 0.1)


def test_status_and_cancel(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/farm.db"
    env = {"FARM_DATABASE_URL": db, "FARM_CONFIG": ""}
    spec = replace(_spec(), database_url=db)
    sweep_id = new_sweep_id()
    create_sweep(db, spec.sweep_row(sweep_id, "distributed"), gateway_rows(spec))
    runner = CliRunner()
    status = runner.invoke(main_group, ["sweep", "status", sweep_id[:16], "--json"], env=env)
    assert status.exit_code == 0 and json.loads(status.output)["status"] == "running"
    cancel = runner.invoke(main_group, ["sweep", "cancel", sweep_id], env=env)
    assert cancel.exit_code == 0 and get_sweep(db, sweep_id).status == "cancelled"
    again = runner.invoke(main_group, ["sweep", "cancel", sweep_id], env=env)
    assert again.exit_code == 2 and "is cancelled, not running" in again.output
    # A worker handed a batch of a cancelled sweep skips it without calling the (unreachable) gateway.
    job = JobFactory(spec, sweep_id).jobs([Part(0, 0, ["a", "b"], False)])[0]
    assert run_side(job, db, "w@test") == []
    missing = runner.invoke(main_group, ["sweep", "status", "nope"], env=env)
    assert missing.exit_code == 2 and "no sweep 'nope'" in missing.output


def test_a_recorded_sweep_gives_back_the_spec_it_was_started_with(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/farm.db"
    spec = replace(_spec(), database_url=db, batch_size=7, noise_sample=0.25, model="m1")
    sweep_id = new_sweep_id()
    create_sweep(db, spec.sweep_row(sweep_id, "distributed"), gateway_rows(spec))
    assert spec_from_row(get_sweep(db, sweep_id), db) == spec


def test_resume_refuses_what_it_cannot_go_on_with(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/farm.db"
    env = {"FARM_DATABASE_URL": db, "FARM_CONFIG": ""}
    spec = replace(_spec(), database_url=db)
    embedded, distributed = new_sweep_id(), new_sweep_id() + "x"
    create_sweep(db, spec.sweep_row(embedded, "embedded"), gateway_rows(spec))
    create_sweep(db, spec.sweep_row(distributed, "distributed"), gateway_rows(spec))
    set_status(db, distributed, "cancelled")
    runner = CliRunner()
    first = runner.invoke(main_group, ["sweep", "resume", embedded], env=env)
    assert first.exit_code == 2 and "ran embedded: say how far to go on, --more N or --until-decided" in first.output
    second = runner.invoke(main_group, ["sweep", "resume", distributed], env=env)
    assert second.exit_code == 2 and "is cancelled: only a running, finalizing or failed" in second.output
    third = runner.invoke(main_group, ["sweep", "resume", distributed, "--more", "10"], env=env)
    assert third.exit_code == 2 and "--more and --until-decided continue embedded sweeps only" in third.output


def test_an_ambiguous_sweep_id_prefix_names_some_of_its_matches(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/farm.db"
    env = {"FARM_DATABASE_URL": db, "FARM_CONFIG": ""}
    spec = replace(_spec(), database_url=db)
    ids = [f"20260101-00000{i}-abcdef" for i in range(5)]
    for sweep_id in ids:
        create_sweep(db, spec.sweep_row(sweep_id, "distributed"), gateway_rows(spec))
    runner = CliRunner()
    ambiguous = runner.invoke(main_group, ["report", "2026"], env=env)
    assert ambiguous.exit_code == 2
    assert (f"sweep id prefix '2026' is ambiguous: it matches {ids[0]}, {ids[1]}, {ids[2]}, ...; give more of it"
            in ambiguous.output)
    two = runner.invoke(main_group, ["sweep", "status", "20260101-00000", "--json"], env=env)
    assert two.exit_code == 2 and "ambiguous" in two.output
    unique = runner.invoke(main_group, ["sweep", "status", "20260101-000003", "--json"], env=env)
    assert unique.exit_code == 0 and json.loads(unique.output)["sweep_id"] == ids[3]
    # `_` is a character of the prefix, not SQL LIKE's any-character wildcard.
    wildcard = runner.invoke(main_group, ["sweep", "status", "20260101_000003", "--json"], env=env)
    assert wildcard.exit_code == 2 and "no sweep '20260101_000003'" in wildcard.output

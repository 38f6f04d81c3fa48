"""`[audit]` in farm.toml: every bad value is one ConfigError naming its key, never a traceback or a silent
default."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.config import parse_config
from farm.errors import ConfigError


@pytest.mark.parametrize(("toml", "key", "problem"), [
    ("[audit]\nprofiles = 3\n", "audit.profiles", "expected a table of audit profiles"),
    ("[audit.profiles]\nx = 3\n", "audit.profiles.x", "expected a table"),
    ("[audit]\nfoo = 1\n", "audit.foo", "unknown key"),
    ("[audit.profiles.x]\nreplay = { sample = 1.5 }\n", "audit.profiles.x.replay.sample", "integer >= 1"),
    ("[audit.profiles.x]\nreplay = { sample = 0 }\n", "audit.profiles.x.replay.sample", "integer >= 1"),
    ("[audit.profiles.x]\nreplay = { samples = 5 }\n", "audit.profiles.x.replay.samples", "unknown key"),
    ("[audit.profiles.x]\ndrift = { min_history = 2.5 }\n", "audit.profiles.x.drift.min_history", "integer >= 2"),
    ("[audit.profiles.x]\ndrift = { min_history = 1 }\n", "audit.profiles.x.drift.min_history", "integer >= 2"),
    ("[audit.profiles.x]\ndrift = { sigma = 0 }\n", "audit.profiles.x.drift.sigma", "number > 0"),
    ("[audit.profiles.x]\ndrift = { ratio = -0.1 }\n", "audit.profiles.x.drift.ratio", "number >= 0"),
])
def test_bad_audit_section_names_the_key(toml: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(toml), "farm.toml")
    assert err.value.key == key
    assert problem in err.value.problem


def test_good_profile_still_parses() -> None:
    config = parse_config(tomllib.loads("[audit.profiles.x]\nreplay = { sample = 3 }\ndrift = { sigma = 2.5, "
                                        "min_history = 2 }\n"), "farm.toml")
    assert config.audit_profiles["x"]["replay"] == {"sample": 3}


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[audit]\nprofiles = 3\n")
    res = CliRunner().invoke(main_group, ["audit", "--root", str(tmp_path)], env={"FARM_CONFIG": str(cfg)})
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [f"farm: error: {cfg}: audit.profiles: expected a table of audit "
                                               "profiles, got int 3"]
    assert "Traceback" not in res.output

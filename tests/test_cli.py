from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from farm.cli import COMMANDS, main_group


def test_lazy_command_table_names_every_command_of_its_module() -> None:
    modules = {module for module, _ in COMMANDS.values()}
    real = {c.name for m in modules for c in importlib.import_module(m).COMMANDS}
    assert real == set(COMMANDS)
    for name in COMMANDS:
        assert isinstance(main_group.get_command(click.Context(main_group), name), click.Command)


def test_every_command_explains_itself() -> None:
    runner = CliRunner()
    top = runner.invoke(main_group, ["--help"])
    assert top.exit_code == 0 and all(name in top.output for name in COMMANDS)
    for name in COMMANDS:
        result = runner.invoke(main_group, [name, "--help"], prog_name="farm")
        assert result.exit_code == 0, result.output
        assert "Usage: farm " + name in result.output.replace("  ", " ")


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main_group, ["nope"])
    assert result.exit_code == 2 and "No such command" in result.output


@pytest.mark.parametrize("argv", [
    ["nope"],
    ["sweep", "nope"],
    ["sweep", "embed", "--samples", "x"],
    ["sweep", "embed", "--legacy", "ftp://x"],
    ["gateways", "serve", "--probe", "nope", "--profile", "x", "--port", "9"],
    ["gateways", "serve", "--profile", "nope", "--port", "9"],
    ["demo", "--probe", "nope"],
    ["sweep"],  # a group without its command: names them, not its whole help
    ["baselines"],
    ["sweep", "embed", "--legacy", "http://127.0.0.1:99999"],
    ["sweep", "embed", "--candidate", "http://[::1"],
    ["sweep", "embed", "--samples", "3", "--reports-dir", "/proc/farm-cannot-make-this"],
    ["sweep", "status", "--config-probe-nonexistent"],
])
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "farm", *argv], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "FARM_CONFIG": "", "FARM_DATABASE_URL": f"sqlite:///{tmp_path}/f.db"},
                          timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("farm: error: "), proc.stderr

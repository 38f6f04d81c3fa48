from __future__ import annotations

import importlib

import click
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

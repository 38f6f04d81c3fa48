"""`farm ...` run in the test process (click's CliRunner), for tests that read its `--json` answer."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from farm.cli import main_group


def farm_json(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    """(exit code, the JSON on stdout) of `farm ARGS` with `env`; exceptions propagate (a traceback is a bug)."""
    result = CliRunner().invoke(main_group, list(args), env=env, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def sweep_json(probe: str, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    """`farm sweep PROBE --json --quiet ARGS`: the sweep runner the probe tests share."""
    return farm_json(env, "sweep", probe, "--json", "--quiet", *args)

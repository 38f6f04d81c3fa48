"""The adapter over real HTTP: the seed's demo gateways, sweeps through the `farm` CLI, the adapter proxy as a
`farm adapter serve` child on a free port."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from farm.cli import main_group
from farm.gateway.process import GatewayProcess, free_port

# 0 of 300 disagreements shows a rate <= 1% at 95%: a PASS against p_max 2%.
SMALL = ("--samples", "300", "--p-max", "0.02")


def run(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main_group, list(argv), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def sweep(env: dict[str, str], probe: str, legacy: str, candidate: str, *args: str,
          reports: Path | None = None) -> dict[str, Any]:
    where = ("--reports-dir", str(reports)) if reports is not None else ("--no-report",)
    code, out, err = run(env, "sweep", probe, "--legacy", legacy, "--candidate", candidate, "--json", "--quiet",
                         *where, *args)
    assert code in (0, 1, 3), err
    result: dict[str, Any] = json.loads(out)
    return result


def export(env: dict[str, str], sweep_id: str, path: Path) -> Path:
    """`farm adapter export` of a recorded sweep's map to `path`."""
    code, _, err = run(env, "adapter", "export", "--sweep", sweep_id, "-o", str(path))
    assert code == 0, err
    return path


@dataclass
class AdapterProcess(GatewayProcess):
    """A running `farm adapter serve --map FILE` child (`profile` holds the map file)."""

    upstream: str = ""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "farm", "adapter", "serve", "--map", self.profile, "--upstream", self.upstream,
                "--listen", f"127.0.0.1:{self.port}"]


def serve_adapter(map_file: Path, upstream: str) -> AdapterProcess:
    proc = AdapterProcess(str(map_file), free_port(), upstream=upstream)
    proc.start()
    return proc

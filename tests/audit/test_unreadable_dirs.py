"""A directory the audit cannot search is reported as `not readable`, like an unreadable file, never as a
missing file. Root ignores permissions, so as root the audit runs under `setpriv` without the two capabilities
that override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.audit.handroot import hand_root

DROP = "-dac_override,-dac_read_search"


def audit_without_permission_override(root: Path, *args: str, config: str | None = None) -> dict:  # type: ignore[type-arg]
    cmd = [sys.executable, "-c", "import sys; from farm.cli import main; sys.argv[0] = 'farm'; main()",
           "audit", "--root", str(root), "--json", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            if os.environ.get("CI"):
                pytest.fail("setpriv (util-linux) is needed to test permissions as root")
            pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
        cmd = [setpriv, f"--inh-caps={DROP}", f"--bounding-set={DROP}", *cmd]
    env = {k: v for k, v in os.environ.items() if k != "FARM_CONFIG"}
    if config is not None:
        env["FARM_CONFIG"] = config
    res = subprocess.run(cmd, capture_output=True, check=False, env=env, cwd=root.parent, timeout=120)
    assert res.returncode == 1, res.stderr
    assert b"Traceback" not in res.stderr
    report: dict = orjson.loads(res.stdout)  # type: ignore[type-arg]
    return report


@pytest.fixture
def locked_exports(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = hand_root(tmp_path / "root")
    exports = root / "data/exports"
    exports.chmod(0)
    yield root
    exports.chmod(0o755)  # so tmp_path can be cleaned up


def offenders(report: dict, name: str) -> list[str]:  # type: ignore[type-arg]
    return next(c for p in report["phases"] for c in p["checks"] if c["name"] == name)["offenders"]


def test_an_unreadable_directory_is_not_readable_not_missing(locked_exports: Path) -> None:
    report = audit_without_permission_override(locked_exports)
    required = offenders(report, "p0_required_files")
    assert "data/exports/sft.jsonl: not readable (directory data/exports) (required dataset sft)" in required
    assert not any("missing" in o for o in required)
    skipped = {f["path"]: f["skipped"] for f in report["files"] if "skipped" in f}
    assert skipped["data/exports/rag.jsonl"] == "not readable (directory data/exports)"
    assert report["metrics"]["p0_path_problems"] == 3


def test_a_glob_over_an_unreadable_directory_says_so(locked_exports: Path, tmp_path: Path) -> None:
    config = tmp_path / "farm.toml"
    config.write_text('[audit.profiles.g]\npaths = { sft = "data/exports/*.jsonl", rag = "data/**/rag.jsonl" }\n')
    report = audit_without_permission_override(locked_exports, "--profile", "g", config=str(config))
    required = offenders(report, "p0_required_files")
    assert "data/exports/*.jsonl: data/exports: not readable (directory) (required dataset sft)" in required
    assert "data/**/rag.jsonl: data/exports: not readable (directory) (required dataset rag)" in required

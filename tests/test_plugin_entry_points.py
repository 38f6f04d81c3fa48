"""Plug-in probes found through an installed distribution's `farm.probes` entry points (importlib.metadata reads
the distribution's metadata on sys.path), as well as through FARM_PROBE_MODULES; a broken one is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
PLUGIN = '''
from tests.probes.echo import EchoProbe


class EntryEcho(EchoProbe):
    name = "epecho"


PROBE = EntryEcho()
'''


def _install(site: Path, value: str) -> None:
    """A distribution as pip leaves it: a module and a dist-info with the entry point."""
    (site / "farm_epecho.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "farm_epecho-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: farm-epecho\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[farm.probes]\nepecho = {value}\n", encoding="utf-8")


def _farm(tmp_path: Path, site: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "farm.toml").write_text('[profiles.e]\nprobe = "epecho"\n', encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": f"{site}:{ROOT}",
           "FARM_DATABASE_URL": f"sqlite:///{tmp_path}/f.db"}
    return subprocess.run([sys.executable, "-m", "farm", "db", "current"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=env)


def test_a_probe_installed_with_an_entry_point_is_known(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    without = _farm(tmp_path, site)
    assert without.returncode == 2
    assert "unknown probe 'epecho'" in without.stderr and "`farm.probes` entry points" in without.stderr
    _install(site, "farm_epecho:PROBE")
    plugged = _farm(tmp_path, site)
    assert plugged.returncode == 0, plugged.stderr


def test_a_broken_entry_point_is_one_line(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "farm_epecho_gone")
    broken = _farm(tmp_path, site)
    assert broken.returncode == 2
    assert broken.stderr.strip().splitlines() == [
        "farm: error: entry point epecho = 'farm_epecho_gone' (farm-epecho) in 'farm.probes': cannot load: "
        "ModuleNotFoundError: No module named 'farm_epecho_gone'"]

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from farm.config import load_config, parse_config
from farm.errors import ConfigError


def test_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FARM_CONFIG", raising=False)
    monkeypatch.delenv("FARM_DATABASE_URL", raising=False)
    config = load_config()
    assert config.database_url == "sqlite:///.farm/farm.db"
    # Without [gateways], the names point at the demo pair `farm stack up` serves.
    assert {n: (g.url, g.profile, g.queue) for n, g in config.gateways.items()} == {
        "legacy": ("http://127.0.0.1:8101", "lakehouse-legacy", "probe.legacy"),
        "candidate": ("http://127.0.0.1:8102", "lakehouse-candidate", "probe.candidate")}


def test_environment_overrides_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FARM_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("FARM_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    config = load_config()
    assert (config.database_url, config.broker_url) == ("sqlite:///x.db", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.mark.parametrize(("data", "message"), [
    ({"gateways": {"legacy": {"url": "ftp://x", "profile": "ollama"}}}, "gateways.legacy.url: must start with http"),
    ({"gateways": {"Legacy!": {"url": "http://x", "profile": "ollama"}}}, "gateways.Legacy!: gateway names"),
    ({"thresholds": {"embed": {"tau": 2}}}, "thresholds.embed.tau: must be between 0 and 1"),
    ({"thresholds": {"embed": {"tau": "high"}}}, "thresholds.embed.tau: expected a number"),
    ({"schedules": [{"name": "n", "cron": "daily", "kind": "sweep"}]}, "schedules[0].cron: expected 5 cron fields"),
    ({"surprise": 1}, "surprise: unknown key"),
    ({"profiles": {"p": {"probe": "nosuch"}}}, "profiles.p.probe: unknown probe 'nosuch' (known: chat, "),
    ({"profiles": {"p": {"probe": 3}}}, "profiles.p.probe: expected a probe name, got int 3"),
    ({"thresholds": {"nosuch": {"tau": 0.5}}}, "thresholds.nosuch: unknown probe 'nosuch' (known: chat, "),
])
def test_bad_config_names_file_key_and_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "farm.toml")
    assert str(err.value) == f"farm.toml: {message}" or str(err.value).startswith(f"farm.toml: {message}")


def test_gateway_defaults() -> None:
    config = parse_config({"gateways": {"new-gw": {"url": "http://127.0.0.1:9/", "profile": "ollama"}}}, "f")
    gw = config.gateways["new-gw"]
    assert (gw.url, gw.queue, gw.token_env) == ("http://127.0.0.1:9", "probe.new-gw", "FARM_GATEWAY_NEW_GW_TOKEN")


def _farm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farm", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "farm.toml").write_text('[gateways.legacy]\nurl = "http://127.0.0.1:1"\nprofile = 3\n')
    proc = _farm("sweep", "embed", "--legacy", "legacy", "--candidate", "legacy", "--samples", "5", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "farm: error: farm.toml: gateways.legacy.profile: expected a wire profile name, got int 3"]


def test_cli_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[gateways\n")
    proc = _farm("--config", "broken.toml", "db", "current", cwd=tmp_path)
    assert proc.returncode == 2 and "broken.toml: not valid TOML" in proc.stderr and "Traceback" not in proc.stderr
    proc = _farm("--config", "absent.toml", "db", "current", cwd=tmp_path)
    assert proc.returncode == 2 and "absent.toml: config file not found" in proc.stderr


def test_init_writes_a_valid_example(tmp_path: Path) -> None:
    assert _farm("init", cwd=tmp_path).returncode == 0
    config = load_config(str(tmp_path / "farm.toml"))
    assert set(config.gateways) == {"legacy", "candidate"} and config.thresholds["embed"].noise_sample == 0.05
    again = _farm("init", cwd=tmp_path)
    assert again.returncode == 2 and "exists; use --force" in again.stderr


def test_probe_names_in_the_config_include_plug_ins(tmp_path: Path) -> None:
    (tmp_path / "farm.toml").write_text('[profiles.e]\nprobe = "echo"\n[thresholds.echo]\ntau = 0.5\n'
                                        '[thresholds.embed]\ntau = 0.9\n')
    root = str(Path(__file__).resolve().parents[1])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": root,
           "FARM_DATABASE_URL": f"sqlite:///{tmp_path}/f.db"}
    without = subprocess.run([sys.executable, "-m", "farm", "db", "current"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120, env=env)
    assert without.returncode == 2
    assert without.stderr.strip().splitlines() == [
        "farm: error: farm.toml: profiles.e.probe: unknown probe 'echo' (known: chat, embed, retrieve, search, sql, "
        "storage; plug-ins load from installed packages' `farm.probes` entry points and from the modules in "
        "FARM_PROBE_MODULES)"]
    plugged = subprocess.run([sys.executable, "-m", "farm", "db", "current"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120, env={**env, "FARM_PROBE_MODULES": "tests.probes.echo"})
    assert plugged.returncode == 0, plugged.stderr

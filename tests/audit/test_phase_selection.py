"""`--phases`: a selection that names no phase is a usage error; one without a required check is INCONCLUSIVE
(never FAIL of checks that passed); a baseline entry is only ever a whole audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from tests.audit.handroot import hand_root


def farm(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main_group, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize(("spec", "message"), [
    ("7-0", "farm: error: --phases: range '7-0' is reversed (did you mean 0-7?)"),
    ("", "farm: error: --phases: expected phases 0 to 7 like 0,3,4 or 0-7, got ''"),
    ("3,", "farm: error: --phases: expected phases 0 to 7 like 0,3,4 or 0-7, got '3,'"),
    ("0-9", "farm: error: --phases: expected phases 0 to 7 like 0,3,4 or 0-7, got '0-9'"),
])
def test_a_selection_of_no_phase_is_a_usage_error(tmp_path: Path, spec: str, message: str) -> None:
    root = hand_root(tmp_path / "root")
    code, out, err = farm("audit", "--root", str(root), "--phases", spec)
    assert (code, out, err.strip()) == (2, "", message)


@pytest.mark.parametrize("spec", ["7", "2", "5,6,7"])
def test_no_required_check_selected_is_inconclusive_not_fail(tmp_path: Path, spec: str) -> None:
    root = hand_root(tmp_path / "root")
    out = tmp_path / "r.md"
    code, stdout, _ = farm("audit", "--root", str(root), "--phases", spec, "--out", str(out))
    ran = ", ".join(str(int(p)) for p in spec.split(","))
    assert code == 3
    assert stdout == f"audit INCONCLUSIVE (no required check in the phases run: {ran}); report in {out}\n"
    assert "FAIL" not in out.read_text()


def test_required_checks_in_a_subset_still_decide(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    code, stdout, _ = farm("audit", "--root", str(root), "--phases", "3", "--out", str(tmp_path / "r.md"))
    assert code == 0 and stdout.startswith("audit PASS (2/2 required pass)")


def test_append_baseline_refuses_a_subset_of_phases(tmp_path: Path) -> None:
    root = hand_root(tmp_path / "root")
    log = tmp_path / "log.jsonl"
    code, out, err = farm("audit", "--root", str(root), "--phases", "3", "--append-baseline", "--no-mirror",
                          "--baseline-log", str(log))
    assert (code, out) == (2, "")
    assert err.strip() == ("farm: error: --append-baseline needs all phases 0-7 (got --phases 3): a baseline "
                           "entry is a whole audit")
    assert not log.exists()
    code, _, _ = farm("audit", "--root", str(root), "--phases", "0-3,4-7", "--append-baseline", "--no-mirror",
                      "--baseline-log", str(log), "--out", str(tmp_path / "r.md"))
    assert code == 0 and len(log.read_text().splitlines()) == 1

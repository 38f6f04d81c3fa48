"""Phase 2: materializer dry-run. Runs the profile's materializer command with its dry-run flag in the root;
it must exit 0 and its plan (stdout) must name every declared output. Skipped when none is configured.

The plan is read line by line: a line is either a path, or a JSON object whose `output` (or `path`) is one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from farm.audit.profile import AuditProfile
from farm.audit.result import FAIL, PASS, SKIP, Check, PhaseResult

NAME = "materializer dry-run"


def _planned(stdout: bytes) -> set[str]:
    out: set[str] = set()
    for line in stdout.splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith(b"{"):
            try:
                obj = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                value = obj.get("output", obj.get("path"))
                if isinstance(value, str):
                    out.add(value)
            continue
        out.add(text.decode("utf-8", "replace"))
    return out


def phase2(root: str | Path, profile: AuditProfile) -> PhaseResult:
    mat = profile.materializer
    if mat is None:
        check = Check("p2_materializer_dry_run", 2, False, SKIP,
                      f"no materializer configured (set audit.profiles.{profile.name}.materializer)")
        return PhaseResult(2, NAME, [check], {})
    argv = [*mat.command, mat.dry_run_flag]
    shown = " ".join(argv)
    try:
        proc = subprocess.run(argv, cwd=root, capture_output=True, timeout=mat.timeout_s, check=False)
    except FileNotFoundError:
        check = Check("p2_materializer_dry_run", 2, False, FAIL, f"cannot run {shown!r}: command not found")
        return PhaseResult(2, NAME, [check], {"p2_missing_outputs": len(mat.outputs)})
    except subprocess.TimeoutExpired:
        check = Check("p2_materializer_dry_run", 2, False, FAIL, f"{shown!r} timed out after {mat.timeout_s:g}s")
        return PhaseResult(2, NAME, [check], {"p2_missing_outputs": len(mat.outputs)})
    planned = _planned(proc.stdout)
    missing = [o for o in mat.outputs if o not in planned]
    offenders = [f"{o}: declared output not in the dry-run plan" for o in missing]
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        offenders.insert(0, f"exit {proc.returncode}: {tail[0][:200]}")
        status, detail = FAIL, f"{shown!r} exited {proc.returncode}"
    elif missing:
        status, detail = FAIL, f"{len(missing)} of {len(mat.outputs)} declared outputs missing from the plan"
    else:
        status, detail = PASS, f"{shown!r} exited 0 and planned all {len(mat.outputs)} declared outputs"
    check = Check("p2_materializer_dry_run", 2, False, status, detail, offenders[:10], len(offenders))
    return PhaseResult(2, NAME, [check], {"p2_declared_outputs": len(mat.outputs), "p2_missing_outputs": len(missing)})

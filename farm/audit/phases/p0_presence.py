"""Phase 0: file presence. Every required dataset has at least one readable file and holds at least one
record (a non-blank line); optional ones are reported; paths that matched but cannot be read safely (symlink
loops, symlinks out of the root, dangling symlinks) are named with their reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from farm.audit.layout import BASELINES
from farm.audit.paths import discover
from farm.audit.profile import AuditProfile
from farm.audit.result import FAIL, PASS, Check, PhaseResult

_WHITESPACE = b" \t\r\n"


def has_record(path: Path) -> bool:
    """True when the file holds a non-blank line; reads only up to the first one."""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 16):
            if chunk.strip(_WHITESPACE):
                return True
    return False


def phase0(root: str | Path, profile: AuditProfile) -> PhaseResult:
    missing_required: list[str] = []
    missing_optional: list[str] = []
    empty_required: list[str] = []
    problems: list[str] = []
    files: list[dict[str, Any]] = []
    present = 0
    for dataset, pattern in profile.paths.items():
        if dataset == BASELINES:  # the audit's own output, not an input
            continue
        found = discover(root, pattern)
        required = dataset in profile.required
        kind = "required" if required else "optional"
        for rel, reason in found.problems:
            problems.append(f"{rel}: {reason} (not read; {kind} dataset {dataset})")
            files.append({"dataset": dataset, "path": rel, "skipped": reason})
        files += [{"dataset": dataset, "path": rel, "skipped": note} for rel, note in found.notes]
        if found.files:
            present += 1
            if required and not any(has_record(Path(root) / rel) for rel in found.files):
                shown = ", ".join(found.files[:3]) + (", ..." if len(found.files) > 3 else "")
                empty_required.append(f"{shown}: no records (required dataset {dataset} is empty)")
        elif required:
            why = "; ".join(reason if rel == pattern else f"{rel}: {reason}" for rel, reason in found.problems) \
                or "missing"
            missing_required.append(f"{pattern}: {why} (required dataset {dataset})")
        else:
            missing_optional.append(f"{pattern}: absent (optional dataset {dataset})")
    n_req = len(profile.required)
    checks = [
        Check("p0_required_files", 0, True, PASS, f"all {n_req} required datasets present") if not missing_required
        else Check("p0_required_files", 0, True, FAIL, f"{len(missing_required)} of {n_req} required datasets "
                   "missing", missing_required, len(missing_required)),
        Check("p0_required_nonempty", 0, True, PASS, "every present required dataset holds records")
        if not empty_required else Check(
            "p0_required_nonempty", 0, True, FAIL, f"{len(empty_required)} required datasets are empty "
            "(a firewall or export check over nothing proves nothing)", empty_required, len(empty_required)),
        Check("p0_optional_files", 0, False, PASS,
              "all optional datasets present" if not missing_optional else f"{len(missing_optional)} optional absent",
              missing_optional, len(missing_optional)),
        Check("p0_file_discovery", 0, False, PASS, "every matched path is a readable file inside the root")
        if not problems else Check(
            "p0_file_discovery", 0, False, FAIL, f"{len(problems)} matched paths cannot be read safely",
            problems[:10], len(problems)),
    ]
    return PhaseResult(0, "file presence", checks, {
        "p0_files_present": present, "p0_required_missing": len(missing_required),
        "p0_required_empty": len(empty_required), "p0_path_problems": len(problems),
    }, files=files)

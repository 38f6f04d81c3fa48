"""Phase 0: file presence. Every required dataset has at least one file; optional ones are reported."""

from __future__ import annotations

from pathlib import Path

from farm.audit.layout import BASELINES
from farm.audit.profile import AuditProfile
from farm.audit.result import FAIL, PASS, Check, PhaseResult
from farm.audit.scan import resolve


def phase0(root: str | Path, profile: AuditProfile) -> PhaseResult:
    missing_required: list[str] = []
    missing_optional: list[str] = []
    present = 0
    for dataset, pattern in profile.paths.items():
        if dataset == BASELINES:  # the audit's own output, not an input
            continue
        if resolve(root, pattern):
            present += 1
        elif dataset in profile.required:
            missing_required.append(f"{pattern}: missing (required dataset {dataset})")
        else:
            missing_optional.append(f"{pattern}: absent (optional dataset {dataset})")
    required = Check(
        "p0_required_files", 0, True, PASS, f"all {len(profile.required)} required datasets present"
    ) if not missing_required else Check(
        "p0_required_files", 0, True, FAIL, f"{len(missing_required)} of {len(profile.required)} required datasets "
        "missing", missing_required, len(missing_required),
    )
    optional = Check(
        "p0_optional_files", 0, False, PASS,
        "all optional datasets present" if not missing_optional else f"{len(missing_optional)} optional absent",
        missing_optional, len(missing_optional),
    )
    return PhaseResult(0, "file presence", [required, optional], {
        "p0_files_present": present, "p0_required_missing": len(missing_required),
    })

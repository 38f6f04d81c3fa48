"""Safe file discovery under a data root: a dataset path or glob -> the files to read, each once.

Rules (docs/audit-layout.md, "Files, globs and symlinks"):
- a glob is expanded by walking the root without following directory symlinks, so `**` never loops
  (`scored/self -> .`) and never leaves the root; a directory symlink met on the way is noted, not entered;
- a matched file (or a plain path) is read only when its real path lies inside the root; a symlink whose
  target is outside, dangling or part of a loop is a problem (reported, not read);
- two matches that are the same file (a file symlink next to its target, hard links) are read once.
Hidden names (`.x`) match only a pattern segment that starts with a dot, as with `glob`.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

LOOP = "symlink loop"
OUTSIDE = "symlink leads outside the root"
DANGLING = "dangling symlink"
UNREADABLE = "not readable"
NOT_A_FILE = "not a regular file"


@dataclass
class Discovery:
    """What a dataset path resolved to: `files` to read (relative to the root, sorted), `problems` (a path that
    matched but cannot be read safely: `(rel, reason)`) and `notes` (skipped on purpose: aliases, directory
    symlinks not followed)."""

    files: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


def path_problem(path: str | Path) -> str | None:
    """Why `path` cannot be opened as it stands: a symlink loop, a dangling symlink, missing; None if it exists."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return LOOP
        if os.path.islink(path):
            return DANGLING
        return "missing" if exc.errno == errno.ENOENT else (exc.strerror or str(exc))
    return None


def _inside(real: str, root_real: str) -> bool:
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def _match_segment(name: str, pat: str) -> bool:
    if name.startswith(".") and not pat.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pat)


def _expand(base: Path, parts: list[str], rel: str, out: list[str], notes: list[tuple[str, str]]) -> None:
    """Match `parts` (pattern segments) under directory `base` (`rel` from the root), never entering a
    directory symlink."""
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        _expand(base, rest, rel, out, notes)  # zero directories
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            sub = f"{rel}{entry.name}"
            if entry.is_symlink():
                if os.path.isdir(entry.path):
                    notes.append((sub, "directory symlink not followed"))
                continue
            if entry.is_dir(follow_symlinks=False):
                _expand(Path(entry.path), parts, f"{sub}/", out, notes)
        return
    if not glob.has_magic(head):
        target = base / head
        if rest:
            if target.is_symlink() and target.is_dir():
                notes.append((f"{rel}{head}", "directory symlink not followed"))
            elif target.is_dir():
                _expand(target, rest, f"{rel}{head}/", out, notes)
        elif os.path.lexists(target):
            out.append(f"{rel}{head}")
        return
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if not _match_segment(entry.name, head):
            continue
        sub = f"{rel}{entry.name}"
        if rest:
            if entry.is_symlink():
                if os.path.isdir(entry.path):
                    notes.append((sub, "directory symlink not followed"))
            elif entry.is_dir(follow_symlinks=False):
                _expand(Path(entry.path), rest, f"{sub}/", out, notes)
        else:
            out.append(sub)


def discover(root: str | Path, pattern: str) -> Discovery:
    """The files a dataset path (a path or a glob, relative to `root`) names, safely; see the module doc."""
    found = Discovery()
    base = Path(root)
    parts = [p for p in pattern.replace(os.sep, "/").split("/") if p not in ("", ".")]
    if pattern.startswith("/") or ".." in parts:
        found.problems.append((pattern, "path leaves the root (absolute or with ..)"))
        return found
    candidates: list[str] = []
    if glob.has_magic(pattern):
        _expand(base, parts, "", candidates, found.notes)
    elif os.path.lexists(base / pattern):
        candidates.append("/".join(parts))
    root_real = os.path.realpath(base)
    seen: dict[tuple[int, int], str] = {}
    # A real file before any symlink to it, so an alias is the one noted as read once.
    for rel in sorted(set(candidates), key=lambda r: (os.path.islink(base / r), r)):
        path = base / rel
        problem = path_problem(path)
        if problem is not None:
            if glob.has_magic(pattern) and problem == "missing":
                continue
            found.problems.append((rel, problem))
            continue
        if not _inside(os.path.realpath(path), root_real):
            found.problems.append((rel, f"{OUTSIDE} ({os.path.realpath(path)})"))
            continue
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            if not glob.has_magic(pattern):
                found.problems.append((rel, NOT_A_FILE))
            continue  # a glob like `scored/*` also lists directories: not datasets
        if not stat.S_ISREG(st.st_mode):
            found.problems.append((rel, NOT_A_FILE))
            continue
        if not os.access(path, os.R_OK):
            found.problems.append((rel, UNREADABLE))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            found.notes.append((rel, f"same file as {seen[key]}: read once"))
            continue
        seen[key] = rel
        found.files.append(rel)
    found.files.sort()
    return found

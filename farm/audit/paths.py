"""Safe file discovery under a data root: a dataset path or glob -> the files to read, each once.

Rules (docs/audit-layout.md, "Files, globs and symlinks"):
- `**` never enters a directory symlink, so a recursive glob never loops (`scored/self -> .`); a literal or
  `*` segment follows a directory symlink only when its target is inside the root; skipped ones are noted;
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


def _unreadable(exc: OSError, rel_dir: str | None) -> str:
    """Why a directory (`rel_dir`, or None: the path the problem is filed under) could not be listed or
    searched: an unreadable one is named as such, never as missing."""
    where = "directory" if rel_dir is None else f"directory {rel_dir.rstrip('/') or '.'}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{UNREADABLE} ({where})"
    return f"{where}: {exc.strerror or exc}"


def _blocked(base: Path, parts: list[str]) -> str | None:
    """For a literal path under the root `base` that `lstat` cannot reach: why, naming the directory on the
    way that cannot be searched; None when the path is simply absent."""
    for i in range(len(parts)):
        try:
            os.lstat(base.joinpath(*parts[: i + 1]))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            return _unreadable(exc, "/".join(parts[:i]))
    return None


def _inside(real: str, root_real: str) -> bool:
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def _match_segment(name: str, pat: str) -> bool:
    if name.startswith(".") and not pat.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pat)


def _subdir(path: Path, rel: str, root_real: str, notes: list[tuple[str, str]]) -> bool:
    """May a literal or `*`-matched segment descend into `path`? A directory, or a directory symlink whose target
    is inside the root (the pattern's depth is finite, so it cannot loop; files reached twice are read once)."""
    if not path.is_dir():
        return False
    if path.is_symlink() and not _inside(os.path.realpath(path), root_real):
        notes.append((rel, f"directory symlink not followed: it leads outside the root ({os.path.realpath(path)})"))
        return False
    return True


def _expand(base: Path, parts: list[str], rel: str, root_real: str, out: list[str], found: Discovery) -> None:
    """Match `parts` (pattern segments) under directory `base` (`rel` from the root); `**` never enters a
    directory symlink (that is how a recursive glob loops: `scored/self -> .`). A directory that cannot be
    listed is a problem (`not readable`), never silently an empty match."""
    if not parts:
        return
    notes = found.notes
    head, rest = parts[0], parts[1:]
    if head == "**":
        _expand(base, rest, rel, root_real, out, found)  # zero directories
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError as exc:
            found.problems.append((rel.rstrip("/") or ".", _unreadable(exc, None)))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            sub = f"{rel}{entry.name}"
            if entry.is_symlink():
                if os.path.isdir(entry.path):
                    notes.append((sub, "directory symlink not followed by **"))
            elif entry.is_dir(follow_symlinks=False):
                _expand(Path(entry.path), parts, f"{sub}/", root_real, out, found)
        return
    if not glob.has_magic(head):
        names = [head] if os.path.lexists(base / head) else []
        if not names:
            try:
                os.lstat(base / head)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):  # `base` itself cannot be searched
                    found.problems.append((rel.rstrip("/") or ".", _unreadable(exc, None)))
    else:
        try:
            names = sorted(e.name for e in os.scandir(base) if _match_segment(e.name, head))
        except OSError as exc:
            found.problems.append((rel.rstrip("/") or ".", _unreadable(exc, None)))
            return
    for name in names:
        sub = f"{rel}{name}"
        if not rest:
            out.append(sub)
        elif _subdir(base / name, sub, root_real, notes):
            _expand(base / name, rest, f"{sub}/", root_real, out, found)


def discover(root: str | Path, pattern: str) -> Discovery:
    """The files a dataset path (a path or a glob, relative to `root`) names, safely; see the module doc."""
    found = Discovery()
    base = Path(root)
    parts = [p for p in pattern.replace(os.sep, "/").split("/") if p not in ("", ".")]
    if pattern.startswith("/") or ".." in parts:
        found.problems.append((pattern, "path leaves the root (absolute or with ..)"))
        return found
    candidates: list[str] = []
    root_real = os.path.realpath(base)
    if glob.has_magic(pattern):
        _expand(base, parts, "", root_real, candidates, found)
    elif os.path.lexists(base / pattern):
        candidates.append("/".join(parts))
    else:
        blocked = _blocked(base, parts)
        if blocked is not None:  # a directory on the way cannot be searched: the file may well be there
            found.problems.append(("/".join(parts), blocked))
    seen: dict[tuple[int, int], str] = {}
    def via_link(rel: str) -> bool:  # reached through a symlink somewhere on its path
        return os.path.relpath(os.path.realpath(base / rel), root_real) != os.path.normpath(rel)

    # A real path before any symlinked one to the same file, so the alias is the one noted as read once.
    for rel in sorted(set(candidates), key=lambda r: (via_link(r), r)):
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
    found.problems = sorted(set(found.problems))  # `**` may meet one unreadable directory twice
    found.notes.sort()
    return found

"""The database mirror of baseline logs (table `audit_baselines`, SQL in `farm.store.baselines`).

The file is the source of truth. Every append (`append_baseline(..., database_url=...)`) and every export
reconciles the mirror with the file under the file's lock, so a writer killed between its file write and its
database commit leaves a mirror that the next append or export brings level (and says so).
`import_log` then `export_log` gives the file back byte for byte.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from farm.audit.baselines import BaselineEntry, load_log
from farm.errors import UsageError
from farm.store import baselines as store
from farm.store.baselines import Reconciled


def _line(log_path: str, entry: BaselineEntry) -> store.MirrorLine:
    try:
        text = entry.raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{log_path}: line {entry.seq + 1} is not UTF-8 text") from None
    return store.MirrorLine(
        seq=entry.seq, line=text, run_id=entry.run_id, host=entry.host, root=entry.root,
        implementation=entry.implementation, recorded_at=entry.recorded_at, metrics=entry.metrics,
    )


def log_key(file: str | Path) -> str:
    """The name a log is mirrored under: its absolute, resolved path."""
    return str(Path(file).resolve())


@contextmanager
def locked(file: str | Path) -> Iterator[None]:
    """The log's exclusive lock (the one appenders take), so a reconcile never races an append."""
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(f"cannot read baseline log {str(file)!r}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def reconcile_locked(database_url: str, file: str | Path, log_path: str | None = None) -> Reconciled:
    """Reconcile the mirror with `file`; the caller holds the log's lock. A torn final line is not mirrored."""
    key = log_path or log_key(file)
    log = load_log(file)
    return store.reconcile(database_url, key, [_line(key, e) for e in log.entries])


def reconcile_log(database_url: str, file: str | Path, log_path: str | None = None) -> Reconciled:
    """Reconcile the mirror of `file` with it, under the log's lock."""
    with locked(file):
        return reconcile_locked(database_url, file, log_path)


def import_log(database_url: str, file: str | Path, log_path: str | None = None,
               warn: Callable[[str], None] | None = None) -> int:
    """Mirror every line of `file` under `log_path` (default: the file's absolute path), replacing what was
    mirrored there before. Returns the number of lines. A torn final line is not imported; a file with no
    baseline entry is refused (it is not a log); lines that are not entries are kept but `warn` names them."""
    if not Path(file).is_file():
        raise UsageError(f"baseline log {str(file)!r} not found")
    key = log_path or log_key(file)
    log = load_log(file)
    if not log.valid:
        raise UsageError(f"{str(file)!r} holds no baseline entry: nothing imported (not a baseline log?)")
    garbage = log.garbage()
    if garbage and warn is not None:
        warn(garbage)
    return store.replace_log(database_url, key, [_line(key, e) for e in log.entries])


def mirrored_logs(database_url: str) -> list[str]:
    return store.mirrored_logs(database_url)


@dataclass(frozen=True)
class Export:
    """A mirrored log's bytes and what was done first: `reconciled` (the mirror was behind or differed and was
    brought level from the file), or `file_absent` (the file is not on this host: exported as mirrored)."""

    log_path: str
    data: bytes
    reconciled: Reconciled | None
    file_absent: bool

    def warning(self) -> str | None:
        r = self.reconciled
        if r is not None and r.changed:
            how = f"{r.before} of {r.lines} lines mirrored" if not r.rewritten else \
                f"{r.before} mirrored lines differed from the file's {r.lines}"
            return f"the database mirror of {self.log_path} was behind its file ({how}); reconciled from the file"
        if self.file_absent:
            return f"{self.log_path} is not a file on this host: exported as mirrored, not checked against a file"
        return None


def export(database_url: str, log_path: str | None = None) -> Export:
    """The mirrored log's bytes, lines in `seq` order, after reconciling with the file when it is here.
    Without `log_path`, the only log mirrored."""
    if log_path is None:
        logs = mirrored_logs(database_url)
        if not logs:
            raise UsageError("no baseline log is mirrored in this database")
        if len(logs) > 1:
            raise UsageError(f"several baseline logs are mirrored; pick one with --log-path: {', '.join(logs)}")
        log_path = logs[0]
    here = os.path.isabs(log_path) and Path(log_path).is_file()  # an --log-path name is not a file
    reconciled = reconcile_log(database_url, log_path, log_path) if here else None
    lines = store.mirrored_lines(database_url, log_path)
    if not lines:
        raise UsageError(f"no baseline log mirrored under {log_path!r}")
    return Export(log_path, "".join(lines).encode("utf-8"), reconciled, reconciled is None)


def export_log(database_url: str, log_path: str | None = None) -> bytes:
    """`export(...).data`: the mirrored log's bytes (reconciled with the file first when it is here)."""
    return export(database_url, log_path).data

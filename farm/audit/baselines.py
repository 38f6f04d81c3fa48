"""The baseline log: JSON Lines, one envelope per audit run, at `data/_kb/audit_baselines.jsonl` by default.

- Load keeps every line's original bytes, so load-then-write is byte-identical, and envelopes written by
  other implementations (any JSON object with a `metrics` table) are accepted and kept exactly as written.
- New envelopes are written with sorted keys and a trailing newline.
- Append is atomic: the whole line goes out in one `os.write` on an `O_APPEND` descriptor, under an exclusive
  `fcntl.flock` on the log, so concurrent appenders are serialised and a killed writer leaves either the
  whole line or nothing. A torn final line (no trailing newline, not valid JSON: a writer that crashed some
  other way) is ignored by `load_log` and cut off by the next append (with a warning); an unterminated final
  line that *is* a valid envelope is kept and terminated before the new line. A non-empty file with no
  baseline entry is not a log: append refuses it rather than cut its last line.
- Appends may be mirrored into the `audit_baselines` table: each append reconciles the mirror with the whole
  file (the source of truth) under the same lock (`farm.audit.mirror`); `import_log` / `export_log`
  round-trip a log through the database byte for byte.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from farm.audit.paths import path_problem
from farm.errors import FarmError, UsageError, outage, user_error

_TIME_KEYS = ("timestamp", "recorded_at", "ts", "time")
_IMPL_KEYS = ("implementation", "runtime", "impl")


@dataclass(frozen=True)
class BaselineEntry:
    """One line of the log: `raw` is its exact bytes (with its newline, if it had one)."""

    seq: int
    raw: bytes
    data: dict[str, Any] | None

    @property
    def valid(self) -> bool:
        return self.data is not None

    def _str(self, *keys: str) -> str | None:
        for key in keys:
            value = (self.data or {}).get(key)
            if isinstance(value, str):
                return value
        return None

    @property
    def metrics(self) -> dict[str, Any]:
        return dict((self.data or {}).get("metrics") or {})

    @property
    def run_id(self) -> str | None:
        return self._str("run_id")

    @property
    def host(self) -> str | None:
        return self._str("host", "hostname")

    @property
    def root(self) -> str | None:
        return self._str("root")

    @property
    def implementation(self) -> str | None:
        return self._str(*_IMPL_KEYS)

    @property
    def recorded_at(self) -> str | None:
        return self._str(*_TIME_KEYS)

    @property
    def label(self) -> str:
        parts = [p for p in (self.recorded_at, self.implementation) if p]
        return f"#{self.seq}" + (f" ({', '.join(parts)})" if parts else "")


@dataclass
class BaselineLog:
    path: str
    entries: list[BaselineEntry] = field(default_factory=list)
    torn: bytes = b""

    @property
    def valid(self) -> list[BaselineEntry]:
        return [e for e in self.entries if e.valid]

    def last(self) -> BaselineEntry | None:
        valid = self.valid
        return valid[-1] if valid else None

    def history(self) -> list[dict[str, Any]]:
        """Metrics of every valid entry, oldest first (the drift table's input)."""
        return [e.metrics for e in self.valid]

    def to_bytes(self) -> bytes:
        return b"".join(e.raw for e in self.entries)

    @property
    def foreign(self) -> bool:
        """Not empty (blank lines aside) yet no baseline entry: some other file, never to be appended to."""
        return not self.valid and (bool(self.torn.strip()) or any(e.raw.strip() for e in self.entries))

    def garbage(self) -> str | None:
        """One line naming the lines that are not baseline entries (blank lines aside) and the first of them,
        or None: the loader ignores them, so whoever reads the log says so rather than hide them."""
        bad = [e.seq + 1 for e in self.entries if not e.valid and e.raw.strip()]
        if self.torn:
            bad.append(len(self.entries) + 1)
        if not bad:
            return None
        lines = "1 line is" if len(bad) == 1 else f"{len(bad)} lines are"
        return f"{self.path}: {lines} not a baseline entry and ignored (first at {self.path}:{bad[0]})"


def parse_envelope(raw: bytes) -> dict[str, Any] | None:
    """The envelope on one line, or None when it is not a JSON object with a `metrics` object."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
        return data
    return None


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from fh


def load_log(path: str | Path) -> BaselineLog:
    """Every line of the log (a missing file is an empty log); see the module doc for torn lines."""
    p = Path(path)
    log = BaselineLog(str(p))
    problem = path_problem(p)
    if problem == "missing":
        return log
    if problem is not None:
        raise UsageError(f"baseline log {str(p)!r}: {problem}")
    if not p.is_file():
        raise UsageError(f"baseline log {str(p)!r} is not a file")
    for raw in _lines(p):
        data = parse_envelope(raw)
        if not raw.endswith(b"\n") and data is None:
            log.torn = raw
            break
        log.entries.append(BaselineEntry(len(log.entries), raw, data))
    return log


def load_last(path: str | Path) -> BaselineEntry | None:
    return load_log(path).last()


def write_log(log: BaselineLog, path: str | Path) -> None:
    """Write the log's lines exactly (torn tail dropped), atomically: temp file, fsync, rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for entry in log.entries:
                fh.write(entry.raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode_envelope(envelope: Mapping[str, Any]) -> bytes:
    """A new log line: sorted keys, compact, one trailing newline."""
    if not isinstance(envelope.get("metrics"), dict):
        raise UsageError("a baseline envelope needs a `metrics` object")
    return orjson.dumps(dict(envelope), option=orjson.OPT_SORT_KEYS) + b"\n"


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    parts, pos = [], 0
    while pos < size:
        chunk = os.pread(fd, 1 << 20, pos)
        if not chunk:
            break
        parts.append(chunk)
        pos += len(chunk)
    return b"".join(parts)


class MirrorFailed(FarmError):
    """The line is in the file but the database mirror could not be updated (exit 2, a service down)."""


def not_a_log(path: str | Path) -> UsageError:
    return UsageError(f"refusing to append to {str(path)!r}: it is not empty and holds no baseline entry "
                      "(not a baseline log?)")


def _warn_log(message: str) -> None:
    logging.getLogger(__name__).warning("%s", message)


def append_baseline(
    path: str | Path, envelope: Mapping[str, Any], *, database_url: str | None = None,
    warn: Callable[[str], None] = _warn_log,
) -> BaselineEntry:
    """Append one envelope atomically (see the module doc); with a database URL, reconcile the mirror with the
    file (this line and any an earlier, killed appender left unmirrored) before releasing the lock.

    Refuses (UsageError) a non-empty file holding no baseline entry: it is some other file, and cutting its
    unterminated last line as "torn" would destroy data. A torn final line of a real log is cut and `warn`
    says so."""
    p = Path(path)
    line = encode_envelope(envelope)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        why = path_problem(p) if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise UsageError(f"cannot append to baseline log {str(p)!r}: {why}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = _read_fd(fd)  # under the lock: what is decided below is what gets appended to
        last_nl = data.rfind(b"\n") + 1
        complete, tail = data[:last_nl].splitlines(keepends=True), data[last_nl:]
        tail_valid = bool(tail) and parse_envelope(tail) is not None
        if data.strip() and not tail_valid and not any(parse_envelope(raw) is not None for raw in complete):
            raise not_a_log(p)
        lines, payload = len(complete), line
        if tail_valid:  # an unterminated but whole entry: keep it, terminate it
            payload, lines = b"\n" + line, lines + 1
        elif tail:
            os.ftruncate(fd, last_nl)
            warn(f"{p}: cut a torn final line ({len(tail)} bytes, not a baseline entry: a writer died mid-line) "
                 f"before appending")
        written = os.write(fd, payload)
        if written != len(payload):  # a full disk: never leave a partial line behind
            os.ftruncate(fd, os.fstat(fd).st_size - written)
            raise UsageError(f"could not append to {p}: short write ({written} of {len(payload)} bytes)")
        os.fsync(fd)
        if database_url:  # still under the lock: the mirror catches up with the whole file, not just this line
            _mirror(database_url, p, lines + 1)
    finally:
        os.close(fd)  # closing releases the lock
    return BaselineEntry(lines, line, dict(envelope))


def _mirror(database_url: str, p: Path, line_no: int) -> None:
    from farm.audit.mirror import reconcile_locked

    try:
        reconcile_locked(database_url, p)
    except Exception as exc:
        # The line is already in the file (the source of truth): a retry of the audit would append it twice.
        why = outage(exc) or user_error(exc) or (str(exc).strip().splitlines() or [type(exc).__name__])[0][:240]
        raise MirrorFailed(
            f"baseline appended to {p} (line {line_no}), but the database mirror was not updated ({why}); do not "
            f"re-run the audit for it: the next --append-baseline to this log or `farm baselines import {p}` "
            "brings the mirror level"
        ) from exc

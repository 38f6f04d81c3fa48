"""User-facing errors: each carries the exit code the CLI returns and prints as one line."""

from __future__ import annotations

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_SIDE_FAILED = 4  # a side failed on every sample: no comparison was possible (farm.sweep.health)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells report it): the work so far is kept


class FarmError(Exception):
    """An error the user can fix; the CLI prints it as one line, never a traceback."""

    exit_code = EXIT_USAGE


class ConfigError(FarmError):
    """A bad `farm.toml` (or environment variable): names the file, the key and the problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


class UsageError(FarmError):
    """Bad arguments or input data (missing corpus file, unknown gateway, ...)."""


class ServiceUnavailable(FarmError):
    """The database or the broker stayed unreachable past the reconnect budget (exit code 2)."""


_DB_MODULES = ("sqlalchemy.", "psycopg", "sqlite3")
_BROKER_MODULES = ("kombu.", "redis.", "amqp.")
_OUTAGE_CLASSES = {
    "sqlalchemy.exc.OperationalError", "sqlalchemy.exc.InterfaceError", "psycopg.OperationalError",
    "psycopg.InterfaceError", "sqlite3.OperationalError", "kombu.exceptions.OperationalError",
    "redis.exceptions.ConnectionError", "redis.exceptions.TimeoutError", "amqp.exceptions.ConnectionError",
    "amqp.exceptions.RecoverableConnectionError", "builtins.ConnectionError", "builtins.TimeoutError",
}

# A database error about the schema, not the connection (a table or column missing or already there).
_SCHEMA_WORDS = ("no such table", "no such column", "has no column named", "duplicate column", "already exists")


def outage(exc: BaseException) -> str | None:
    """One line for a lost or refused connection to the database or the broker, or a full disk; None for any
    other error. Reads class names only, so the CLI pays no import for it; never prints bound parameters."""
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"disk full: cannot write {exc.filename or 'a file'}"
    if isinstance(exc, BrokenPipeError):  # `farm ... | head`: the reader left, no service is down
        return None
    mro = type(exc).__mro__
    names = {f"{c.__module__}.{c.__qualname__}" for c in mro}
    invalidated = bool(getattr(exc, "connection_invalidated", False))
    if not (names & _OUTAGE_CLASSES or invalidated):
        return None
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:240]
    if any(words in text for words in _SCHEMA_WORDS):
        return None  # SQLite says this with OperationalError too; waiting would not change the schema
    if "disk is full" in text or "No space left" in text or "DiskFull" in type(orig).__name__:
        return f"disk full: {text}"
    module = type(exc).__module__
    service = ("database" if module.startswith(_DB_MODULES) else
               "broker" if module.startswith(_BROKER_MODULES) else "a service")
    return f"{service} unreachable: {text}"


class Interrupted(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt: what catches BaseException (a sweep
    marking itself failed, a lock released) runs, then the CLI prints one line."""


_CONFIG_CLASSES = {"sqlalchemy.exc.ArgumentError", "sqlalchemy.exc.NoSuchModuleError"}


def user_error(exc: BaseException) -> str | None:
    """One line for an error the user's input or machine caused that no FarmError names: a path that cannot be
    read or written, a database URL of an unknown kind, a file that is not a database; None for anything else
    (a bug: its traceback is wanted)."""
    names = {f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__}
    if names & _CONFIG_CLASSES:
        return f"database URL: {(str(exc).splitlines() or [type(exc).__name__])[0][:240]}"
    if "sqlalchemy.exc.DatabaseError" in names:
        orig = getattr(exc, "orig", None) or exc
        return f"database: {(str(orig).strip().splitlines() or [type(orig).__name__])[0][:240]}"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return None

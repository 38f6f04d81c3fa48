"""User-facing errors: each carries the exit code the CLI returns and prints as one line."""

from __future__ import annotations

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3


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

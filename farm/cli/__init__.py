"""`farm`: the command line. Commands parse and validate, then call library functions.

Exit codes: 0 PASS (or success), 1 FAIL, 2 usage or configuration error (or a service unreachable), 3
INCONCLUSIVE, 4 a side failed on every sample, 130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click

from farm import __version__
from farm.cli.common import OneLineGroup
from farm.errors import EXIT_INTERRUPTED, EXIT_USAGE, FarmError, Interrupted, outage, user_error
from farm.interrupt import terminate

# Subcommands are imported only when used: `farm sweep ...` never pays for Celery, scipy.optimize or
# the audit code. The one-line help shown by `farm --help` is kept here; a test checks it matches.
COMMANDS: dict[str, tuple[str, str]] = {
    "adapter": ("farm.cli.adapter", "The flip: a sweep's adapter map shown, exported, or served before the candidate."),
    "audit": ("farm.cli.audit", "Audit a data root: phases 0-7, metrics, checks, drift against the baseline log."),
    "baselines": ("farm.cli.audit", "The audit baseline log: import, export and drift tables."),
    "db": ("farm.cli.dbcmd", "The results database: migrate it, show its schema revision."),
    "demo": ("farm.cli.demo", "Watch real parity sweeps between real HTTP gateways on loopback, one per probe."),
    "flower": ("farm.cli.stack", "Flower, watching the probe workers (basic auth required)."),
    "gateways": ("farm.cli.gateways", "Demo gateways to try the farm on (tests and benchmarks use them too)."),
    "init": ("farm.cli.init", "Write a commented example farm.toml."),
    "report": ("farm.cli.report", "Re-render a sweep's Markdown report (and plots) from the database."),
    "shadow": ("farm.cli.shadow", "A mirroring proxy in front of legacy: live traffic judged against the candidate."),
    "signoff": ("farm.cli.signoff", "Is the gateway safe to flip? Every endpoint of the [signoff] plan must PASS."),
    "stack": ("farm.cli.stack", "The distributed farm as local processes, or as docker-compose.yml."),
    "stats": ("farm.cli.stats", "Statistics engine: check the verdict rules against simulated sweeps."),
    "sweep": ("farm.cli.sweep", "Run parity sweeps between a legacy gateway and a candidate."),
    "ui": ("farm.cli.ui", "Web pages over the results: migration board, sweeps (live), audits; read-only."),
}


# They serve until stopped: SIGTERM is their normal end, not an error.
SERVERS = {"adapter", "gateways", "flower", "stack", "ui"}


class FarmGroup(OneLineGroup):
    """Loads subcommands lazily, and turns every `FarmError` into one line on stderr and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in SERVERS and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, terminate)  # work cut short by SIGTERM ends as Ctrl-C does
        module = importlib.import_module(COMMANDS[cmd_name][0])
        commands: list[click.Command] = module.COMMANDS
        return next(c for c in commands if c.name == cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, help_text) in sorted(COMMANDS.items())])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FarmError as exc:
            click.echo(f"farm: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, Interrupted) as exc:
            how = "SIGTERM" if isinstance(exc, Interrupted) else "Ctrl-C"
            click.echo(f"farm: interrupted ({how})", err=True)  # a sweep cut so is marked failed, not left running
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # a service lost mid-command, a full disk, a path or URL that cannot work
            what = outage(exc) or user_error(exc)
            if what is None:
                raise
            click.echo(f"farm: error: {what}", err=True)
            ctx.exit(EXIT_USAGE)


@click.group(cls=FarmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="farm")
@click.option(
    "--config", "config_path", envvar="FARM_CONFIG", type=click.Path(dir_okay=False),
    help="farm.toml to use (default: $FARM_CONFIG, else ./farm.toml if present, else built-in defaults).",
)
@click.pass_context
def main_group(ctx: click.Context, config_path: str | None) -> None:
    """The probe farm: prove, with large samples and statistics, that a rewritten gateway answers
    like the one it replaces, and keep a drift-checked audit of the data behind it.

    Start with `farm demo`. Exit codes: 0 PASS, 1 FAIL, 2 usage/config error or a service down, 3 INCONCLUSIVE,
    4 a side failed on every sample, 130 interrupted.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def main(argv: Sequence[str] | None = None) -> None:
    try:
        main_group.main(args=list(argv) if argv is not None else None, prog_name="farm")
    except FarmError as exc:  # raised while parsing options (e.g. a bad --config)
        click.echo(f"farm: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


__all__ = ["main", "main_group"]

"""`farm audit` (run the eight-phase audit of a data root; compare; generate fixtures) and `farm baselines`
(mirror a baseline log into the database and back). The work is in `farm.audit`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from farm.cli.common import OneLineGroup, config_from
from farm.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, UsageError

_EXIT = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path!r}: {exc.strerror or exc}") from None


def _warn(message: str | None) -> None:
    if message:
        click.echo(f"farm: warning: {message}", err=True)


def _profile(ctx: click.Context, name: str | None) -> object:
    from farm.audit.profile import profile_from_config

    return profile_from_config(config_from(ctx), name)


@click.group("audit", cls=OneLineGroup, invoke_without_command=True)
@click.option("--root", help="The data root to audit (a directory).")
@click.option("--out", help="Write the Markdown report here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--append-baseline", is_flag=True, help="Append this run to the baseline log (and mirror it).")
@click.option("--profile", "profile_name", help="Audit profile from farm.toml ([audit.profiles.NAME]).")
@click.option("--baseline-log",
              help="Baseline log (default: the profile's, data/_kb/audit_baselines.jsonl under the root).")
@click.option("--phases", default="0-7", show_default=True, help="Phases to run, e.g. 0,3,4 or 0-7.")
@click.option("--no-mirror", is_flag=True, help="With --append-baseline: do not mirror into the database.")
@click.pass_context
def audit_group(
    ctx: click.Context, root: str | None, out: str | None, as_json: bool, append_baseline: bool,
    profile_name: str | None, baseline_log: str | None, phases: str, no_mirror: bool,
) -> None:
    """Audit a data root: `farm audit --root R [--out report.md] [--json] [--append-baseline]`.

    Runs the eight phases (0 presence, 1 schema, 2 materializer dry-run, 3 scored runs, 4 contamination
    firewall, 5 receipts, 6 replay, 7 lineage), prints a drift table against the baseline log, and exits 0
    when every required check passes, 1 when one fails, 3 when one is inconclusive (e.g. a firewall with
    nothing to check against), 2 on usage errors. Subcommands: `compare`, `fixture`.
    """
    if ctx.invoked_subcommand is not None:
        if root or out or as_json or append_baseline:
            raise UsageError("--root/--out/--json/--append-baseline go without a subcommand")
        return
    if root is None:
        raise UsageError("missing --root (or a subcommand: compare, fixture)")
    from farm.audit.audit import baseline_log_path, run_audit
    from farm.audit.baselines import append_baseline as append
    from farm.audit.baselines import load_log, not_a_log
    from farm.audit.phases import ALL_PHASES, check_root
    from farm.audit.profile import AuditProfile
    from farm.audit.report import format_report
    from farm.cli.audit_progress import audit_progress

    profile = _profile(ctx, profile_name)
    assert isinstance(profile, AuditProfile)
    selected = _parse_phases(phases)
    if append_baseline and tuple(selected) != ALL_PHASES:
        # a partial entry would become the next full run's baseline, every metric it lacks then NEW_METRIC
        raise UsageError(f"--append-baseline needs all phases 0-7 (got --phases {phases}): a baseline entry "
                         "is a whole audit")
    log = Path(baseline_log) if baseline_log else baseline_log_path(root, profile)
    check_root(root)  # before the log under it: a root that is a file is named as the root
    history = load_log(log)
    if append_baseline and history.foreign:  # refused now, not after the audit (append_baseline checks again)
        raise not_a_log(log)
    _warn(history.garbage())
    with audit_progress() as progress:
        report = run_audit(root, profile, phases=selected, log=history, progress=progress)
    markdown = format_report(report)
    if out:
        _write_text(out, markdown)
    if as_json:
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    elif out:
        click.echo(f"audit {report.headline()}; report in {out}")
    else:
        click.echo(markdown, nl=False)
    if append_baseline:
        url = None if no_mirror else config_from(ctx).database_url
        entry = append(log, report.envelope(), database_url=url, warn=_warn)
        click.echo(f"baseline appended to {log} (line {entry.seq + 1})", err=True)
    ctx.exit(_EXIT[report.verdict])


def _parse_phases(spec: str) -> list[int]:
    from farm.audit.phases import ALL_PHASES

    out: set[int] = set()
    expected = f"--phases: expected phases 0 to 7 like 0,3,4 or 0-7, got {spec!r}"
    for part in spec.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi if dash else lo)
        except ValueError:
            raise UsageError(expected) from None
        if last < first:  # `7-0` selects nothing: say so rather than audit nothing
            raise UsageError(f"--phases: range {part.strip()!r} is reversed (did you mean {last}-{first}?)")
        if first not in ALL_PHASES or last not in ALL_PHASES:
            raise UsageError(expected)
        out.update(range(first, last + 1))
    return sorted(out)


@audit_group.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--strict", is_flag=True, help="Also fail when a metric exists on one side only.")
@click.option("--profile", "profile_name", help="Audit profile for sides that are data roots.")
@click.option("--out", help="Write the Markdown comparison here.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_context
def compare_cmd(ctx: click.Context, a: str, b: str, strict: bool, profile_name: str | None, out: str | None,
                as_json: bool) -> None:
    """Do two audits agree metric by metric? A and B are each a data root, a baseline log (its last entry) or
    LOG@N (entry N of a log, negative from the end). Exit 0 when they agree, 1 when not."""
    from farm.audit.compare import compare_metrics, resolve_side
    from farm.audit.profile import AuditProfile
    from farm.audit.report import format_comparison

    profile = _profile(ctx, profile_name)
    assert isinstance(profile, AuditProfile)
    side_a, side_b = resolve_side(a, profile), resolve_side(b, profile)
    for side in (side_a, side_b):
        _warn(side.warning)
    cmp = compare_metrics(side_a, side_b)
    text = format_comparison(cmp, strict)
    if out:
        _write_text(out, text)
    if as_json:
        rows = [{"metric": r.metric, "a": r.a, "b": r.b, "status": r.status} for r in cmp.rows]
        click.echo(orjson.dumps({"agree": cmp.agree(strict), "summary": cmp.summary(strict), "a": cmp.a.label,
                                 "b": cmp.b.label, "rows": rows}, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(text if not out else cmp.summary(strict), nl=not text.endswith("\n") or bool(out))
    ctx.exit(EXIT_PASS if cmp.agree(strict) else EXIT_FAIL)


@audit_group.command("fixture")
@click.option("--root", required=True, help="Directory to write the root into.")
@click.option("--rows", type=click.IntRange(min=8), help="Scale to about this many rows (default: the seed's).")
def fixture_cmd(root: str, rows: int | None) -> None:
    """Write a clean root in the default layout (the seed's figures, or scaled to --rows)."""
    from farm.audit.fixtures import generate_root

    if Path(root).exists() and not Path(root).is_dir():
        raise UsageError(f"{root!r} is not a directory")
    if Path(root).exists() and any(Path(root).iterdir()):
        raise UsageError(f"{root!r} is not empty; pick a new directory for the fixture")
    counts = generate_root(root, rows)
    click.echo(f"wrote {sum(counts.values())} rows to {root}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@click.group("baselines", cls=OneLineGroup)
def baselines_group() -> None:
    """The baseline log in the database: `import FILE` mirrors a log, `export` writes it back byte for byte."""


@baselines_group.command("import")
@click.argument("file")
@click.option("--log-path", help="Name to mirror the log under (default: the file's absolute path).")
@click.pass_context
def import_cmd(ctx: click.Context, file: str, log_path: str | None) -> None:
    """Mirror every line of a baseline log FILE into the database (replacing an earlier import of it)."""
    from farm.audit.mirror import import_log

    n = import_log(config_from(ctx).database_url, file, log_path, warn=_warn)
    click.echo(f"imported {n} baseline lines from {file}")


@baselines_group.command("export")
@click.option("--log-path", help="Which mirrored log (needed when several are mirrored).")
@click.option("--out", help="Write here instead of stdout.")
@click.pass_context
def export_cmd(ctx: click.Context, log_path: str | None, out: str | None) -> None:
    """Write a mirrored baseline log back, byte for byte. When the log's file is on this host the mirror is first
    reconciled with it (the file is the source of truth), with a warning on stderr if it was behind."""
    from farm.audit.baselines import BaselineEntry, BaselineLog, write_log
    from farm.audit.mirror import export

    result = export(config_from(ctx).database_url, log_path)
    warning = result.warning()
    if warning:
        click.echo(f"farm: warning: {warning}", err=True)
    data = result.data
    if out:
        lines = data.splitlines(keepends=True)
        write_log(BaselineLog(out, [BaselineEntry(i, line, None) for i, line in enumerate(lines)]), out)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@baselines_group.command("drift")
@click.argument("log")
@click.option("--profile", "profile_name", help="Audit profile whose drift thresholds apply.")
@click.pass_context
def drift_cmd(ctx: click.Context, log: str, profile_name: str | None) -> None:
    """The drift table of a log's latest entry against the entries before it. Exit 1 when anything is flagged."""
    from farm.audit.baselines import load_log
    from farm.audit.drift import DriftRules, drift_table
    from farm.audit.markdown import drift_table_markdown
    from farm.audit.profile import AuditProfile

    profile = _profile(ctx, profile_name)
    assert isinstance(profile, AuditProfile)
    loaded = load_log(log)
    _warn(loaded.garbage())
    valid = loaded.valid
    if not valid:
        raise UsageError(f"{log!r} holds no baseline entries")
    history = [e.metrics for e in valid[:-1]]
    rows = drift_table(valid[-1].metrics, history, DriftRules.from_mapping(profile.drift),
                       valid[-2].label if len(valid) > 1 else None)
    click.echo("\n".join(drift_table_markdown(rows)))
    ctx.exit(EXIT_FAIL if any(r.flagged for r in rows) else EXIT_PASS)


COMMANDS: list[click.Command] = [audit_group, baselines_group]

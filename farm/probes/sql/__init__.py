"""The sql probe: do two gateways' SQL endpoints answer every statement with the same result?

Per statement: column names and count, declared types (drift), rows as a multiset (or in order under a top-level
ORDER BY, ties excepted), values by type with tolerances; a LIMIT without ORDER BY is nondeterministic, not
judged. Verdict: binomial agreement. The folder: the wire profile (`profile.py`), statement analysis with
sqlglot in the sweep's dialect (`statements.py`) and the write gate (`gate.py`), the built-in corpus
(`corpus.py`), the exchange of one statement per request (`exchange.py`), the comparison (`compare.py`: values
in `values.py`, rows in `rows.py`, classes in `classes.py`), the demo dataset and engines (`dataset.py`,
`engines.py`, `demo.py`), drift roles (`drift.py`) and report sections (`report.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from farm.probes import register
from farm.probes.base import Backend, Column, Compared, DemoOption, MalformedBody, Probe, Profile, SideResult
from farm.probes.sql.compare import NOT_COUNTED, Tolerance, compare_results
from farm.probes.sql.profile import PRESETS, SqlProfile
from farm.probes.sql.statements import (
    DEFAULT_DIALECT,
    check_dialect,
    refuse_writes,
    split_statements,
    statements_of_lines,
)
from farm.stats.params import VerdictParams

if TYPE_CHECKING:
    import httpx
    from numpy.typing import NDArray

    from farm.gateway.client import RetryPolicy, Target
    from farm.stats.noise import NoiseSamples
    from farm.stats.verdict import Verdict
    from farm.wiredrift.roles import DriftRoles
    from farm.wiredrift.rows import DriftRow

EXAMPLE_CHARS = 500  # the `example` column is a 512-character text column


def _sql(profile: Profile) -> SqlProfile:
    if not isinstance(profile, SqlProfile):
        raise TypeError(f"profile {profile.name} is a {profile.probe} profile, not an sql one")
    return profile


def tolerance(options: Mapping[str, Any]) -> Tolerance:
    return Tolerance(rel=float(options.get("float_tol") or 1e-9), strict_types=bool(options.get("strict_types")))


def dialect(options: Mapping[str, Any]) -> str:
    return str(options.get("dialect") or DEFAULT_DIALECT)


class SqlProbe(Probe):
    name = "sql"
    demo_samples, demo_p_max = 400, 0.01  # the built-in statements repeat: 400 cover every template many times
    demo_verdict = "FAIL"  # SQLite against DuckDB: real engine differences, which the probe must catch
    demo_shows = "real SQLite / DuckDB differences caught and named by class"
    title = "SQL result parity"
    quantity = "result equality"
    family = "binomial"
    default_population = "corpus"  # a statement file is a regression suite: all there is (a census when swept whole)
    profile_type = SqlProfile
    presets = PRESETS
    default_profiles = ("lakehouse-legacy", "lakehouse-candidate")
    default_tau, default_floor = 1.0, 0.0
    request_per_input = True  # one statement per request: latency per statement, not per batch
    columns = (Column("diff_class", "text"), Column("feature", "text"), Column("type_drift", "int"),
               Column("numbers_as_strings", "int"), Column("truncated", "int"), Column("rows_legacy", "int"),
               Column("rows_candidate", "int"), Column("example", "text"))
    sweep_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--max-rows", "Rows kept per statement and side; a larger result is cut and recorded as "
                   "truncated.", 10_000, click.IntRange(min=1)),
        DemoOption("--float-tol", "Relative tolerance of float values.", 1e-9, click.FloatRange(min=0.0)),
        DemoOption("--strict-types", "3 and 3.0, true and 1, \"3\" and 3 differ.", False, bool),
        DemoOption("--allow-writes", "Send statements that write or change schema (refused by default).", False,
                   bool),
        DemoOption("--dialect", "SQL dialect the statements are read in (sqlglot's names: sqlite, duckdb, postgres, "
                   "mysql, tsql...); default: the legacy profile's `dialect`, else sqlite.", None, str),
    )
    demo_options: ClassVar[tuple[DemoOption, ...]] = (
        DemoOption("--engine", "SQL engine behind the gateway: sqlite (the legacy one) or duckdb.", "sqlite", str),
        DemoOption("--rows", "Rows of the demo `orders` table.", 200_000, click.IntRange(min=1)),
        DemoOption("--data-seed", "Seed of the demo dataset (both gateways must use the same).", 0, int),
        DemoOption("--numbers-as-strings", "Send numeric values as JSON strings.", False, bool),
        DemoOption("--reverse-unordered", "SQLite's reverse_unordered_selects: unordered scans run backwards.",
                   False, bool),
    )

    # --- corpus ------------------------------------------------------------------------------------
    def item_from_json(self, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise MalformedBody("not an SQL string")
        return value.strip().rstrip(";").strip()

    def item_from_text(self, line: str) -> Any:
        return line.strip().rstrip(";").strip()

    def items_from_lines(self, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
        return statements_of_lines(lines)  # several on one line, or one over several lines

    def synthetic(self, seed: int, idx: int) -> Any:
        from farm.probes.sql.corpus import statement

        return statement(seed, idx)

    def items_from_request(self, profile: Profile, body: dict[str, Any]) -> list[Any]:
        return split_statements(_sql(profile).statement_of(body))

    def resolve_options(self, options: dict[str, Any], legacy: Profile, candidate: Profile) -> dict[str, Any]:
        given = options.get("dialect")
        if given:
            return {**options, "dialect": check_dialect(str(given))}
        return {**options, "dialect": _sql(legacy).dialect or DEFAULT_DIALECT}

    def check_inputs(self, inputs: Iterable[tuple[str, Any]], options: Mapping[str, Any]) -> None:
        if options.get("allow_writes"):
            return
        for where, sql in inputs:
            refuse_writes(str(sql), False, where, dialect(options))

    def mirrors(self, profile: Profile, method: str, path: str, body: Any) -> str | None:
        """Only statements the write gate calls read-only reach the candidate (a shadowed INSERT would run twice)."""
        why = super().mirrors(profile, method, path, body)
        if why is not None:
            return why
        from farm.probes.sql.statements import analyse

        try:
            statements = self.items_from_request(profile, body) if isinstance(body, dict) else []
        except Exception:
            return None
        dialect_name = _sql(profile).dialect or DEFAULT_DIALECT
        for sql in statements:
            st = analyse(str(sql), dialect_name)
            if not st.read_only:
                return f"write: {st.kind}" if st.kind != "unparsed" else "statement not understood"
        return None

    # --- wire --------------------------------------------------------------------------------------
    def build_request(self, profile: Profile, items: Sequence[Any], model: str | None,
                      options: Mapping[str, Any]) -> dict[str, Any]:
        return _sql(profile).build_request(str(items[0]))

    def parse_response(self, profile: Profile, doc: Any, n: int) -> tuple[Any, list[str | None]]:
        return [_sql(profile).parse(doc, 10_000)], [None] * n

    async def exchange(self, client: httpx.AsyncClient, target: Target, items: Sequence[Any], model: str | None,
                       policy: RetryPolicy, worker: str | None, options: Mapping[str, Any]) -> SideResult | None:
        from farm.probes.sql.exchange import exchange

        return await exchange(client, target, items, policy, worker, options)

    # --- comparison --------------------------------------------------------------------------------
    def compare(self, legacy: SideResult, candidate: SideResult, n: int, params: VerdictParams,
                options: Mapping[str, Any]) -> Compared:
        tol, read = tolerance(options), dialect(options)
        cols: dict[str, list[Any]] = {c.name: [None] * n for c in self.columns}
        score: list[float | None] = [None] * n
        agreed: list[bool | None] = [None] * n
        lv, cv = legacy.value or [{}] * n, candidate.value or [{}] * n
        for i in range(n):
            if legacy.errors[i] is not None or candidate.errors[i] is not None:
                continue
            a, b = lv[i], cv[i]
            out = compare_results(str(a.get("sql", "")), a, b, tol, read)
            score[i] = None if out.agreed is None else float(out.agreed)
            agreed[i] = out.agreed
            cols["diff_class"][i], cols["feature"][i] = out.diff_class, out.feature and _clip(out.feature, 200)
            cols["type_drift"][i], cols["numbers_as_strings"][i] = int(out.type_drift), out.numbers_as_strings
            cols["truncated"][i] = int(bool(a.get("truncated") or b.get("truncated")))
            cols["rows_legacy"][i], cols["rows_candidate"][i] = a.get("row_count"), b.get("row_count")
            if out.example is not None:
                cols["example"][i] = _clip(f'{{"sql": {_json(a.get("sql"))}, "results": {out.example}}}')
        return Compared(score, agreed, list(legacy.errors), list(candidate.errors), cols)

    # --- verdict -----------------------------------------------------------------------------------
    def decide(self, arrays: dict[str, NDArray[Any]], errors: dict[str, list[str | None]], params: VerdictParams,
               *, planned: int | None, noise: NoiseSamples | None, sequential: bool,
               options: Mapping[str, Any] | None = None) -> Verdict:
        verdict = super().decide(arrays, errors, params, planned=planned, noise=noise, sequential=sequential,
                                 options=options)
        diff = errors.get("diff_class", [])
        classes = Counter(c for c in diff if c and c not in NOT_COUNTED)
        features = Counter(f"{c}: {f}" for c, f in zip(diff, errors.get("feature", []), strict=True)
                           if c and f and c not in NOT_COUNTED)
        extra: dict[str, Any] = {
            "classes": dict(classes.most_common()), "features": dict(features.most_common()),
            **{c: sum(d == c for d in diff) for c in NOT_COUNTED},
            "type_drift": int((arrays.get("type_drift", _empty()) > 0).sum()),
            "numbers_as_strings": int((arrays.get("numbers_as_strings", _empty()) > 0).sum()),
            "truncated": int((arrays.get("truncated", _empty()) > 0).sum()),
        }
        findings = list(verdict.detail.get("findings", []))
        if classes:
            top = ", ".join(f"{k} {v:,}" for k, v in classes.most_common(4))
            findings.append(f"disagreements by class: {top}")
        if extra["duplicate_columns"]:
            findings.append(f"warning: {extra['duplicate_columns']:,} statements return duplicate column names; row "
                            "objects cannot carry duplicate names, so those columns were not compared")
        if extra["order_unverifiable"]:
            findings.append(f"{extra['order_unverifiable']:,} statements ORDER BY a key outside the select list: "
                            "their order was not checked")
        if findings:
            extra["findings"] = findings
        return dataclasses.replace(verdict, detail={**verdict.detail, **extra})

    # --- demo --------------------------------------------------------------------------------------
    def demo_backend(self, profile: Profile, knobs: dict[str, Any]) -> Backend:
        from farm.probes.sql.demo import backend

        return backend(_sql(profile), knobs)

    def demo_pair(self) -> contextlib.AbstractContextManager[tuple[list[str], list[str]]]:
        # Two real engines on the same data: the differences farm demo shows are the engines' own.
        return contextlib.nullcontext((["--engine", "sqlite"], ["--engine", "duckdb"]))

    # --- report and drift --------------------------------------------------------------------------
    def report_sections(self, url: str, sweep: Any, verdict: Any, out_dir: Path, stem: str) -> tuple[
            list[str], list[Path]]:
        from farm.probes.sql.report import sections

        return sections(self, url, sweep, verdict, out_dir, stem)

    def parity_cell(self, verdict: Any, params: dict[str, Any]) -> str:
        return f"✅ PASS {verdict.n - verdict.disagreements:,}/{verdict.n:,} statements"

    def drift_roles(self) -> DriftRoles:
        from farm.probes.sql.drift import SqlRoles

        return SqlRoles()

    def drift_from_samples(self, arrays: dict[str, NDArray[Any]],
                           errors: dict[str, list[str | None]]) -> list[DriftRow]:
        from farm.probes.sql.drift import duplicate_names_row

        return duplicate_names_row(errors.get("diff_class", []), errors.get("feature", []))


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _clip(text: str, limit: int = EXAMPLE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _empty() -> Any:
    import numpy as np

    return np.zeros(0)


PROBE = register(SqlProbe())

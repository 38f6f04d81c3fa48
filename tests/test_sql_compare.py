"""The sql probe's pure core: statements read with sqlglot, results compared by type with tolerances."""

from __future__ import annotations

from typing import Any

import pytest

from farm.errors import UsageError
from farm.probes.sql.compare import Tolerance, compare_results
from farm.probes.sql.statements import analyse, refuse_writes, split_statements, statements_of_lines

TOL = Tolerance()


def result(rows: list[list[Any]], columns: tuple[str, ...] = ("a", "b"), types: tuple[str, ...] = ("INTEGER", "TEXT"),
           truncated: bool = False) -> dict[str, Any]:
    return {"columns": list(columns), "types": list(types), "rows": rows, "row_count": len(rows),
            "truncated": truncated}


@pytest.mark.parametrize("sql", ["INSERT INTO t VALUES (1)", "DROP TABLE orders", "UPDATE t SET a = 1",
                                 "CREATE TABLE x AS SELECT 1", "PRAGMA writable_schema = 1", "ATTACH 'x.db' AS y",
                                 "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "VACUUM", "SELECT (",
                                 "SELECT 1; DROP TABLE t"])
def test_writes_and_unparsed_statements_are_refused(sql: str) -> None:
    assert not analyse(sql).read_only
    with pytest.raises(UsageError, match="refused"):
        refuse_writes(sql, False, "corpus input 1")
    refuse_writes(sql, True, "corpus input 1")  # --allow-writes sends it


@pytest.mark.parametrize("sql", ["SELECT 1", "WITH x AS (SELECT 1 AS a) SELECT a FROM x", "SELECT 1 UNION SELECT 2",
                                 "select a from t where b like 'x%' order by a limit 3"])
def test_reads_pass(sql: str) -> None:
    assert analyse(sql).read_only


def test_statements_split_on_semicolons_outside_strings() -> None:
    assert split_statements("SELECT ';' AS a; SELECT 2 ;") == ["SELECT ';' AS a", "SELECT 2"]


def lines_of(text: str) -> list[tuple[int, str]]:
    return list(enumerate(text.split("\n"), 1))


@pytest.mark.parametrize(("text", "expected"), [
    # one statement per line, with or without `;`, several on one line
    ("SELECT 1\nSELECT 2;\nSELECT 3; SELECT ';' AS b;", [(1, "SELECT 1"), (2, "SELECT 2"), (3, "SELECT 3"),
                                                        (3, "SELECT ';' AS b")]),
    # formatted over several lines, `;`-terminated: the next statement starts after the `;`
    ("SELECT a,\n       b\nFROM t\nWHERE a > 1\nORDER BY a;\nSELECT 2;",
     [(1, "SELECT a,\n       b\nFROM t\nWHERE a > 1\nORDER BY a"), (6, "SELECT 2")]),
    # several lines without any `;`: a line starting SELECT begins the next statement once the lines before parse
    ("SELECT a\nFROM t\nSELECT b\n  FROM u", [(1, "SELECT a\nFROM t"), (3, "SELECT b\n  FROM u")]),
    # ... but not while the lines before do not parse yet (a UNION, an open parenthesis)
    ("SELECT a FROM t\nUNION ALL\nSELECT b FROM u", [(1, "SELECT a FROM t\nUNION ALL\nSELECT b FROM u")]),
    ("SELECT * FROM t WHERE a IN (\n  SELECT b FROM u\n)", [(1, "SELECT * FROM t WHERE a IN (\n  SELECT b FROM u\n)")]),
    # blank lines end a statement, except inside a string; comments do not split
    ("SELECT 'x\n\ny' AS s\n\nSELECT 2 -- two; really\n",
     [(1, "SELECT 'x\n\ny' AS s"), (5, "SELECT 2 -- two; really")]),
    ("SELECT a\n\n\nFROM t", [(1, "SELECT a"), (4, "FROM t")]),
    ("-- first\nSELECT a,\n  b -- the b\nFROM t\n/* next */ SELECT 2;\n-- the end\n",
     [(2, "SELECT a,\n  b -- the b\nFROM t"), (5, "/* next */ SELECT 2")]),
    ("INSERT INTO t\nVALUES (1);\nUPDATE t\nSET a = 2", [(1, "INSERT INTO t\nVALUES (1)"), (3, "UPDATE t\nSET a = 2")]),
])
def test_statements_of_a_text_file_may_span_lines(text: str, expected: list[tuple[int, str]]) -> None:
    assert list(statements_of_lines(lines_of(text))) == expected


def test_a_multiline_write_is_refused_as_one_statement(tmp_path: Any) -> None:
    from farm.corpus import CorpusSpec, CorpusStats, count_items, iter_items
    from farm.probes import get_probe

    path = tmp_path / "q.sql"
    path.write_text("SELECT a\nFROM t;\n\nDELETE\nFROM t\nWHERE a = 1;\n", encoding="utf-8")
    probe = get_probe("sql")
    spec = CorpusSpec(str(path))
    stats = CorpusStats()
    located = [(stats.position, item) for item in iter_items(spec, probe, None, stats)]
    items = [item for _, item in located]
    assert items == ["SELECT a\nFROM t", "DELETE\nFROM t\nWHERE a = 1"]
    assert count_items(spec, probe) == 2  # the progress bar counts statements, not lines
    assert [where for where, _ in located] == [f"{path}:1", f"{path}:4"]  # where each statement starts
    with pytest.raises(UsageError, match=r"q.sql:4: statement 'DELETE\\nFROM t.*is not read-only: DELETE removes rows;"):
        probe.check_inputs(located, {})


def test_order_by_keys_are_mapped_to_output_columns() -> None:
    st = analyse("SELECT x AS a, y FROM t ORDER BY a DESC, 2, z")
    assert [(k.column, k.desc) for k in st.order_keys] == [(0, True), (1, False), (None, False)]


def test_rows_are_a_multiset_without_order_by() -> None:
    out = compare_results("SELECT a, b FROM t", result([[1, "x"], [2, "y"]]), result([[2, "y"], [1, "x"]]), TOL)
    assert out.agreed is True


def test_order_matters_except_among_ties() -> None:
    sql = "SELECT a, b FROM t ORDER BY a"
    tied = compare_results(sql, result([[1, "x"], [1, "y"], [2, "z"]]), result([[1, "y"], [1, "x"], [2, "z"]]), TOL)
    assert tied.agreed is True
    swapped = compare_results(sql, result([[1, "x"], [2, "z"]]), result([[2, "z"], [1, "x"]]), TOL)
    assert swapped.agreed is False and swapped.diff_class == "order"


def test_null_ordering_is_its_own_class() -> None:
    sql = "SELECT a, b FROM t ORDER BY a"
    out = compare_results(sql, result([[None, "n"], [1, "x"]]), result([[1, "x"], [None, "n"]]), TOL)
    assert out.agreed is False and out.diff_class == "null_ordering"


def test_limit_without_order_by_is_nondeterministic_not_a_disagreement() -> None:
    out = compare_results("SELECT a, b FROM t LIMIT 1", result([[1, "x"]]), result([[2, "y"]]), TOL)
    assert out.agreed is None and out.diff_class == "nondeterministic"


def test_limit_with_order_by_allows_other_rows_tied_at_the_cut() -> None:
    sql = "SELECT a, b FROM t ORDER BY a LIMIT 2"
    assert compare_results(sql, result([[1, "x"], [2, "y"]]), result([[1, "x"], [2, "q"]]), TOL).agreed is True
    assert compare_results(sql, result([[1, "x"], [2, "y"]]), result([[1, "q"], [2, "y"]]), TOL).agreed is False


def test_values_by_type_with_tolerance() -> None:
    f = ("a",)
    ft = ("DOUBLE",)
    assert compare_results("SELECT a", result([[0.1 + 0.2]], f, ft), result([[0.3]], f, ft), TOL).agreed is True
    assert compare_results("SELECT a", result([[1.0]], f, ft), result([[1.001]], f, ft), TOL).agreed is False
    loose = Tolerance(rel=1e-2)
    assert compare_results("SELECT a", result([[1.0]], f, ft), result([[1.001]], f, ft), loose).agreed is True
    # 3 vs 3.0: equal unless strict types
    assert compare_results("SELECT a", result([[3]], f, ft), result([[3.0]], f, ft), TOL).agreed is True
    strict = compare_results("SELECT a", result([[3]], f, ft), result([[3.0]], f, ft), Tolerance(strict_types=True))
    assert strict.agreed is False


def test_null_is_never_an_empty_string() -> None:
    out = compare_results("SELECT a, b FROM t", result([[1, None]]), result([[1, ""]]), TOL)
    assert out.agreed is False and out.feature == "NULL vs empty string"


def test_timestamps_are_normalised_to_utc() -> None:
    cols, types = ("t",), ("TIMESTAMP",)
    a = result([["2024-01-02 03:04:05"]], cols, types)
    assert compare_results("SELECT t", a, result([["2024-01-02T03:04:05"]], cols, types), TOL).agreed is True
    assert compare_results("SELECT t", a, result([["2024-01-02T05:04:05+02:00"]], cols, types), TOL).agreed is True
    assert compare_results("SELECT t", a, result([["2024-01-02T03:04:06"]], cols, types), TOL).agreed is False


def test_integer_division_is_recognised() -> None:
    cols = ("q",)
    out = compare_results("SELECT 7 / 2 AS q", result([[3]], cols, ("INTEGER",)), result([[3.5]], cols, ("DOUBLE",)),
                          TOL)
    assert out.agreed is False and (out.diff_class, out.feature) == ("value", "integer division")


def test_numbers_as_strings_are_drift_in_numeric_columns() -> None:
    cols, types = ("n",), ("BIGINT",)
    out = compare_results("SELECT n", result([[3]], cols, ("INTEGER",)), result([["3"]], cols, types), TOL)
    assert out.agreed is True and out.numbers_as_strings == 1 and out.type_drift
    strict = compare_results("SELECT n", result([[3]], cols, ("INTEGER",)), result([["3"]], cols, types),
                             Tolerance(strict_types=True))
    assert strict.agreed is False and strict.diff_class == "type"


def test_an_error_on_one_side_is_a_class_and_on_both_sides_an_agreement() -> None:
    err = {"error": True, "status": 400, "message": "no such function"}
    one = compare_results("SELECT f()", result([[1, "x"]]), err, TOL)
    assert one.agreed is False and one.diff_class == "error_one_side"
    assert compare_results("SELECT f()", err, dict(err), TOL).agreed is True

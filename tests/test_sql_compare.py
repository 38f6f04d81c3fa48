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
    with pytest.raises(UsageError, match=r"q.sql:4: statement 'DELETE\\nFROM t.*is not read-only: DELETE removes"):
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


# --- issue 20: exact comparison of large numbers ----------------------------------------------------------------
BIG = ("v",)


@pytest.mark.parametrize("values", [
    [100000001, 100000002],                       # just above 1e8: the old 8-digit sort key made these equal
    [1_700_000_000, 1_700_000_001, 1_699_999_999],  # epoch seconds
    [1_700_000_000_123, 1_700_000_000_124],         # epoch milliseconds
    [2**53 + 1, 2**53 + 2, 2**53 + 3],              # beyond a double's integers
    [10**30 + 1, 10**30 + 2],                       # beyond 64 bits
])
def test_large_integers_in_another_order_agree_and_differ_exactly(values: list[int]) -> None:
    a = result([[v] for v in values], BIG, ("BIGINT",))
    b = result([[v] for v in reversed(values)], BIG, ("BIGINT",))
    assert compare_results("SELECT DISTINCT v FROM t", a, b, TOL).agreed is True
    off = result([[v] for v in values[:-1]] + [[values[-1] + 2]], BIG, ("BIGINT",))
    out = compare_results("SELECT DISTINCT v FROM t", a, off, TOL)
    assert out.agreed is False and out.diff_class == "value"
    assert str(values[-1]) in str(out.example) and str(values[-1] + 2) in str(out.example)  # the rows that differ


def test_epoch_timestamps_beside_text_pair_by_exact_values() -> None:
    cols, types = ("epoch", "label"), ("BIGINT", "TEXT")
    rows = [[1_700_000_000 + i, f"e{i % 3}"] for i in range(200)]
    a, b = result(rows, cols, types), result(rows[::-1], cols, types)
    assert compare_results("SELECT epoch, label FROM t", a, b, TOL).agreed is True
    swapped = [list(r) for r in rows]
    swapped[0][1], swapped[1][1] = swapped[1][1], swapped[0][1]  # two labels on the wrong epochs
    assert compare_results("SELECT epoch, label FROM t", a, result(swapped, cols, types), TOL).agreed is False


def test_floats_pair_within_tolerance_whatever_their_exact_order() -> None:
    cols, types = ("x", "y"), ("DOUBLE", "DOUBLE")
    # Sorted exactly, legacy pairs (1.0, 5.0) with (1.0000000001, 3.0): the sorted pairing fails; a matching
    # within the tolerance (1e-9) pairs each row with its twin.
    a = result([[1.0, 5.0], [1.0 + 2e-10, 3.0]], cols, types)
    b = result([[1.0 + 3e-10, 5.0], [1.0 + 1e-10, 3.0]], cols, types)
    assert compare_results("SELECT x, y FROM t", a, b, TOL).agreed is True
    far = result([[1.0 + 3e-10, 5.0], [1.0 + 1e-10, 3.1]], cols, types)
    assert compare_results("SELECT x, y FROM t", a, far, TOL).agreed is False
    # Big floats compare relatively; an int against its float is equal unless strict types.
    ints = result([[1.7e12, 2], [2.0**53, 1]], ("x", "n"), ("DOUBLE", "BIGINT"))
    mixed = result([[2**53, 1], [1_700_000_000_000, 2]], ("x", "n"), ("DOUBLE", "BIGINT"))
    assert compare_results("SELECT x, n FROM t", ints, mixed, TOL).agreed is True
    assert compare_results("SELECT x, n FROM t", ints, mixed, Tolerance(strict_types=True)).agreed is False
    nan = result([[float("nan"), 1], [float("inf"), 2]], ("x", "n"), ("DOUBLE", "BIGINT"))
    assert compare_results("SELECT x, n FROM t", nan, result([[float("inf"), 2], [float("nan"), 1]], ("x", "n"),
                                                             ("DOUBLE", "BIGINT")), TOL).agreed is True


def test_many_tied_floats_are_matched_not_sorted() -> None:
    cols, types = ("x", "y"), ("DOUBLE", "DOUBLE")
    rows = [[1.0 + (i % 7) * 1e-11, float(i)] for i in range(300)]
    jittered = [[x + 3e-11 if i % 2 else x, y] for i, (x, y) in enumerate(rows)]
    assert compare_results("SELECT x, y FROM t", result(rows, cols, types), result(jittered[::-1], cols, types),
                           TOL).agreed is True


# --- issue 20: OFFSET cuts the first tie group -------------------------------------------------------------------
def test_offset_excuses_the_first_tie_group_and_limit_the_last() -> None:
    sql = "SELECT qty, id FROM orders ORDER BY qty LIMIT 5 OFFSET 3"
    cols, types = ("qty", "id"), ("INTEGER", "INTEGER")
    a = result([[1, 10], [1, 11], [2, 12], [3, 13], [3, 14]], cols, types)
    b = result([[1, 17], [1, 10], [2, 12], [3, 15], [3, 13]], cols, types)  # other rows of qty 1 and 3
    assert compare_results(sql, a, b, TOL).agreed is True
    middle = result([[1, 17], [1, 10], [2, 99], [3, 15], [3, 13]], cols, types)  # the run qty=2 is whole: judged
    out = compare_results(sql, a, middle, TOL)
    assert out.agreed is False and out.diff_class == "value" and '"rows_shown":"from row 3"' in str(out.example)
    no_offset = compare_results("SELECT qty, id FROM orders ORDER BY qty LIMIT 5", a, b, TOL)
    assert no_offset.agreed is False  # without OFFSET the first run is whole
    keys_moved = result([[1, 10], [2, 11], [2, 12], [3, 13], [3, 14]], cols, types)
    assert compare_results(sql, a, keys_moved, TOL).agreed is False  # the sort keys themselves must agree
    assert analyse("SELECT a FROM t ORDER BY a LIMIT 3, 10").offset  # SQLite's LIMIT offset, count
    assert analyse("SELECT a FROM t ORDER BY a OFFSET 2 ROWS FETCH NEXT 3 ROWS ONLY", "tsql").offset
    assert not analyse("SELECT a FROM t ORDER BY a LIMIT 5 OFFSET 0").offset  # cuts nothing: the first run is whole


# --- issue 20: ORDER BY keys outside the select list -------------------------------------------------------------
def test_order_by_a_key_outside_the_select_list_is_order_unverifiable() -> None:
    a = result([[1, "x"], [2, "y"]])
    b = result([[2, "y"], [1, "x"]])
    assert compare_results("SELECT * FROM t ORDER BY created_at", a, b, TOL).diff_class == "order_unverifiable"
    out = compare_results("SELECT a, b FROM t ORDER BY created_at", a, b, TOL)
    assert out.agreed is True and out.diff_class == "order_unverifiable"
    changed = compare_results("SELECT a, b FROM t ORDER BY created_at", a, result([[2, "y"], [1, "z"]]), TOL)
    assert changed.agreed is False and changed.diff_class == "value"  # content is still judged
    limited = compare_results("SELECT a, b FROM t ORDER BY created_at LIMIT 2", a, result([[3, "q"], [1, "x"]]), TOL)
    assert limited.agreed is None and limited.diff_class == "order_unverifiable"  # which rows: unknowable
    # A key in the select list by alias, position or qualified name is checked; a later unknown key leaves the
    # order on the keys before it checked.
    for sql in ("SELECT o.a AS a, b FROM t o ORDER BY o.a", "SELECT a, b FROM t ORDER BY 1",
                "SELECT a AS k, b FROM t ORDER BY k, lower(zz)", "SELECT * FROM t ORDER BY a",
                "SELECT t.* FROM t ORDER BY t.a DESC"):
        out = compare_results(sql, a, b, TOL)
        assert out.agreed is False and out.diff_class == "order", sql


def test_a_collated_order_by_key_is_checked_with_case_folded_ties() -> None:
    cols, types = ("name", "n"), ("TEXT", "INTEGER")
    sql = "SELECT name, n FROM t ORDER BY name COLLATE NOCASE"
    a = result([["apple", 1], ["Apple", 2], ["banana", 3]], cols, types)
    assert compare_results(sql, a, result([["Apple", 2], ["apple", 1], ["banana", 3]], cols, types),
                           TOL).agreed is True
    out = compare_results(sql, a, result([["banana", 3], ["apple", 1], ["Apple", 2]], cols, types), TOL)
    assert out.agreed is False and out.diff_class == "order"
    assert analyse(sql).order_keys[0].collated


# --- issue 20: duplicate column names ----------------------------------------------------------------------------
def test_duplicate_column_names_in_row_objects_are_not_read_twice() -> None:
    from farm.probes.sql.profile import PRESETS, SqlProfile

    legacy_p, candidate_p = PRESETS["lakehouse-legacy"], PRESETS["lakehouse-candidate"]
    assert isinstance(legacy_p, SqlProfile) and isinstance(candidate_p, SqlProfile)

    def both(columns: list[str], rows: list[list[Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        types = ["INTEGER"] * len(columns)
        return (legacy_p.parse(legacy_p.build_response(columns, types, rows), 100),
                candidate_p.parse(candidate_p.build_response(columns, types, rows), 100))

    lv, cv = both(["a", "a"], [[1, 2]])
    assert cv["rows"] == [[2]] and cv["row_columns"] == ["a"]  # what the object carries, once
    out = compare_results("SELECT 1 AS a, 2 AS a", lv, cv, TOL)
    assert out.agreed is None and out.diff_class == "duplicate_columns"  # nothing left to compare: not judged
    lv, cv = both(["a", "a", "b"], [[1, 2, 3], [4, 5, 6]])
    out = compare_results("SELECT x AS a, y AS a, z AS b FROM t", lv, cv, TOL)
    assert out.agreed is True and out.diff_class == "duplicate_columns" and "candidate row objects: a" in str(
        out.feature)
    _, cv_off = both(["a", "a", "b"], [[1, 2, 3], [4, 5, 7]])
    out = compare_results("SELECT x AS a, y AS a, z AS b FROM t", lv, cv_off, TOL)
    assert out.agreed is False and out.diff_class == "value"
    shown = str(out.example)
    assert '"columns":["a","b"],"rows":[[5,7]]' in shown  # the candidate's rows as it sent them, never [5,5,7]


# --- issue 20: dialects and the write gate -----------------------------------------------------------------------
def test_the_dialect_decides_what_parses() -> None:
    for sql in ("SELECT 7 // 2 AS q", "SELECT 2 ** 3 AS p"):
        assert analyse(sql, "duckdb").read_only, sql
        with pytest.raises(UsageError, match="does not parse as sqlite SQL"):
            refuse_writes(sql, False, "input 1")
        refuse_writes(sql, False, "input 1", "duckdb")
    from farm.probes.sql.statements import check_dialect

    assert check_dialect("DuckDB") == "duckdb"
    with pytest.raises(UsageError, match=r"--dialect 'sqlyte': not an SQL dialect .*sqlite"):
        check_dialect("sqlyte")


@pytest.mark.parametrize(("sql", "dialect", "says"), [
    ("SELECT * INTO newt FROM people", "postgres", "SELECT ... INTO creates a table"),
    ("SELECT * INTO newt FROM people", "tsql", "SELECT ... INTO creates a table"),
    ("SELECT a INTO @v FROM t", "mysql", "SELECT ... INTO sets variables"),
    ("COPY people TO 'out.csv'", "duckdb", "COPY moves data"),
    ("CALL refresh_all()", "postgres", "CALL runs a procedure"),
    ("PRAGMA reverse_unordered_selects = ON", "sqlite", "PRAGMA ... = ... changes a setting"),
    ("PRAGMA foreign_keys(1)", "sqlite", "PRAGMA foreign_keys(...) changes a setting"),
    ("ATTACH 'other.db' AS o", "duckdb", "ATTACH opens another database"),
    ("DETACH o", "sqlite", "DETACH closes a database"),
    ("VACUUM", "sqlite", "VACUUM rewrites the database"),
    ("SET threads = 4", "duckdb", "SET changes a setting"),
    ("LOAD httpfs", "duckdb", "LOAD loads an extension"),
    ("INSTALL httpfs", "duckdb", "INSTALL installs an extension"),
    ("INSTALL httpfs", "sqlite", "INSTALL installs an extension"),  # parsed as a column alias by sqlite's grammar
    ("CHECKPOINT", "duckdb", "CHECKPOINT writes the database"),
    ("SELECT nextval('ids')", "postgres", "nextval() has side effects"),
    ("SELECT * FROM t FOR UPDATE", "postgres", "SELECT ... FOR UPDATE locks rows"),
    ("BEGIN", "sqlite", "BEGIN starts a transaction"),
    ("CREATE TEMP TABLE x (a INT)", "sqlite", "CREATE TABLE creates a table"),
    ("EXPLAIN ANALYZE DELETE FROM t", "postgres", "EXPLAIN ANALYZE runs the statement"),
])
def test_writes_are_named_plainly(sql: str, dialect: str, says: str) -> None:
    with pytest.raises(UsageError) as err:
        refuse_writes(sql, False, "q.sql:1", dialect)
    message = str(err.value)
    assert f"is not read-only: {says};" in message, message
    assert "(" + "Alias)" not in message and "(Column)" not in message and "<class" not in message


@pytest.mark.parametrize(("sql", "dialect"), [
    ("PRAGMA table_info(orders)", "sqlite"), ("PRAGMA user_version", "sqlite"), ("SHOW TABLES", "duckdb"),
    ("DESCRIBE orders", "duckdb"), ("SUMMARIZE orders", "duckdb"), ("EXPLAIN SELECT 1", "sqlite")])
def test_reporting_statements_are_reads(sql: str, dialect: str) -> None:
    assert analyse(sql, dialect).read_only


# --- issue 20: classes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sql", "types", "legacy", "candidate", "expected"), [
    ("SELECT x || '' AS t FROM t", ("TEXT",), "1.0", "1", ("value", "float-to-text formatting")),
    ("SELECT printf('%s', x) AS t FROM t", ("TEXT",), "total 0.1", "total 0.10000000000000001",
     ("value", "float-to-text formatting")),
    ("SELECT CAST(created_at AS DATE) AS d FROM t", ("NUMERIC",), 2024, "2024-05-07", ("value", "CAST")),
    ("SELECT CAST(x AS INTEGER) AS i FROM t", ("INTEGER",), 2, 3, ("value", "CAST")),
    ("SELECT typeof(x) AS k FROM t", ("TEXT",), "integer", "BIGINT", ("value", "typeof")),
    ("SELECT group_concat(name) AS g FROM t", ("TEXT",), "a,b,c", "c,a,b",
     ("value", "aggregate order (group_concat / string_agg / array_agg)")),
    ("SELECT string_agg(name, '|') AS g FROM t", ("TEXT",), "a|b", "b|a",
     ("value", "aggregate order (group_concat / string_agg / array_agg)")),
    ("SELECT x FROM t", ("TEXT",), 10, "10", ("type", "type affinity (a number as text)")),
])
def test_value_differences_are_named_by_their_feature(sql: str, types: tuple[str, ...], legacy: Any, candidate: Any,
                                                      expected: tuple[str, str]) -> None:
    cols = ("c",)
    out = compare_results(sql, result([[legacy]], cols, types), result([[candidate]], cols, types), TOL)
    assert out.agreed is False and (out.diff_class, out.feature) == expected


def test_collation_and_case_folding_in_order_by() -> None:
    cols, types = ("name",), ("TEXT",)
    sql = "SELECT name FROM t ORDER BY name"
    case = compare_results(sql, result([["Apple"], ["apple"], ["banana"]], cols, types),
                           result([["apple"], ["Apple"], ["banana"]], cols, types), TOL)
    assert (case.diff_class, case.feature) == ("order", "collation (case folding)")
    locale = compare_results(sql, result([["Apple"], ["Zebra"], ["apple"]], cols, types),
                             result([["Apple"], ["apple"], ["Zebra"]], cols, types), TOL)
    assert (locale.diff_class, locale.feature) == ("order", "collation")
    # Under a LIMIT another collation keeps other rows: still an order difference, not a value one.
    cut = "SELECT name, n FROM t ORDER BY name LIMIT 4"
    two = ("name", "n"), ("TEXT", "INTEGER")
    binary = result([["Apple", 1], ["Banana", 2], ["apple", 3], ["banana", 4]], *two)
    folding = result([["apple", 3], ["Apple", 1], ["banana", 4], ["Banana", 2]], *two)
    assert compare_results(cut, binary, folding, TOL).diff_class == "order"
    icu = result([["Apple", 1], ["apple", 3], ["Banana", 2], ["cherry", 5]], *two)
    out = compare_results(cut, binary, icu, TOL)
    assert (out.diff_class, out.feature) == ("order", "collation")


def test_seven_by_two_shows_its_value_difference_beside_the_column_names() -> None:
    out = compare_results("SELECT 7/2", result([[3]], ("7/2",), ("INTEGER",)),
                          result([[3.5]], ("(7 / 2)",), ("DOUBLE",)), TOL)
    assert out.agreed is False and (out.diff_class, out.feature) == ("value", "integer division")
    same = compare_results("SELECT 7/2", result([[3]], ("7/2",), ("INTEGER",)),
                           result([[3]], ("(7 // 2)",), ("BIGINT",)), TOL)
    assert same.agreed is False and same.diff_class == "columns"  # equal values, other names: still a difference


def test_the_example_shows_the_rows_that_differ_not_the_first_three() -> None:
    cols, types = ("id", "r"), ("INTEGER", "DOUBLE")
    rows = [[i, float(i)] for i in range(1, 21)]
    off = [list(r) for r in rows]
    off[13][1] = 99.5
    ordered = compare_results("SELECT id, r FROM t ORDER BY id", result(rows, cols, types), result(off, cols, types),
                              TOL)
    assert "[14,14.0]" in str(ordered.example) and "[14,99.5]" in str(ordered.example)
    assert "[1,1.0]" not in str(ordered.example)
    unordered = compare_results("SELECT id, r FROM t", result(rows, cols, types), result(off[::-1], cols, types), TOL)
    assert "[14,14.0]" in str(unordered.example) and "[14,99.5]" in str(unordered.example)
    assert unordered.feature == "float arithmetic"

"""The sql wire profile: how one gateway shapes `POST /query` or `POST /v1/sql`, and the built-in presets.

A result is canonical once parsed: column names, the types each side declares, rows as lists of JSON values
(row objects are read in column order), and whether the farm cut it at `--max-rows`. The same fields build the
demo gateways' responses, so a custom profile is served exactly as it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from farm.probes.base import MalformedBody, Profile
from farm.profiles import get_path, set_path


@dataclass(frozen=True, kw_only=True)
class SqlProfile(Profile):
    probe: ClassVar[str] = "sql"
    statement_field: str                    # the request field holding the SQL text
    rows_path: str                          # the result rows
    row_format: str = "arrays"              # "arrays": [[v, ...]]; "objects": [{column: v}]
    columns_path: str | None = None         # a list of column names ...
    types_path: str | None = None           # ... and of their declared types
    schema_path: str | None = None          # or one list of {name, type} objects
    schema_name_field: str = "name"
    schema_type_field: str = "type"
    row_count_path: str | None = None
    error_path: str = "error"               # where an error body carries its message
    dialect: str | None = None              # the SQL dialect of the engine behind it (sqlglot's names; None: sqlite)

    def __post_init__(self) -> None:
        from farm.probes.sql.gate import SQL_DIALECTS

        if self.dialect is not None and self.dialect not in SQL_DIALECTS:
            raise ValueError(f"dialect {self.dialect!r}: not an SQL dialect sqlglot reads (known: "
                             f"{', '.join(SQL_DIALECTS)})")

    def build_request(self, sql: str) -> dict[str, Any]:
        return {self.statement_field: sql}

    def statement_of(self, body: dict[str, Any]) -> str:
        sql = body.get(self.statement_field)
        if not isinstance(sql, str) or not sql.strip():
            raise MalformedBody(f"request field {self.statement_field!r} must be a non-empty SQL string")
        return sql

    def parse(self, doc: Any, max_rows: int) -> dict[str, Any]:
        """{columns, types, rows, row_count, truncated} of a response; MalformedBody on another shape."""
        columns: Any
        types: Any
        if self.schema_path is not None:
            schema = get_path(doc, self.schema_path)
            if not isinstance(schema, list) or not all(isinstance(c, dict) for c in schema):
                raise MalformedBody(f"{self.schema_path!r} is not a list of column objects")
            columns = [c.get(self.schema_name_field) for c in schema]
            types = [c.get(self.schema_type_field) for c in schema]
        else:
            columns = get_path(doc, self.columns_path) if self.columns_path else None
            types = get_path(doc, self.types_path) if self.types_path else None
            if types is None and isinstance(columns, list):
                types = [None] * len(columns)
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise MalformedBody("no list of column names")
        if not isinstance(types, list) or len(types) != len(columns):
            raise MalformedBody("column types do not match the columns")
        raw = get_path(doc, self.rows_path)
        if not isinstance(raw, list):
            raise MalformedBody(f"{self.rows_path!r} is missing or not a list")
        kept = raw[:max_rows]
        extra: dict[str, Any] = {}
        if self.row_format == "objects":
            # An object holds one value per name: with duplicate column names the rows are read under the names
            # they carry (`row_columns`), never one value twice.
            names = list(dict.fromkeys(columns))
            if len(names) != len(columns):
                extra["row_columns"] = names
            try:
                rows = [[row[c] for c in names] for row in kept]
            except (KeyError, TypeError):
                raise MalformedBody(f"{self.rows_path!r}: a row object lacks a column") from None
        else:
            if not all(isinstance(r, list) and len(r) == len(columns) for r in kept):
                raise MalformedBody(f"{self.rows_path!r}: a row is not a list of {len(columns)} values")
            rows = kept
        return {"columns": columns, "types": [None if t is None else str(t) for t in types], "rows": rows,
                "row_count": len(raw), "truncated": len(raw) > max_rows, **extra}

    def build_response(self, columns: list[str], types: list[str], rows: list[list[Any]]) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.schema_path is not None:
            set_path(doc, self.schema_path, [{self.schema_name_field: c, self.schema_type_field: t}
                                             for c, t in zip(columns, types, strict=True)])
        else:
            if self.columns_path:
                set_path(doc, self.columns_path, columns)
            if self.types_path:
                set_path(doc, self.types_path, types)
        if self.row_format == "objects":
            set_path(doc, self.rows_path, [dict(zip(columns, r, strict=True)) for r in rows])
        else:
            set_path(doc, self.rows_path, rows)
        if self.row_count_path:
            set_path(doc, self.row_count_path, len(rows))
        return doc

    def error_body(self, message: str) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        set_path(doc, self.error_path, message)
        return doc


PRESETS: dict[str, Profile] = {
    # The seed's pair (../shared/BRIEF.md): the Rust gateway's row arrays, the Go one's row objects.
    "lakehouse-legacy": SqlProfile(name="lakehouse-legacy", path="/query", statement_field="sql",
                                   columns_path="columns", types_path="types", rows_path="rows", dialect="sqlite"),
    "lakehouse-candidate": SqlProfile(name="lakehouse-candidate", path="/v1/sql", statement_field="query",
                                      schema_path="schema", rows_path="data", row_format="objects",
                                      row_count_path="row_count", error_path="error.message"),
}

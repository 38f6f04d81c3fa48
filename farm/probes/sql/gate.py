"""The write gate's judgement of one parsed statement: read-only, or what it does in plain words ("SELECT ...
INTO creates a table", "PRAGMA ... = ... changes a setting"), never a parser class name.

Reads are SELECT (and set operations, VALUES), DESCRIBE, SHOW, SUMMARIZE, EXPLAIN of a read, and the pragmas that
only report; everything else writes, changes a setting or the session, or runs code the farm cannot see into.
A dialect that does not know a statement's keyword parses it as a bare expression (`INSTALL x` as a column with an
alias): it is named by that keyword.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

SQL_DIALECTS: tuple[str, ...] = tuple(sorted(d.value for d in sqlglot.Dialects if d.value))

_READS = (exp.Select, exp.SetOperation, exp.Values, exp.Describe, exp.Show, exp.Summarize)

# What a statement kind does, by its parsed class (first match wins: Select's INTO is looked at before).
_DOES: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Insert, "INSERT writes rows"), (exp.Update, "UPDATE changes rows"), (exp.Delete, "DELETE removes rows"),
    (exp.Merge, "MERGE changes rows"), (exp.TruncateTable, "TRUNCATE removes rows"),
    (exp.Drop, "DROP removes a {kind}"), (exp.Alter, "ALTER changes a schema"), (exp.Copy, "COPY moves data"),
    (exp.Set, "SET changes a setting"), (exp.Use, "USE changes the current database"),
    (exp.Attach, "ATTACH opens another database"), (exp.Detach, "DETACH closes a database"),
    (exp.Install, "INSTALL installs an extension"), (exp.LoadData, "LOAD DATA writes rows"),
    (exp.Transaction, "BEGIN starts a transaction"), (exp.Commit, "COMMIT ends a transaction"),
    (exp.Rollback, "ROLLBACK ends a transaction"), (exp.Grant, "GRANT changes privileges"),
    (exp.Revoke, "REVOKE changes privileges"), (exp.Comment, "COMMENT changes the catalog"),
    (exp.Analyze, "ANALYZE writes statistics"), (exp.Cache, "CACHE stores a table"),
    (exp.Uncache, "UNCACHE drops a cached table"), (exp.Refresh, "REFRESH reloads a table"),
    (exp.Kill, "KILL stops a query"), (exp.Lock, "LOCK locks tables"), (exp.Export, "EXPORT writes files"),
    (exp.Declare, "DECLARE sets a variable"),
)
_WRITES = (*(k for k, _ in _DOES), exp.Create, exp.Command, exp.Pragma)
# Keywords sqlglot keeps as an unparsed Command (or a bare expression), by what they do.
_KEYWORDS = {
    "VACUUM": "VACUUM rewrites the database", "CALL": "CALL runs a procedure", "LOAD": "LOAD loads an extension",
    "INSTALL": "INSTALL installs an extension", "CHECKPOINT": "CHECKPOINT writes the database",
    "EXPORT": "EXPORT writes files", "IMPORT": "IMPORT loads data", "REINDEX": "REINDEX rebuilds indexes",
    "ANALYZE": "ANALYZE writes statistics", "GRANT": "GRANT changes privileges",
    "REVOKE": "REVOKE changes privileges", "RESET": "RESET changes a setting", "DISCARD": "DISCARD drops session state",
    "LISTEN": "LISTEN changes the session", "NOTIFY": "NOTIFY sends a notification",
    "REFRESH": "REFRESH rewrites a view", "CLUSTER": "CLUSTER rewrites a table",
    "EXECUTE": "EXECUTE runs a prepared statement", "PREPARE": "PREPARE defines a statement",
    "DEALLOCATE": "DEALLOCATE drops a prepared statement", "SAVEPOINT": "SAVEPOINT changes a transaction",
    "RELEASE": "RELEASE changes a transaction", "END": "END ends a transaction", "START": "START starts a transaction",
    "DETACH": "DETACH closes a database", "ATTACH": "ATTACH opens another database", "FORCE": "FORCE CHECKPOINT writes",
    "EXPLAIN": "EXPLAIN ANALYZE runs the statement",
}
_READ_KEYWORDS = frozenset({"SHOW", "DESCRIBE", "DESC", "SUMMARIZE"})
# Functions with side effects a SELECT may call (sequences, settings, files, locks, other sessions, extensions).
_SIDE_EFFECTS = frozenset({
    "nextval", "setval", "set_config", "load_extension", "writefile", "lo_import", "lo_export", "lo_unlink",
    "pg_advisory_lock", "pg_advisory_xact_lock", "pg_try_advisory_lock", "pg_terminate_backend",
    "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "dblink_exec", "pg_switch_wal",
})
# Pragmas that only report: bare (`PRAGMA user_version`), or with an object argument (`PRAGMA table_info(t)`).
_PRAGMA_READS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "foreign_key_check", "integrity_check", "quick_check", "database_list", "collation_list", "function_list",
    "module_list", "pragma_list", "compile_options", "data_version", "page_count", "page_size", "freelist_count",
    "user_version", "schema_version", "application_id", "encoding", "journal_mode", "synchronous", "foreign_keys",
    "cache_size", "busy_timeout", "show_tables", "show_tables_expanded", "show_databases", "database_size",
    "version", "platform", "collations", "functions", "storage_info", "show", "metadata_info", "user_agent",
})
_PRAGMA_ARG_READS = frozenset({
    "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list", "foreign_key_check",
    "integrity_check", "quick_check", "table_list", "storage_info", "show",
})


def _keyword(sql: str, dialect: str) -> str:
    """The statement's first word, upper case (what a user calls the statement)."""
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        tokens = []
    return (tokens[0].text if tokens else sql.split(maxsplit=1)[0] if sql.split() else "").upper()


def _pragma(sql: str, dialect: str) -> str | None:
    """Why a PRAGMA is not read-only, None when it only reports."""
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return "PRAGMA does not tokenize"
    words = [t for t in tokens[1:] if t.token_type != sqlglot.TokenType.SEMICOLON]
    if any(t.token_type == sqlglot.TokenType.EQ for t in words):
        return "PRAGMA ... = ... changes a setting"
    if len(words) >= 2 and words[1].token_type == sqlglot.TokenType.DOT:
        words = words[2:]  # `PRAGMA main.user_version`
    name = words[0].text.lower() if words else ""
    has_arg = len(words) > 1
    if (name in _PRAGMA_ARG_READS) if has_arg else (name in _PRAGMA_READS):
        return None
    if has_arg:
        return f"PRAGMA {name}(...) changes a setting"
    return f"PRAGMA {name} is not a pragma known to only report"


def _create(root: exp.Create) -> str:
    kind = str(root.args.get("kind") or "object").upper()
    return f"CREATE {kind} creates a {kind.lower()}"


def _does(node: exp.Expr, sql: str, dialect: str) -> str:
    """What a non-read node does, in words."""
    if isinstance(node, exp.Create):
        return _create(node)
    if isinstance(node, exp.Pragma):
        return _pragma(sql, dialect) or "PRAGMA"
    if isinstance(node, exp.Command):
        word = str(node.this).upper()
        return _KEYWORDS.get(word, f"{word} is not a statement the farm knows to be read-only")
    for kind, text in _DOES:
        if isinstance(node, kind):
            return text.format(kind=str(node.args.get("kind") or "object").lower())
    word = _keyword(sql, dialect)
    return _KEYWORDS.get(word, f"{word} is not a statement the farm knows to be read-only")


def why_not_read_only(roots: list[exp.Expr], sql: str, dialect: str) -> str | None:
    """None when the parsed statement only reads; else what it does, in words."""
    if len(roots) != 1:
        return f"{len(roots)} statements in one input (send one at a time)"
    root = roots[0]
    if isinstance(root, exp.Pragma):
        return _pragma(sql, dialect)
    if isinstance(root, exp.Command):
        word = str(root.this).upper()
        if word in _READ_KEYWORDS:
            return None
        if word == "EXPLAIN":
            rest = str(root.expression.this if isinstance(root.expression, exp.Literal) else root.expression or "")
            if rest.split(maxsplit=1)[:1] in (["ANALYZE"], ["ANALYSE"]) or not rest.strip():
                return _KEYWORDS["EXPLAIN"]
            from farm.probes.sql.statements import analyse  # an EXPLAIN is as read-only as what it explains

            inner = analyse(rest, dialect)
            return None if inner.read_only else inner.refusal
        return _does(root, sql, dialect)
    if not isinstance(root, _READS):
        return _does(root, sql, dialect)
    into = root.find(exp.Into)
    if into is not None:
        variable = into.this is None or into.find(exp.Parameter, exp.Placeholder) is not None  # MySQL's INTO @v
        return "SELECT ... INTO sets variables" if variable else "SELECT ... INTO creates a table"
    if isinstance(root, exp.Select) and root.args.get("locks"):
        return "SELECT ... FOR UPDATE locks rows"
    for node in root.walk():
        if node is not root and not isinstance(node, _READS) and isinstance(node, _WRITES):
            return "a nested " + _does(node, node.sql(dialect=dialect), dialect)
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _SIDE_EFFECTS:
                return f"{name}() has side effects"
    return None

"""SQL field roles for the drift catalog: row arrays against row objects, the column list against a schema of
{name, type}, the engines' type names, numbers sent as strings, the request field. Inferred from the documents;
the renames and the adapter map come from the shared structural diff."""

from __future__ import annotations

from typing import Any

from farm.probes.base import Profile
from farm.probes.sql.compare import is_numeric_type
from farm.probes.sql.profile import SqlProfile
from farm.wiredrift.roles import DriftRoles, url_row
from farm.wiredrift.rows import DriftRow


def _sql(profile: Profile) -> SqlProfile:
    assert isinstance(profile, SqlProfile)
    return profile


def _bump(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def _columns_of(profile: SqlProfile, flat: dict[str, Any]) -> tuple[list[Any], list[Any], list[list[Any]]]:
    """(names, declared types, value columns) of one flattened response."""
    if profile.schema_path is not None:
        names = flat.get(f"{profile.schema_path}[].{profile.schema_name_field}") or []
        types = flat.get(f"{profile.schema_path}[].{profile.schema_type_field}") or []
    else:
        names = flat.get(profile.columns_path or "") or []
        types = flat.get(profile.types_path or "") or []
    if profile.row_format == "objects":
        values = [flat.get(f"{profile.rows_path}[].{n}") or [] for n in names]
    else:
        rows = flat.get(profile.rows_path) or []
        values = [[r[i] for r in rows if isinstance(r, list) and i < len(r)] for i in range(len(names))]
    return list(names), list(types), values


class SqlRoles(DriftRoles):
    fact_keys = ("shape", "types", "numbers", "statement")

    def observe_facts(self, facts: dict[str, Any], profile: Profile, request: Any, flat: dict[str, Any]) -> str | None:
        p = _sql(profile)
        facts["docs"] += 1
        if isinstance(request, dict):
            for key, value in request.items():
                if isinstance(value, str):
                    _bump(facts["statement"], str(key))
        names, types, values = _columns_of(p, flat)
        if names:
            _bump(facts["shape"], "row objects" if p.row_format == "objects" else "row arrays")
        for declared, column in zip(types, values, strict=False):
            _bump(facts["types"], str(declared))
            if is_numeric_type(str(declared)):
                strings = sum(isinstance(v, str) for v in column)
                _bump(facts["numbers"], "string", strings)
                _bump(facts["numbers"], "number", sum(isinstance(v, int | float) for v in column))
        return None

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        lp, cp = _sql(legacy), _sql(candidate)
        lf, cf = state["facts"]["legacy"], state["facts"]["candidate"]

        def layout(p: SqlProfile) -> str:
            head = (f"`{p.schema_path}[{{{p.schema_name_field}, {p.schema_type_field}}}]`" if p.schema_path
                    else f"`{p.columns_path}`, `{p.types_path}`")
            return head

        def shape(p: SqlProfile) -> str:
            return f"`{p.rows_path}`: " + ("row objects `{column: value}`" if p.row_format == "objects"
                                           else "row arrays `[value, ...]`")

        def types(f: dict[str, Any]) -> str:
            names = sorted(f["types"], key=lambda t: (-f["types"][t], t))
            return ", ".join(f"`{t}`" for t in names[:8]) or "(none seen)"

        def numbers(f: dict[str, Any]) -> tuple[str, int]:
            s, n = f["numbers"].get("string", 0), f["numbers"].get("number", 0)
            if not s:
                return "JSON numbers", 0
            return f"JSON strings ({s:,} of {s + n:,} numeric values)", s

        ln, ls = numbers(lf)
        cn, cs = numbers(cf)
        lreq = f"`{{{lp.statement_field}}}`"
        creq = f"`{{{cp.statement_field}}}`"
        return [
            url_row(legacy, candidate),
            DriftRow("request", "Request shape", lreq, creq, lp.statement_field == cp.statement_field,
                     {"legacy_field": lp.statement_field, "candidate_field": cp.statement_field}),
            DriftRow("rows", "Response: rows", shape(lp), shape(cp),
                     (lp.rows_path, lp.row_format) == (cp.rows_path, cp.row_format),
                     {"legacy_path": lp.rows_path, "candidate_path": cp.rows_path,
                      "legacy_format": lp.row_format, "candidate_format": cp.row_format}),
            DriftRow("columns", "Response: column names and types", layout(lp), layout(cp),
                     layout(lp) == layout(cp), {"legacy_schema": lp.schema_path, "candidate_schema": cp.schema_path}),
            DriftRow("types", "Response: declared type names", types(lf), types(cf),
                     set(lf["types"]) == set(cf["types"]),
                     {"legacy_types": dict(lf["types"]), "candidate_types": dict(cf["types"])}),
            DriftRow("numbers", "Response: numeric values", ln, cn, (ls == 0) == (cs == 0),
                     {"legacy_as_strings": ls, "candidate_as_strings": cs,
                      "numbers_as_strings": bool(ls or cs)}),
        ]

    def adapter_moves(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        lp, cp = _sql(legacy), _sql(candidate)
        if lp.row_format == cp.row_format and lp.rows_path != cp.rows_path:
            return [{"from": cp.rows_path, "to": lp.rows_path}]
        return []

    def adapter_ops(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        lp, cp = _sql(legacy), _sql(candidate)
        if lp.row_format == cp.row_format:
            return []
        # Read after the moves: the column names where the legacy shape keeps them.
        keys = lp.columns_path if lp.schema_path is None else f"{lp.schema_path}[].{lp.schema_name_field}"
        return [{"op": "rows", "from": cp.rows_path, "to": lp.rows_path, "keys": keys,
                 **({"to_objects": True} if lp.row_format == "objects" else {})}]

    def adapter_claims(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> tuple[
            tuple[str, ...], tuple[str, ...]]:
        # Row objects' keys are column names: data, never fields to drop or rebuild one by one.
        return (_sql(legacy).rows_path,), (_sql(candidate).rows_path,)

    def adapter_notes(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> dict[str, Any]:
        lf, cf = state["facts"]["legacy"], state["facts"]["candidate"]
        if cf["numbers"].get("string", 0) and not lf["numbers"].get("string", 0):
            return {"numbers_as_strings": "the candidate sends numeric values as JSON strings: cast them back to "
                                          "numbers by the declared column types"}
        return {}


def duplicate_names_row(classes: list[str | None], features: list[str | None]) -> list[DriftRow]:
    """A catalog row when statements returned duplicate column names a side's row objects could not carry (the
    comparison's `duplicate_columns`, its feature naming the side and the names)."""
    seen = [f or "" for c, f in zip(classes, features, strict=False) if c == "duplicate_columns"]
    if not seen:
        return []
    example = seen[0].split(": ", 1)[-1]

    def cell(side: str) -> str:
        n = sum(side in f.split(" row objects", 1)[0] for f in seen)
        if not n:
            return "duplicate names kept (row arrays)"
        return f"row objects cannot carry duplicate names ({n:,} statements, e.g. `{example}`)"

    return [DriftRow("duplicate_columns", "Response: duplicate column names", cell("legacy"), cell("candidate"),
                     False, {"statements": len(seen), "example": example})]

"""The adapter map: a JSON recipe that turns a candidate response into the legacy shape, and its interpreter.

Ops run in order: `move` (renames, read all before writing, so swaps work), a probe's own ops (`affine`: x ->
scale x + offset, e.g. a distance into a similarity; `rows`: row objects into row arrays or back), `cast`,
`normalise`, `drop`, `sort`, `derive`, `constant`. Besides `ops`, the map says which legacy fields are
`derived` (dimension from the vectors, index from positions), `constant` (the same value in every observed legacy
response: trusted only as far as the sweep saw), `reordered`, and `unknown` (cannot be rebuilt from the
candidate; with the reason).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from farm.probes.base import Profile
from farm.profiles import get_path, set_path
from farm.wiredrift.catalog import drift_roles, main_type
from farm.wiredrift.norms import norm_class, same_scale
from farm.wiredrift.structure import renames
from farm.wiredrift.values import as_array, as_text, is_vector

SCALAR_TYPES = ("integer", "number", "string", "boolean")
BUILTIN_OPS = ("move", "cast", "normalise", "affine", "drop", "sort", "derive", "rows", "constant")
# Ops a probe (or plug-in) registers from its own folder: `fn(doc, op)` reshapes the document in place.
_OPS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {}


def register_op(name: str, fn: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """Add an adapter op under `name` (a built-in name cannot be replaced)."""
    if name in BUILTIN_OPS:
        raise ValueError(f"adapter op {name!r} is built in")
    _OPS[name] = fn


# Stream reframers a streaming probe registers: `fn(adapter_map, legacy, candidate, body) -> (body, media type)`
# turns a whole candidate stream into the legacy's framing (NDJSON into SSE...).
StreamReframer = Callable[[dict[str, Any], Profile, Profile, bytes], tuple[bytes, str]]
_STREAMS: dict[str, StreamReframer] = {}


def register_stream(probe: str, fn: StreamReframer) -> None:
    """Add the stream reframer of `probe` (the proxy applies it to a streamed answer)."""
    _STREAMS[probe] = fn


def stream_reframer(probe: str) -> StreamReframer | None:
    return _STREAMS.get(probe)


def known_ops() -> set[str]:
    """Built-in ops and every registered probe's own (the probes are loaded first)."""
    from farm.probes import probe_names

    probe_names()
    return {*BUILTIN_OPS, *_OPS}


def build_adapter_map(state: dict[str, Any], legacy: Profile, candidate: Profile) -> dict[str, Any]:
    scope = state["response"]
    lpaths, cpaths = scope["paths"]["legacy"], scope["paths"]["candidate"]
    roles = drift_roles(legacy)
    lf, cf = roles.fields(state, legacy, "legacy"), roles.fields(state, candidate, "candidate")
    docs = state["facts"]["legacy"]["docs"]

    moves: list[dict[str, Any]] = list(roles.adapter_moves(state, legacy, candidate))
    casts: list[dict[str, Any]] = []
    for lp, cp in ((lf.vectors, cf.vectors), (lf.dim, cf.dim), (lf.model, cf.model)):
        if lp and cp and lp != cp:
            moves.append({"from": cp, "to": lp})
    for lp, cp, _kind in renames(scope):
        if any(m["to"] == lp or m["from"] == cp for m in moves):
            continue
        moves.append({"from": cp, "to": lp})
    for m in moves:
        index_path = getattr(candidate, "index_path", None)
        if m["from"] == cf.vectors and index_path and index_path in cpaths:
            m["order_by"] = index_path  # OpenAI-style `index`: rows may come back out of order
        lt, ct = main_type(lpaths.get(m["to"], _NO_STAT)), main_type(cpaths.get(m["from"], _NO_STAT))
        if lt != ct and lt in SCALAR_TYPES:
            casts.append({"op": "cast", "path": m["to"], "to": lt})
    moved_from = {m["from"] for m in moves}
    moved_to = {m["to"] for m in moves}
    rebuilt, consumed = roles.adapter_claims(state, legacy, candidate)

    ops: list[dict[str, Any]] = []
    if moves:
        ops.append({"op": "move", "moves": moves})
    ops += roles.adapter_ops(state, legacy, candidate)
    unknown: list[dict[str, Any]] = []
    for p, entry in sorted(scope["both"].items()):
        lt = main_type(lpaths[p])
        if entry["type"] and lt in SCALAR_TYPES:
            casts.append({"op": "cast", "path": p, "to": lt})
    ops += casts

    ln, cn = state["norms"]["legacy"], state["norms"]["candidate"]
    if lf.vectors and not same_scale(ln, cn):
        if norm_class(ln) == "unit":
            ops.append({"op": "normalise", "path": lf.vectors})
        elif norm_class(cn) != "none":
            unknown.append({"path": lf.vectors, "reason": "vector magnitudes differ and the legacy ones are not "
                            "unit length: they cannot be rebuilt from the candidate's"})

    for p in cpaths:
        if p not in lpaths and p not in moved_from and not _under(p, consumed):
            ops.append({"op": "drop", "path": p})

    derived: list[str] = []
    constant: list[str] = []
    reordered: list[str] = []
    for p, entry in sorted(scope["both"].items()):
        if entry["order"]:
            if lpaths[p]["sorted"] == lpaths[p]["seen"]:
                ops.append({"op": "sort", "path": p})
                reordered.append(p)
            else:
                unknown.append({"path": p, "reason": "same items in another order, and the legacy order is not "
                                "a sort order"})
        if entry["value"]:
            st = lpaths[p]
            if not st["varies"] and st["const"] is not None:
                ops.append({"op": "constant", "path": p, "value": orjson.loads(st["const"]), "overwrite": True})
                constant.append(p)
            elif p not in (lf.vectors, lf.dim):
                unknown.append({"path": p, "reason": f"values differ ({entry['value']} of {entry['n']}) and "
                                "vary in legacy responses"})

    for p, st in lpaths.items():
        if p in cpaths or p in moved_to or _under(p, rebuilt):
            continue
        if p == lf.dim and lf.vectors:
            ops.append({"op": "derive", "path": p, "value": "dimension", "of": lf.vectors})
            derived.append(p)
        elif st["positional"] == st["seen"] and st["seen"] > 0:
            ops.append({"op": "derive", "path": p, "value": "index", "of": lf.vectors})
            derived.append(p)
        elif st["seen"] < docs:
            unknown.append({"path": p, "reason": f"present in only {st['seen']} of {docs} legacy responses"})
        elif not st["varies"] and st["const"] is not None:
            ops.append({"op": "constant", "path": p, "value": orjson.loads(st["const"])})
            constant.append(p)
        else:
            reason = "varies in legacy responses and has no counterpart in the candidate's"
            if p == lf.model:
                reason += " (it echoes the request's model)"
            unknown.append({"path": p, "reason": reason})

    notes = roles.adapter_notes(state, legacy, candidate)
    return {
        **({"probe": notes} if notes else {}),
        "version": 1,
        "from": candidate.name,
        "to": legacy.name,
        "path": {"from": candidate.path, "to": legacy.path},
        "request_fields": _request_fields(state, lf.texts, cf.texts),
        "ops": ops,
        "derived": derived,
        "constant": constant,
        "reordered": reordered,
        "unknown": unknown,
        "observed_responses": docs,
    }


_NO_STAT: dict[str, Any] = {"types": {}}


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[]")) for p in prefixes)


def _request_fields(state: dict[str, Any], ltexts: str | None, ctexts: str | None) -> dict[str, str]:
    """legacy request field -> candidate request field, for the texts and every renamed field."""
    out = {lp: cp for lp, cp, _ in renames(state["request"])}
    if ltexts and ctexts:
        out[ltexts] = ctexts
    return out


def apply_adapter(adapter_map: dict[str, Any], candidate_response: Any, *, in_place: bool = False) -> Any:
    """The candidate response reshaped as the legacy gateway would have sent it (the input is not modified, unless
    `in_place`: the adapter proxy owns its freshly decoded document, and a deep copy is most of the work)."""
    doc = candidate_response if in_place else copy.deepcopy(candidate_response)
    if not isinstance(doc, dict):
        return doc
    for op in adapter_map["ops"]:
        kind = op["op"]
        if kind == "move":
            _move(doc, op["moves"])
        elif kind == "cast":
            _walk_set(doc, op["path"], _caster(op["to"]), create=False)
        elif kind == "normalise":
            _normalise(doc, op["path"])
        elif kind == "affine":
            _walk_set(doc, op["path"], _affine(float(op.get("scale", 1.0)), float(op.get("offset", 0.0))),
                      create=False)
        elif kind == "drop":
            delete_path(doc, op["path"])
        elif kind == "sort":
            _walk_set(doc, op["path"], lambda old, _i: sorted(old) if isinstance(old, list) else old, create=False)
        elif kind == "derive":
            _derive(doc, op)
        elif kind == "rows":
            _rows(doc, op)
        elif kind == "constant":
            # Without `overwrite`, filled in wherever absent (under `[]`: in every element that lacks it).
            _walk_set(doc, op["path"], _const(op["value"], keep=not op.get("overwrite")), create=True)
        elif kind in _OPS:
            _OPS[kind](doc, op)
        else:
            raise ValueError(f"unknown adapter op {kind!r}")
    return doc


def _rows(doc: dict[str, Any], op: dict[str, Any]) -> None:
    """Rows between shapes: objects keyed by column name into arrays in the order of `keys` (a path to the
    column names, read after the moves), or arrays into objects (`"to_objects": true`)."""
    rows, keys = get_path(doc, op["from"]), get_path(doc, op["keys"])
    if not isinstance(rows, list) or not isinstance(keys, list):
        return
    if op.get("to_objects"):
        out: list[Any] = [dict(zip(keys, r, strict=False)) if isinstance(r, list) else r for r in rows]
    else:
        out = [[r.get(k) for k in keys] if isinstance(r, dict) else r for r in rows]
    delete_path(doc, op["from"])
    set_path(doc, op["to"], out)


def _caster(to: str) -> Callable[[Any, int], Any]:
    return lambda old, _i: _cast(old, to)


def _affine(scale: float, offset: float) -> Callable[[Any, int], Any]:
    def fn(old: Any, _i: int) -> Any:
        if isinstance(old, bool) or not isinstance(old, int | float):
            return old
        new = scale * old + offset
        # An integer count moved by an integer offset stays an integer (token counts).
        return int(new) if isinstance(old, int) and float(scale).is_integer() and float(offset).is_integer() else new
    return fn


def _const(value: Any, *, keep: bool = False) -> Callable[[Any, int], Any]:
    """`value` everywhere, or with `keep` only where nothing is (an existing value stays)."""
    return lambda old, _i: old if keep and old is not None else copy.deepcopy(value)


def _move(doc: dict[str, Any], moves: list[dict[str, Any]]) -> None:
    values: list[tuple[str, Any]] = []
    for m in moves:
        value = get_path(doc, m["from"])
        if value is None:
            continue
        order = get_path(doc, m["order_by"]) if m.get("order_by") else None
        if isinstance(order, list) and isinstance(value, list) and sorted(order) == list(range(len(value))):
            value = [v for _, v in sorted(zip(order, value, strict=True), key=lambda p: p[0])]
        values.append((m["to"], value))
    for m in moves:
        delete_path(doc, m["from"])
    for to, value in values:
        if "[]" in to and not isinstance(value, list):
            value = [value]  # a scalar moved under an array (`message.content` -> `choices[].message.content`)
        set_path(doc, to, value)


def _normalise(doc: dict[str, Any], path: str) -> None:
    value = get_path(doc, path)
    arr = as_array(value)
    if arr is None:
        return
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    unit = np.divide(arr, norms, out=np.zeros_like(arr), where=norms > 0)
    set_path(doc, path, unit[0].tolist() if is_vector(value) else unit.tolist())


def _derive(doc: dict[str, Any], op: dict[str, Any]) -> None:
    vectors = as_array(get_path(doc, op["of"])) if op.get("of") else None
    if op["value"] == "dimension":
        if vectors is not None:
            dim = int(vectors.shape[1])
            _walk_set(doc, op["path"], lambda _old, _i: dim, create=True)
    elif op["value"] == "index":
        if "[]" in op["path"]:
            _walk_set(doc, op["path"], lambda _old, i: i, create=True)
        elif vectors is not None:
            set_path(doc, op["path"], list(range(vectors.shape[0])))
    else:
        raise ValueError(f"unknown derived value {op['value']!r}")


def _cast(value: Any, to: str) -> Any:
    if isinstance(value, list):
        return [_cast(v, to) for v in value]
    try:
        if to == "integer" and not isinstance(value, bool):
            f = float(value)
            return int(f) if f.is_integer() else value
        if to == "number" and not isinstance(value, bool):
            return float(value)
        if to == "string":
            text = as_text(value)
            return text if isinstance(text, str) else value
        if to == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    except (TypeError, ValueError):
        pass
    return value


def _walk_set(
    node: dict[str, Any], path: str, fn: Callable[[Any, int], Any], *, create: bool, index: int = 0
) -> None:
    """Set `fn(old, i)` at every place a dotted path reaches; `i` is the position in the innermost array."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = node.get(head[:-2])
        if isinstance(items, list) and rest:
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    _walk_set(item, rest, fn, create=create, index=i)
        return
    if not rest:
        if create or head in node:
            node[head] = fn(node.get(head), index)
        return
    child = node.get(head)
    if not isinstance(child, dict):
        if not create:
            return
        child = node[head] = {}
    _walk_set(child, rest, fn, create=create, index=index)


def delete_path(node: dict[str, Any], path: str) -> None:
    """Remove a dotted path; objects and arrays of objects left empty by the removal go too."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        name = head[:-2]
        items = node.get(name)
        if isinstance(items, list) and rest:
            for item in items:
                if isinstance(item, dict):
                    delete_path(item, rest)
            if items and all(item == {} for item in items):
                del node[name]
        return
    if not rest:
        node.pop(head, None)
        return
    child = node.get(head)
    if isinstance(child, dict):
        delete_path(child, rest)
        if not child:
            del node[head]

"""The adapter document: a sweep's adapter map with both wire profiles, as stable, versioned JSON.

`{"schema": "farm.adapter/1", "probe", "sweep", "profiles": {"legacy", "candidate"}, "map"}`; docs/adapter.md
describes every field. `load` validates a file into the same dict (one line naming what is wrong), `unmapped`
lists what the map cannot express (a proxy refuses to start on any), `sha256` names the map in the parity log.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from farm.errors import UsageError
from farm.probes.base import Profile
from farm.profiles import profile_from_dict
from farm.wiredrift.adapter import known_ops

SCHEMA = "farm.adapter/1"
_TOP: dict[str, type | tuple[type, ...]] = {"schema": str, "probe": str, "sweep": (str, type(None)),
                                            "profiles": dict, "map": dict}
_MAP: dict[str, type | tuple[type, ...]] = {"ops": list, "unknown": list, "path": dict, "request_fields": dict}


def from_sweep(url: str, sweep_id: str) -> dict[str, Any]:
    """The document of a decided sweep (its stored adapter map and the profiles it ran with)."""
    from farm.store.sweeps import get_sweep, load_outcome

    sweep = get_sweep(url, sweep_id)
    verdict, _ = load_outcome(url, sweep.id)
    adapter_map = (verdict.detail or {}).get("adapter_map") if verdict is not None else None
    if not adapter_map:
        raise UsageError(f"sweep {sweep.id} has no adapter map (it is not decided yet)")
    profiles = (sweep.params or {}).get("wire_profiles") or {}
    if not profiles.get("legacy") or not profiles.get("candidate"):
        raise UsageError(f"sweep {sweep.id} recorded no wire profiles")
    doc = {"schema": SCHEMA, "probe": sweep.probe, "sweep": sweep.id,
           "profiles": {"legacy": profiles["legacy"], "candidate": profiles["candidate"]}, "map": adapter_map}
    validate(doc, f"sweep {sweep.id}")
    return doc


def dumps(doc: dict[str, Any]) -> bytes:
    """The stable form: sorted keys, two-space indent, a final newline (the same map, the same bytes)."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def sha256(doc: dict[str, Any]) -> str:
    """The map's identity: the digest of its stable form (profiles and ops included, the sweep id not)."""
    return hashlib.sha256(dumps({k: v for k, v in doc.items() if k != "sweep"})).hexdigest()


def load(path: str | Path) -> dict[str, Any]:
    """A document from a file, validated; UsageError (one line, naming the file) otherwise."""
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON: {exc}") from None
    validate(doc, str(path))
    return doc  # type: ignore[no-any-return]


def validate(doc: Any, source: str) -> None:
    if not isinstance(doc, dict):
        raise UsageError(f"{source}: an adapter document is a JSON object")
    if doc.get("schema") != SCHEMA:
        raise UsageError(f"{source}: schema is {doc.get('schema')!r}; this farm reads {SCHEMA!r}")
    for fields, where, node in ((_TOP, "", doc), (_MAP, "map.", doc.get("map"))):
        for key, kind in fields.items():
            if not isinstance(node, dict) or not isinstance(node.get(key), kind):
                raise UsageError(f"{source}: {where}{key} is missing or of the wrong type")
    for side in ("legacy", "candidate"):
        try:
            profile = profile_from_dict(doc["profiles"].get(side) or {})
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{source}: profiles.{side}: {exc}") from None
        if profile.probe != doc["probe"]:
            raise UsageError(f"{source}: profiles.{side} is a {profile.probe} profile, the map is {doc['probe']}'s")
    ops = known_ops()
    for i, op in enumerate(doc["map"]["ops"]):
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise UsageError(f"{source}: map.ops[{i}] is not an op object")
        if op["op"] not in ops:
            raise UsageError(f"{source}: map.ops[{i}]: unknown op {op['op']!r} (known: {', '.join(sorted(ops))})")


def profiles(doc: dict[str, Any]) -> tuple[Profile, Profile]:
    return profile_from_dict(doc["profiles"]["legacy"]), profile_from_dict(doc["profiles"]["candidate"])


def unmapped(doc: dict[str, Any]) -> list[str]:
    """One line per legacy field the map cannot rebuild (a proxy serving it would answer something else)."""
    return [f"unmapped field `{u.get('path')}`: {u.get('reason', 'no reason recorded')}"
            for u in doc["map"]["unknown"]]


def render(doc: dict[str, Any]) -> str:
    """The map, readably: the endpoints, then one line per op, then what it cannot do."""
    m = doc["map"]
    lines = [f"adapter {doc['probe']}: candidate {m.get('from')} {m['path'].get('from')} -> legacy {m.get('to')} "
             f"{m['path'].get('to')} (sweep {doc.get('sweep')}, map sha256 {sha256(doc)[:12]}, schema {SCHEMA})",
             f"observed legacy responses: {m.get('observed_responses')}"]
    if m["request_fields"]:
        lines.append("request fields (legacy -> candidate): "
                     + ", ".join(f"{k} -> {v}" for k, v in sorted(m["request_fields"].items())))
    lines.append("ops:")
    for op in m["ops"]:
        if op["op"] == "move":
            lines += [f"  move  {mv['from']} -> {mv['to']}" + (f" (ordered by {mv['order_by']})"
                                                              if mv.get("order_by") else "") for mv in op["moves"]]
        else:
            rest = ", ".join(f"{k}={orjson.dumps(v).decode()}" for k, v in op.items() if k not in ("op", "path"))
            lines.append(f"  {op['op']:<9} {op.get('path', '')}" + (f"  {rest}" if rest else ""))
    if m.get("probe"):
        lines.append(f"probe notes: {orjson.dumps(m['probe']).decode()}")
    missing = unmapped(doc)
    if missing:
        lines += ["unmapped:", *[f"  {x}" for x in missing]]
    return "\n".join(lines)

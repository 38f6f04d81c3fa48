"""The layering rules of docs/architecture.md, checked on the source: imports only go one way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(folder: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): _imports(p) for p in (ROOT / folder).rglob("*.py")}


def test_farm_never_imports_workers_or_the_cli() -> None:
    bad = {m: sorted(i for i in imps if i.split(".")[0] == "workers" or i.startswith("farm.cli"))
           for m, imps in _modules("farm").items() if not m.startswith(("farm/cli/", "farm/__main__"))}
    assert {m: v for m, v in bad.items() if v} == {}


def test_only_the_store_speaks_sql() -> None:
    bad = {m: sorted(i for i in imps if i.split(".")[0] == "sqlalchemy")
           for folder in ("farm", "workers") for m, imps in _modules(folder).items()
           if not m.startswith("farm/store/")}
    assert {m: v for m, v in bad.items() if v} == {}


def test_report_and_sweep_do_not_import_each_other_both_ways() -> None:
    report_uses_sweep = any(i.startswith("farm.sweep") for imps in _modules("farm/report").values() for i in imps)
    sweep_uses_report = any(i.startswith("farm.report") for imps in _modules("farm/sweep").values() for i in imps)
    assert not (report_uses_sweep and sweep_uses_report)


def test_shared_code_names_no_probe() -> None:
    # Only a probe's own folder (and the registry's list of built-ins) may name a probe's modules.
    bad = {m: sorted(i for i in imps if i.startswith("farm.probes.") and i not in ("farm.probes.base",))
           for m, imps in _modules("farm").items()
           if not m.startswith("farm/probes/") and not m.startswith("farm/cli/")}
    assert {m: v for m, v in bad.items() if v} == {}


def test_the_gateway_layer_imports_no_probe() -> None:
    # The send path, the client, the demo gateways and the fault proxy see probes only through the protocols of
    # farm/wire.py (a leaf: it imports nothing of the farm).
    bad = {m: sorted(i for i in imps if i.startswith("farm.probes"))
           for m, imps in _modules("farm/gateway").items()}
    assert {m: v for m, v in bad.items() if v} == {}
    assert not {i for i in _imports(ROOT / "farm" / "wire.py") if i.split(".")[0] == "farm"}

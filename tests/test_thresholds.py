"""Where a sweep's verdict parameters come from: the command line, else `[thresholds.<probe>]`, else the probe's
own default, else the engine's; each parameter on its own (a table setting one keeps the probe's others)."""

from __future__ import annotations

from typing import Any

import pytest

from farm.config import parse_config
from farm.errors import UsageError
from farm.sweep.spec import SweepRequest, build_spec

URL = "http://127.0.0.1:9/"  # nothing is sent: building a spec reads no gateway


def spec_for(probe: str, thresholds: dict[str, Any], **given: Any) -> Any:
    config = parse_config({"thresholds": thresholds} if thresholds else {}, "farm.toml")
    return build_spec(config, SweepRequest(probe=probe, legacy=URL, candidate=URL, samples=10, **given))


@pytest.mark.parametrize(("probe", "table", "expected"), [
    # one key set: the probe's other defaults stay (sql: tau 1, floor 0; search: 0.99 / 0.5 / 0.01)
    ("sql", {"p_max": 0.5}, {"tau": 1.0, "floor": 0.0, "p_max": 0.5, "alpha": 0.05}),
    ("search", {"tau": 0.5}, {"tau": 0.5, "floor": 0.5, "p_max": 0.01}),
    ("search", {"p_max": 0.02}, {"tau": 0.99, "floor": 0.5, "p_max": 0.02}),
    ("chat", {"noise_sample": 0.5}, {"tau": 1.0, "floor": 0.1, "p_max": 0.01, "noise_sample": 0.5}),
    ("embed", {"noise_sample": 0.05}, {"tau": 0.9999, "floor": 0.99, "p_max": 0.001, "noise_sample": 0.05}),
    ("embed", {}, {"tau": 0.9999, "floor": 0.99, "p_max": 0.001, "noise_sample": 0.0}),
    # another probe's table does not leak
    ("sql", {"embed": None}, {"tau": 1.0, "floor": 0.0, "p_max": 0.001}),
])
def test_a_thresholds_table_overrides_only_what_it_sets(probe: str, table: dict[str, Any],
                                                         expected: dict[str, float]) -> None:
    tables = {"embed": {"tau": 0.5, "floor": 0.4}} if table == {"embed": None} else ({probe: table} if table else {})
    spec = spec_for(probe, tables)
    got = {"tau": spec.params.tau, "floor": spec.params.floor, "p_max": spec.params.p_max,
           "alpha": spec.params.alpha, "noise_sample": spec.noise_sample}
    assert {k: got[k] for k in expected} == pytest.approx(expected)


def test_the_command_line_wins_and_a_floor_above_tau_names_its_source() -> None:
    spec = spec_for("sql", {"sql": {"p_max": 0.5}}, p_max=0.2)
    assert spec.params.p_max == 0.2
    with pytest.raises(UsageError, match=r"^the search floor 0.5 must not exceed the tau 0.3$"):
        spec_for("search", {"search": {"tau": 0.3}})
    with pytest.raises(UsageError, match=r"^--floor 0.9 must not exceed the tau 0.8$"):
        spec_for("embed", {}, tau=0.8, floor=0.9)

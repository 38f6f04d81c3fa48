"""The pure parts of `farm ui`: what counts as loopback, the worst-sample diff, the board's rows, URL redaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from farm.cli.ui import basic_auth, is_loopback
from farm.errors import UsageError
from farm.store.models import Sweep, Verdict
from farm.ui.app import markdown, safe_url
from farm.ui.board import board
from farm.ui.charts import latency_bars
from farm.ui.diff import pair_lines, sample_diff


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("10.0.0.1", False), ("farm.example", False),
])
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_flowers_credentials_serve_only_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FARM_UI_AUTH", raising=False)
    monkeypatch.setenv("FARM_FLOWER_AUTH", "ops:pw")
    assert basic_auth("0.0.0.0") == ("ops", "pw") and basic_auth("127.0.0.1") is None
    monkeypatch.setenv("FARM_UI_AUTH", "me:pass:word")  # the password may hold a colon
    assert basic_auth("0.0.0.0") == basic_auth("127.0.0.1") == ("me", "pass:word")
    monkeypatch.delenv("FARM_FLOWER_AUTH")
    monkeypatch.delenv("FARM_UI_AUTH")
    assert basic_auth("::1") is None
    with pytest.raises(UsageError, match="beyond loopback"):
        basic_auth("192.168.1.10")


def test_json_pairs_are_compared_field_by_field_differing_first() -> None:
    legacy = json.dumps({"model": "m", "usage": {"tokens": 3}, "rows": [[1, "a"], [2, "b"]]})
    candidate = json.dumps({"model": "m", "usage": {"tokens": 4}, "rows": [[1, "a"], [2, "B"]], "extra": True})
    pair = pair_lines("body", legacy, candidate)
    differing = [(line.path, line.legacy, line.candidate) for line in pair.lines if line.differs]
    assert differing == [("rows[1][1]", "b", "B"), ("usage.tokens", "3", "4"), ("extra", "(absent)", "True")]
    assert all(not line.differs for line in pair.lines[3:]) and pair.differs


def test_vectors_are_summarised_not_listed() -> None:
    a, b = [0.5] * 16, [0.5] * 15 + [0.75]
    line = pair_lines("embedding", a, b).lines[0]
    assert line.legacy == "vector[16] ‖v‖ = 2" and line.candidate.endswith("max |Δ| = 0.25") and line.differs
    assert not pair_lines("embedding", a, list(a)).differs


def test_long_text_is_diffed_word_by_word() -> None:
    line = pair_lines("text", "the quick brown fox jumps over the lazy dog", "the quick red fox jumps over the dog")
    ops = [(s.op, s.text.strip()) for s in line.lines[0].segments]
    assert ("del", "brown") in ops and ("ins", "red") in ops and ("del", "lazy") in ops


def test_a_stored_sample_splits_into_facts_and_side_pairs() -> None:
    row = {"sweep_id": "s", "idx": 7, "score": 0.5, "legacy_error": None, "candidate_error": "timeout",
           "norm_legacy": 1.0, "norm_candidate": 20.0, "dim_legacy": 768, "dim_candidate": 768,
           "example": json.dumps({"sql": "SELECT 1", "results": {"legacy": {"rows": [[1]]},
                                                                 "candidate": {"rows": [["1"]]}}})}
    diff = sample_diff(row)
    assert diff.idx == 7 and ("score", "0.5") in diff.facts and ("example.sql", "SELECT 1") in diff.facts
    by_name = {p.name: p for p in diff.pairs}
    assert set(by_name) == {"error", "norm", "dim", "example"}
    assert by_name["norm"].differs and not by_name["dim"].differs and by_name["error"].differs
    assert [(line.path, line.legacy, line.candidate) for line in by_name["example"].lines] == [
        ("rows[0][0]", "1", "1")]  # 1 and "1" print alike but differ: still marked
    assert by_name["example"].lines[0].differs
    assert [p.name for p in diff.pairs][-1] == "dim"  # pairs that differ come first


def _decided(i: int, outcome: str, legacy: str = "legacy", candidate_url: str = "http://c:2/v1/embed") -> tuple[
        Sweep, Verdict]:
    when = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=i)
    sweep = Sweep(id=f"s{i}", probe="embed", legacy=legacy, candidate="candidate",
                  legacy_url="http://l:1/ai/embed", candidate_url=candidate_url, created_at=when, finished_at=when,
                  params={})
    return sweep, Verdict(sweep_id=f"s{i}", outcome=outcome, reason="", n=100, disagreements=0, errors=0,
                          detail={"lower": 0.0, "upper": 0.01 * (i + 1)})


def test_a_later_fail_of_the_endpoint_revokes_a_pairs_pass_whatever_pair_it_was_swept_on() -> None:
    history = [_decided(0, "PASS"), _decided(1, "PASS", legacy="legacy-2"),
               _decided(2, "FAIL", candidate_url="http://elsewhere:9/v1/embed")]  # same paths: same endpoint
    rows = {(r.legacy, r.candidate): r for r in board(history)}
    assert set(rows) == {("legacy", "candidate"), ("legacy-2", "candidate")}
    first = rows[("legacy", "candidate")]
    assert first.sweeps == 2 and first.latest[1].outcome == "FAIL"  # s0 and s2 share the pair's names
    assert first.revoked is not None and (first.revoked.pass_sweep, first.revoked.by_sweep) == ("s0", "s2")
    second = rows[("legacy-2", "candidate")]
    assert second.latest[1].outcome == "PASS" and second.revoked is not None and second.revoked.by_sweep == "s2"
    assert second.trend.count("<circle") == 1 and first.trend.count("<circle") == 2
    clean = board([_decided(0, "FAIL"), _decided(1, "PASS")])
    assert clean[0].revoked is None  # a FAIL before the PASS revokes nothing


def test_credentials_in_a_url_are_never_shown() -> None:
    assert safe_url("postgresql+psycopg://farm:hunter2@db:5432/farm") == "postgresql+psycopg://db:5432/farm"
    assert safe_url("http://127.0.0.1:8101") == "http://127.0.0.1:8101"


def test_latency_bars_draw_both_sides_at_three_quantiles() -> None:
    svg = latency_bars({"legacy": {"p50": 10.0, "p95": 20.0, "p99": 40.0},
                        "candidate": {"p50": 12.0, "p95": 30.0, "p99": 80.0}})
    assert svg.count("<rect") == 6 + 2  # six bars, a two-entry legend
    assert "candidate p99 80.0 ms" in svg and "legacy p50 10.0 ms" in svg
    assert latency_bars({}) == "" and latency_bars({"legacy": {"p50": None}}) == ""


def test_text_from_gateways_is_escaped_not_rendered_as_html() -> None:
    html = markdown(["| Field | legacy |", "|---|---|", "| <script>alert(1)</script> | `<b>` |"])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<code>&lt;b&gt;</code>" in html

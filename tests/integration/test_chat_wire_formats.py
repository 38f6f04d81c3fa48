"""The chat probe against gateways written for these tests in the real OpenAI chat-completions format (SSE,
usage in a stream only when `stream_options.include_usage` is sent) and Ollama's `/api/chat` (NDJSON), over
real HTTP (`tests/integration/own_gateways.py`): token accounting while streaming, framings the farm's demo
gateways never send, error events inside streams, model names a server does not know, and what the reasons,
the drift catalog and the adapter map say about cut streams and token offsets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from farm.cli import main_group
from tests.integration.own_gateways import ChatFaults, chat_app, serve

PROFILES = ("--legacy-profile", "openai", "--candidate-profile", "ollama")


def _sweep(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(main_group, ["sweep", "chat", "--json", "--quiet", *PROFILES, *args], env=env,
                                catch_exceptions=False)
    assert result.exit_code != 2, result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def _catalog(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in out["drift_catalog"]}


@pytest.fixture
def env(sqlite_url: str) -> dict[str, str]:
    return {"FARM_DATABASE_URL": sqlite_url, "FARM_CONFIG": ""}


@pytest.fixture(scope="module")
def openai() -> Iterator[str]:
    with serve(chat_app("openai")) as url:
        yield url


def test_streamed_token_accounting_sees_a_prompt_offset(openai: str, env: dict[str, str]) -> None:
    """Item 9: the openai preset asks for usage when streaming, so a +1 prompt count shows in streamed mode."""
    with serve(chat_app("ollama", ChatFaults(prompt_offset=1))) as candidate:
        code, out, _ = _sweep(env, "--legacy", openai, "--candidate", candidate, "--samples", "96", "--no-report")
    assert code in (0, 3) and out["parameters"]["probe_options"]["stream"] == 1, out["reason"]
    prompt = out["statistics"]["tokens"]["prompt"]
    assert prompt["offset"] == 1 and prompt["n"] == 96 and prompt["sent"] == {"legacy": 96, "candidate": 96}
    assert _catalog(out)["tokens_prompt"]["candidate"] == "candidate counts 1 more prompt token"
    # The adapter map takes the offset back, and moves the answer text once.
    ops = out["adapter_map"]["ops"]
    assert {"op": "affine", "path": "usage.prompt_tokens", "scale": 1, "offset": -1,
            "why": "the candidate counts +1 prompt tokens"} in ops
    moves = [m["from"] for op in ops if op["op"] == "move" for m in op["moves"]]
    assert moves.count("message.content") == 1


def test_a_side_that_sends_no_usage_is_reported_as_not_sent(env: dict[str, str], tmp_path: Path) -> None:
    with serve(chat_app("openai", ChatFaults(no_usage=True))) as legacy, serve(chat_app("ollama")) as candidate:
        code, out, _ = _sweep(env, "--legacy", legacy, "--candidate", candidate, "--samples", "48",
                              "--reports-dir", str(tmp_path))
    assert code in (0, 3), out["reason"]
    assert "legacy sent no prompt token counts" in out["statistics"]["warnings"]
    assert _catalog(out)["tokens_prompt"]["legacy"] == "not sent"
    report = Path(out["report"]).read_text()
    assert "| prompt | 0 | not sent by legacy |" in report and "| prompt | 0 | None | 0 |" not in report


def test_split_sse_events_and_an_ndjson_end_without_newline_parse(env: dict[str, str]) -> None:
    """Item 10: each SSE event over several `data:` lines (joined with newlines); the last NDJSON line without
    its newline. Both used to fail every sample."""
    with serve(chat_app("openai", ChatFaults(split_data_lines=True))) as legacy, \
            serve(chat_app("ollama", ChatFaults(no_newline_at_end=True))) as candidate:
        code, out, _ = _sweep(env, "--legacy", legacy, "--candidate", candidate, "--samples", "96", "--no-report")
    assert code in (0, 3) and out["disagreements"] == 0 and out["n"] == 96, out["reason"]
    assert out["statistics"]["errors"]["legacy"]["count"] == out["statistics"]["errors"]["candidate"]["count"] == 0
    assert out["statistics"]["stream_checks"]["candidate"]["equal"] == out["statistics"]["stream_checks"][
        "candidate"]["checked"] > 0


@pytest.mark.parametrize(("fmt", "message"), [("ollama", "model runner has unexpectedly stopped"),
                                              ("openai", "upstream overloaded")])
def test_an_error_event_inside_a_stream_is_its_own_class_with_its_message(openai: str, env: dict[str, str],
                                                                         fmt: str, message: str) -> None:
    profiles = ("--candidate-profile", fmt)
    with serve(chat_app(fmt, ChatFaults(error_in_stream=message))) as candidate:
        code, out, err = _sweep(env, "--legacy", openai, "--candidate", candidate, "--samples", "96", *profiles)
    assert code == 4 and out["exit_code"] == 4, out
    assert f"stream error (error event in the stream: {message})" in out["reason"] and message in err


def test_no_model_is_sent_unless_configured_and_a_404_shows_status_and_body(openai: str, env: dict[str, str],
                                                                           tmp_path: Path) -> None:
    """Item 11: a server that knows no model the farm could guess answers when none is sent; a wrong one gives
    exit 4 with the status and the start of the body."""
    with serve(chat_app("ollama", ChatFaults(reject_any_model=True))) as strict:
        code, out, _ = _sweep(env, "--legacy", openai, "--candidate", strict, "--samples", "48", "--no-report")
        assert code in (0, 3) and out["statistics"]["errors"]["candidate"]["count"] == 0, out["reason"]
        code, out, err = _sweep(env, "--legacy", openai, "--candidate", strict, "--samples", "48", "--no-report",
                                "--model", "llama3.2")
    assert code == 4 and "HTTP error status" in out["reason"] and "HTTP 404: " in err, out
    assert """(HTTP 404: {"error":"model 'llama3.2' not found, try pulling it first"})""" in out["reason"]
    # A model named in the profile is sent (and only to that side).
    config = tmp_path / "farm.toml"
    config.write_text('[profiles.my-ollama]\nprobe = "chat"\nbase = "ollama"\nmodel = "qwen3"\n')
    with serve(chat_app("ollama", ChatFaults(require_model="qwen3"))) as picky:
        code, out, _ = _sweep({**env, "FARM_CONFIG": str(config)}, "--legacy", openai, "--candidate", picky,
                              "--candidate-profile", "my-ollama", "--samples", "48", "--no-report")
    assert code in (0, 3) and out["statistics"]["errors"]["candidate"]["count"] == 0, out["reason"]


def test_cut_streams_are_named_in_the_reason_and_counted_once(openai: str, env: dict[str, str]) -> None:
    """Item 12: the FAIL names the cut streams (the worst figure covers compared samples only), and a cut stream
    is not counted again as a stream-vs-plain difference."""
    with serve(chat_app("ollama", ChatFaults(cut_every=4))) as cutting:
        code, out, _ = _sweep(env, "--legacy", openai, "--candidate", cutting, "--samples", "160", "--no-report")
    cut = out["statistics"]["errors"]["candidate"]["count"]
    assert code == 1 and out["verdict"] == "FAIL" and 15 <= cut <= 70, out["reason"]
    assert "worst of the compared samples 1.0000" in out["reason"]
    assert f"the candidate failed on {cut} stream_truncated (streams cut before their done marker)" in out["reason"]
    checks = out["statistics"]["stream_checks"]
    # A batch's first stream was cut (before: counted again, as 1 of 5 streams differing from the plain answer).
    assert checks["candidate"]["differ"] == 0 and checks["candidate"]["checked"] < checks["legacy"]["checked"], checks


def test_a_per_message_token_offset_says_the_texts_are_equal(openai: str, env: dict[str, str]) -> None:
    with serve(chat_app("ollama", ChatFaults(per_message_offset=1))) as candidate:
        code, out, _ = _sweep(env, "--legacy", openai, "--candidate", candidate, "--samples", "160", "--no-report")
    assert code == 1 and out["statistics"]["exact_matches"] == 160, out["reason"]
    assert "disagreements have equal texts: token counts differ (prompt by +1 per message)" in out["reason"]
    assert out["statistics"]["tokens"]["prompt"]["per_message"] == 1
    assert "per message" in _catalog(out)["tokens_prompt"]["candidate"]
    # The finish and count fields are paired by their own rows, so none is also a missing or an extra field
    # (before: choices[].finish_reason and usage.prompt_tokens missing, done_reason and prompt_eval_count extra).
    lonely = {r["path"] for r in out["drift_catalog"] if r["kind"] in ("missing", "extra")}
    assert not lonely & {"done_reason", "choices[].finish_reason", "usage.prompt_tokens", "prompt_eval_count",
                         "usage.completion_tokens", "eval_count"}, lonely
    assert _catalog(out)["finish"]["legacy_path"] == "choices[].finish_reason"


def test_a_sampling_seed_in_semantic_mode_warns(openai: str, env: dict[str, str]) -> None:
    with serve(chat_app("ollama")) as candidate:
        code, out, err = _sweep(env, "--legacy", openai, "--candidate", candidate, "--samples", "96", "--no-report",
                                "--temperature", "0.8", "--sampling-seed", "7")
    assert code in (0, 3) and out["statistics"]["semantic"]["legacy_self_mean"] == 1.0, out["reason"]
    assert "farm: warning: --sampling-seed makes legacy repeat itself" in err
    assert any("--sampling-seed" in w for w in out["statistics"]["warnings"])

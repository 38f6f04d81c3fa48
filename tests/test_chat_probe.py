"""The chat probe's pure parts: tokenizer and demo model, chrF and normalisation, wire profiles and stream
parsing (split lines, missing done markers, broken connections), token offsets, and its CLI errors."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from farm.cli import main_group
from farm.probes import get_probe
from farm.probes.base import MalformedBody
from farm.probes.chat.compare import chrf, normalise, stream_check
from farm.probes.chat.demo import _pieces
from farm.probes.chat.model import detokenize, model, prompt_tokens, tokenize
from farm.probes.chat.profile import PRESETS, ChatProfile
from farm.probes.chat.prompts import conversation_from_json, synthetic_conversation
from farm.probes.chat.verdict import offsets

LEGACY = PRESETS["lakehouse-legacy"]
CANDIDATE = PRESETS["lakehouse-candidate"]
assert isinstance(LEGACY, ChatProfile) and isinstance(CANDIDATE, ChatProfile)


def test_the_demo_model_is_greedy_at_temperature_0_and_seeded_above() -> None:
    lm = model()
    a, b = lm.generate("user: hello", 64, 0.0, None), lm.generate("user: hello", 64, 0.0, random.Random(5))
    assert a == b and a.finish in ("stop", "length") and 0 < len(a.tokens) <= 64
    assert lm.generate("user: hello", 3, 0.0, None).finish == "length"
    sampled = {tuple(lm.generate(f"user: q{i}", 64, 1.0, random.Random(i)).tokens) for i in range(3)}
    assert sampled == {tuple(lm.generate(f"user: q{i}", 64, 1.0, random.Random(i)).tokens) for i in range(3)}
    differs = sum(lm.generate(f"user: p{i}", 64, 0.0, None, variant=True).tokens
                  != lm.generate(f"user: p{i}", 64, 0.0, None).tokens for i in range(50))
    assert differs == 50  # the drifted model always answers a little differently


def test_tokens_and_stream_pieces_rebuild_the_text() -> None:
    tokens = tokenize("Hello, world! Ça va? l'eau (bien).")
    assert tokens[:3] == ["Hello", ",", "world"] and "l'eau" in tokens
    text = detokenize(model().generate("user: x", 40, 0.0, None).tokens)
    for chunking in (1, 2, 5, 100):
        assert "".join(_pieces(tokenize(text), chunking)) == text
    assert prompt_tokens([{"role": "user", "content": "a b"}], bos=True) == \
        prompt_tokens([{"role": "user", "content": "a b"}], bos=False) + 1


def test_chrf_and_normalisation() -> None:
    decomposed = unicodedata.normalize("NFD", "café  au lait ")
    assert normalise(decomposed) == "café au lait" and chrf(decomposed, "café au lait") == 1.0
    near, far = chrf("the river runs past the mill", "the river runs by the mill"), chrf("abc", "xyz")
    assert 0.5 < near < 1.0 and far == 0.0
    assert chrf("", "") == 1.0 and chrf("a", "") == 0.0


def test_requests_of_both_shapes_and_back() -> None:
    conv = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.7}
    body = CANDIDATE.build_request(conv, None, {"max_tokens": 9, "seed": 3}, True)
    assert body == {"messages": conv["messages"],  # no preset names a model: a real server would answer 404
                    "options": {"temperature": 0.7, "num_predict": 9, "seed": 3}, "stream": True}
    assert CANDIDATE.conversation_of(body) == {**conv, "max_tokens": 9, "seed": 3}
    assert LEGACY.build_request(conv, "m", {"max_tokens": 9}, False) == {
        "messages": conv["messages"], "model": "m", "temperature": 0.7, "max_tokens": 9, "stream": False}
    with pytest.raises(MalformedBody):
        LEGACY.conversation_of({"messages": [{"role": "user"}]})
    assert conversation_from_json([{"role": "user", "content": "x"}]) == {"messages": [{"role": "user",
                                                                                        "content": "x"}]}
    with pytest.raises(MalformedBody):
        conversation_from_json({"messages": [], "temperature": 1})
    assert synthetic_conversation(0, 7) == synthetic_conversation(0, 7) != synthetic_conversation(0, 8)


def _split(lines: list[bytes], at: int) -> list[tuple[float, bytes]]:
    """The framed lines as pieces arriving 10 ms apart, cut every `at` bytes (mid-line, mid-JSON)."""
    blob = b"".join(lines)
    return [(10.0 * (i + 1), blob[j:j + at]) for i, j in enumerate(range(0, len(blob), at))]


@pytest.mark.parametrize("profile", [LEGACY, CANDIDATE], ids=["sse", "ndjson"])
def test_a_stream_parses_into_the_plain_answer(profile: ChatProfile) -> None:
    lines = profile.stream_events(["Hello", " world", "."], "stop", 7, 3, "trigram-demo", cut=False)
    plain = profile.parse_answer(profile.answer_document("Hello world.", "stop", 7, 3, "trigram-demo"))
    for at in (1, 7, 10_000):
        answer, done, last = profile.parse_stream(_split(lines, at), True)
        assert done and (answer.text, answer.finish, answer.prompt_tokens, answer.completion_tokens) == (
            plain.text, plain.finish, plain.prompt_tokens, plain.completion_tokens)
        assert answer.streamed and answer.ttft_ms is not None and isinstance(last, dict)
    assert profile.parse_stream(_split(lines, 10_000), True)[0].ttft_ms == 10.0


@pytest.mark.parametrize("profile", [LEGACY, CANDIDATE], ids=["sse", "ndjson"])
def test_a_stream_cut_off_mid_answer_is_classified_not_raised(profile: ChatProfile) -> None:
    probe = get_probe("chat")
    cut = profile.stream_events(["Hello", " world", " again", "."], "stop", 7, 4, "trigram-demo", cut=True)
    value, errors, _doc = probe.parse_stream(profile, _split(cut, 5), True, 1)
    assert errors == ["stream_truncated"] and value["text"] == "Hello world"
    whole = b"".join(profile.stream_events(["Hello", " world"], "stop", 7, 2, "trigram-demo", cut=False))
    broken = [(1.0, whole[: len(whole) * 2 // 3])]  # the connection broke inside a line
    value, errors, _doc = probe.parse_stream(profile, broken, False, 1)
    assert errors == ["stream_truncated"] and value["text"].startswith("Hello")
    with pytest.raises(MalformedBody):
        profile.parse_stream([(1.0, b"data: {not json\n\n" if profile.stream_format == "sse" else b"{oops\n")],
                             True)


def test_stream_check_and_token_offsets() -> None:
    answer = {"text": "a  b", "finish": "stop", "prompt_tokens": 1, "completion_tokens": 2, "ttft_ms": 1.0,
              "tokens_per_s": 1.0, "streamed": True, "chunks": 2}
    assert stream_check({"answers": [answer], "check": {**answer, "text": "a b"}}) == 1
    assert stream_check({"answers": [answer], "check": {**answer, "text": "a c"}}) == 0
    assert stream_check({"answers": [answer], "check": None}) is None
    legacy = np.array([5, 6, 7, 8, -1])
    constant = offsets(legacy, legacy + 1, np.ones(5, dtype=bool))
    assert constant["offset"] == 1 and constant["inconsistent"] == 0 and constant["n"] == 4
    mixed = offsets(legacy, np.array([6, 7, 8, 8, 3]), np.ones(5, dtype=bool))
    assert mixed["offset"] == 1 and mixed["inconsistent"] == 1 and list(mixed["off_mode"]) == [0, 0, 0, 1, 0]


def test_bad_chat_options_are_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(main_group, ["sweep", "chat", "--compare", "fuzzy", "--samples", "5"],
                                env={"FARM_CONFIG": ""})
    assert result.exit_code == 2 and "Traceback" not in result.output and "fuzzy" in result.output
    result = CliRunner().invoke(main_group, ["gateways", "serve", "--probe", "chat", "--profile",
                                             "lakehouse-legacy", "--finish-names", "stop", "--port", "1"],
                                env={"FARM_CONFIG": ""})
    assert result.exit_code == 2 and "name=new pairs" in result.output, result.output
    result = CliRunner().invoke(main_group, ["gateways", "serve", "--probe", "chat", "--profile",
                                             "lakehouse-legacy", "--chunking", "0", "--port", "1"],
                                env={"FARM_CONFIG": ""})
    assert result.exit_code == 2 and "--chunking" in result.output, result.output


def test_the_adapter_map_turns_a_candidate_answer_into_the_legacy_shape() -> None:
    from farm.wiredrift import DriftObserver
    from farm.wiredrift.adapter import apply_adapter

    observer = DriftObserver(LEGACY, CANDIDATE)
    conv = {"messages": [{"role": "user", "content": "hi"}]}
    for i in range(4):
        text = f"Answer number {i}."
        observer.observe(LEGACY.build_request(conv, None, {}, False),
                         LEGACY.answer_document(text, "stop", 5 + i, 4, "trigram-demo"),
                         CANDIDATE.build_request(conv, None, {}, False),
                         CANDIDATE.answer_document(text, "stop", 6 + i, 4, "trigram-demo"))  # one more prompt token
    adapter = observer.adapter_map()
    moves = {m["from"]: m["to"] for op in adapter["ops"] if op["op"] == "move" for m in op["moves"]}
    assert moves["message.content"] == "choices[].message.content" and moves["done_reason"] == "choices[].finish_reason"
    assert moves["prompt_eval_count"] == "usage.prompt_tokens"  # paired by the probe although the values differ
    assert adapter["probe"]["stream"]["from"] == "ndjson" and adapter["probe"]["stream"]["done"]["to"] == \
        "`data: [DONE]`"
    doc = apply_adapter(adapter, CANDIDATE.answer_document("Hello there.", "length", 9, 3, "trigram-demo"))
    parsed = LEGACY.parse_answer(doc)
    # The candidate counts one more prompt token: the map takes it back (legacy would have said 8).
    assert (parsed.text, parsed.finish, parsed.prompt_tokens, parsed.completion_tokens) == ("Hello there.", "length",
                                                                                           8, 3)
    all_moves = [m for op in adapter["ops"] if op["op"] == "move" for m in op["moves"]]
    assert [m["from"] for m in all_moves].count("message.content") == 1  # moved once, not twice
    assert {"op": "affine", "path": "usage.prompt_tokens", "scale": 1, "offset": -1,
            "why": "the candidate counts +1 prompt tokens"} in adapter["ops"]
    assert not any(op["op"] == "affine" and op["path"] == "usage.completion_tokens" for op in adapter["ops"])


def test_a_connection_broken_mid_stream_is_classified_by_the_client() -> None:
    """The client's own handling of a transport that dies after the first chunk (a uvicorn demo gateway cannot
    drop a connection mid-body without logging a traceback, so the break comes from an httpx transport)."""
    import asyncio

    import httpx

    from farm.gateway.client import RetryPolicy, Target, call_gateway

    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b'{"message": {"content": "Hello"}, "done": false}\n{"message": {"content": " wor'
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, stream=Broken(), headers={"content-type": "application/x-ndjson"})

    async def run() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await call_gateway(client, get_probe("chat"), Target("c", "http://gw", CANDIDATE),
                                      [synthetic_conversation(0, 0)], None, RetryPolicy(attempts=3),
                                      options={"stream": 0})

    result = asyncio.run(run())
    # stream=0 asks plainly: the body breaks mid-JSON after the head, a reset, retried up to 3 times
    assert result.errors == ["connection_reset"] and len(calls) == 3  # cut after the head: a reset, retried

    async def streamed() -> Any:
        calls.clear()
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await call_gateway(client, get_probe("chat"), Target("c", "http://gw", CANDIDATE),
                                      [synthetic_conversation(0, 0)], None, RetryPolicy(attempts=3),
                                      options={"stream": 1})

    result = asyncio.run(streamed())
    assert result.errors == ["stream_truncated"] and len(calls) == 1 + 3  # the stream is not retried; the plain is
    assert result.value["answers"][0]["text"] == "Hello"


# --- issue 20, items 9-11: real servers' framings and requests -----------------------------------------------
OPENAI = PRESETS["openai"]
OLLAMA = PRESETS["ollama"]
assert isinstance(OPENAI, ChatProfile) and isinstance(OLLAMA, ChatProfile)


def test_an_ndjson_last_line_without_its_newline_parses() -> None:
    lines = OLLAMA.stream_events(["Hello", " world"], "stop", 7, 2, "m", cut=False)
    blob = b"".join(lines).rstrip(b"\n")  # Ollama-like servers may end the stream without a newline
    for at in (3, 10_000):
        answer, done, _ = OLLAMA.parse_stream(_split([blob], at), True)
        assert done and answer.text == "Hello world" and answer.finish == "stop"
        assert (answer.prompt_tokens, answer.completion_tokens) == (7, 2)
    value, errors, _ = get_probe("chat").parse_stream(OLLAMA, _split([blob], 5), True, 1)
    assert errors == [None] and value["text"] == "Hello world"


def test_an_sse_event_over_several_data_lines_is_joined_with_newlines() -> None:
    # One JSON event split over three `data:` lines (the SSE spec joins them with "\n"), CRLF line ends, a
    # comment, an `id:` field, and a final event without its blank line.
    blob = (b': ping\r\nid: 1\r\ndata: {"choices": [{"delta":\r\ndata:  {"content": "Hel"}}],\r\n'
            b'data: "model": "m"}\r\n\r\n'
            b'data: {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}\n\n'
            b'data: {"choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": 2}}\n\n'
            b"data: [DONE]")
    for at in (1, 4, 10_000):
        answer, done, _last = OPENAI.parse_stream(_split([blob], at), True)
        assert done and answer.text == "Hello" and answer.finish == "stop", at
        assert answer.prompt_tokens == 0 and answer.completion_tokens == 2  # a count of 0 is kept, not dropped
    # A data value is JSON only once joined: the parts alone are not.
    split_text = b'data: {"choices": [{"delta": {"content": "a\ndata: b"}}]}\n\n'
    with pytest.raises(MalformedBody):
        OPENAI.parse_stream([(1.0, split_text)], True)  # a raw newline inside a JSON string is invalid JSON


@pytest.mark.parametrize(("profile", "blob", "message"), [
    (OPENAI, b'data: {"choices": [{"delta": {"content": "Hi"}}]}\n\n'
             b'data: {"error": {"message": "upstream overloaded", "type": "server_error"}}\n\n', "upstream overloaded"),
    (OPENAI, b'data: {"choices": [{"delta": {"content": "Hi"}}]}\n\nevent: error\ndata: rate limited\n\n',
     "rate limited"),
    (OLLAMA, b'{"message": {"role": "assistant", "content": "Hi"}, "done": false}\n'
             b'{"error": "model runner has unexpectedly stopped"}\n', "model runner has unexpectedly stopped"),
], ids=["sse-json", "sse-event-error", "ndjson"])
def test_an_error_event_inside_a_stream_is_its_own_class_with_its_message(profile: ChatProfile, blob: bytes,
                                                                          message: str) -> None:
    probe = get_probe("chat")
    value, errors, _ = probe.parse_stream(profile, [(1.0, blob)], True, 1)
    assert errors == ["stream_error"] and value["error"] == message and value["text"] == "Hi"
    assert probe.error_detail(profile, value, errors) == f"error event in the stream: {message}"


def test_a_count_of_zero_is_kept_in_plain_answers_and_streams() -> None:
    answer = OLLAMA.parse_answer(OLLAMA.answer_document("", "stop", 0, 0, "m"))
    assert (answer.prompt_tokens, answer.completion_tokens) == (0, 0)
    lines = OLLAMA.stream_events(["x"], "stop", 5, 0, "m", cut=False)
    answer, _, _ = OLLAMA.parse_stream([(1.0, b"".join(lines))], True)
    assert answer.completion_tokens == 0


def test_the_openai_preset_asks_for_usage_when_streaming_and_profiles_add_fields() -> None:
    from farm.profiles import profile_from_table

    conv = {"messages": [{"role": "user", "content": "hi"}]}
    streamed, plain = OPENAI.build_request(conv, None, {}, True), OPENAI.build_request(conv, None, {}, False)
    assert streamed["stream_options"] == {"include_usage": True} and "stream_options" not in plain
    assert "model" not in streamed and OPENAI.build_request(conv, "gpt-x", {}, True)["model"] == "gpt-x"
    custom = profile_from_table("mine", {"probe": "chat", "base": "ollama", "model": "llama3.2",
                                         "request_extra": {"keep_alive": "5m", "options": {"num_ctx": 4096}}},
                                "farm.toml")
    assert isinstance(custom, ChatProfile)
    body = custom.build_request({**conv, "temperature": 0.2}, None, {"max_tokens": 8}, True)
    assert body["model"] == "llama3.2" and body["keep_alive"] == "5m"
    assert body["options"] == {"num_ctx": 4096, "temperature": 0.2, "num_predict": 8}  # merged, not replaced

"""The flip for the seed's chat pair: the candidate's Ollama-style answers (NDJSON streams) re-sent as the legacy's
OpenAI-style ones (SSE ending in `[DONE]`), plain answers moved under `choices[]`; a strict sweep PASSes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from farm.gateway.process import GatewayProcess, spawn
from tests.adapter.conftest import export, serve_adapter, sweep


@pytest.fixture(scope="module")
def chat_pair() -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    with spawn("lakehouse-legacy", probe="chat") as legacy, spawn("lakehouse-candidate", probe="chat") as candidate:
        yield legacy, candidate


def test_ndjson_to_sse_and_plain_answers_and_a_strict_sweep_passes(chat_pair: tuple[GatewayProcess, GatewayProcess],
                                                                   tmp_path: Path) -> None:
    legacy, candidate = chat_pair
    env = {"FARM_DATABASE_URL": f"sqlite:///{tmp_path}/farm.db", "FARM_CONFIG": ""}
    first = sweep(env, "chat", legacy.url, candidate.url, "--samples", "20")
    map_file = export(env, first["sweep_id"], tmp_path / "chat.json")
    with serve_adapter(map_file, candidate.url) as adapter:
        body = {"messages": [{"role": "user", "content": "what is a noise floor?"}], "max_tokens": 8,
                "temperature": 0}
        plain = httpx.post(adapter.url + "/ai/chat", json=body, timeout=10).json()
        assert plain == httpx.post(legacy.url + "/ai/chat", json=body, timeout=10).json()
        streamed = httpx.post(adapter.url + "/ai/chat", json={**body, "stream": True}, timeout=10)
        want = httpx.post(legacy.url + "/ai/chat", json={**body, "stream": True}, timeout=10)
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.content == want.content and streamed.content.endswith(b"data: [DONE]\n\n")
        out = sweep(env, "chat", legacy.url, adapter.url, "--candidate-profile", "lakehouse-legacy", "--strict-wire",
                    "--samples", "100", "--p-max", "0.05")
    assert out["verdict"] == "PASS", out["reason"]
    assert out["strict_wire"] == {"samples": 100, "differ": 0, "paths": {}}

"""Gateways written for these tests, not by the farm: Starlette apps served by uvicorn on a free loopback port
(in a thread of the test process), speaking formats the farm did not invent:

- `search_app`: an exact faiss index over unit vectors with duplicate documents, answering either inner
  products (`IndexFlatIP`, legacy shape) or squared L2 distances (`IndexFlatL2`, 2 - 2s, candidate shape), with
  duplicates in the other order; or the retrieve candidate shape with a descending `relevance`.
- `chat_app`: the real OpenAI chat-completions format (`POST /v1/chat/completions`; SSE, usage in a stream only
  when `stream_options.include_usage` is sent) or Ollama's `/api/chat` (NDJSON), with the faults of issue 20.
"""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from farm.gateway.process import free_port


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """`app` on 127.0.0.1:<free port> until the block ends; yields its base URL once it accepts connections."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):  # up to 30 s, polling the server's own started flag
            if server.started:
                break
            if not thread.is_alive():
                raise RuntimeError("the test gateway did not start")
            threading.Event().wait(0.05)
        else:
            raise RuntimeError("the test gateway did not start within 30 s")
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- search: faiss exact indexes over unit vectors with duplicates ---------------------------------------------
DIM, DOCS, DUPLICATES = 32, 1500, 0.2


def _vector(text: str) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@dataclass
class Corpus:
    ids: list[str]
    vectors: np.ndarray  # (n, DIM) float32, unit rows; a duplicate is an exact copy of an earlier row


def corpus() -> Corpus:
    rng = np.random.default_rng(20)
    base = rng.standard_normal((DOCS, DIM)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    copies = rng.choice(DOCS, size=int(DOCS * DUPLICATES), replace=False)
    vectors = np.vstack([base, base[copies]])
    ids = [f"doc{i}" for i in range(DOCS)] + [f"doc{i}-copy" for i in copies]
    return Corpus(ids, vectors)


def search_app(metric: str, shape: str) -> Starlette:
    """`metric`: "ip" (inner product, descending, ties by document order), "l2sq" (faiss squared L2, ascending,
    ties in reverse document order) or "hashed" (the inner product's ranking, scored with numbers unrelated to it,
    ascending). `shape`: "legacy" (`/vectors/search` -> results[{id, score}]),
    "candidate" (`/v1/vectors/search` -> matches[{doc_id, distance}]), "retrieve-legacy" (`/vectors/hybrid` ->
    hits[{id, score, text}]) or "retrieve-candidate" (`/v1/matrix/retrieve` -> documents[{id, relevance,
    content}]); the score is whatever the metric gives (an inner product comes descending)."""
    import faiss  # type: ignore[import-untyped]

    faiss.omp_set_num_threads(1)
    c = corpus()
    index = faiss.IndexFlatL2(DIM) if metric == "l2sq" else faiss.IndexFlatIP(DIM)
    index.add(c.vectors)

    async def search(request: Request) -> Response:
        body = await request.json()
        k = int(body.get("k") or body.get("top_k") or body.get("limit") or 10)
        q = _vector(str(body["query"]))[None, :]
        scores, idx = index.search(q, k + 20)  # a deeper pool, re-sorted with this gateway's own tie order
        pairs = [(float(s), int(i)) for s, i in zip(scores[0], idx[0], strict=True) if i >= 0]
        if metric == "hashed":  # a scoring that drifted: ascending numbers unrelated to the similarity
            pairs = [(float(zlib.crc32(c.ids[i].encode()) % 1000) / 1000.0, i) for _, i in pairs]
        pairs.sort(key=lambda p: (-p[0], p[1]) if metric == "ip" else (p[0], -p[1]))
        top = pairs[:k]
        if shape == "legacy":
            return JSONResponse({"results": [{"id": c.ids[i], "score": s} for s, i in top], "took_ms": 0.1})
        if shape == "candidate":
            return JSONResponse({"matches": [{"doc_id": c.ids[i], "distance": s} for s, i in top],
                                 "count": len(top)})
        if shape == "retrieve-legacy":
            return JSONResponse({"hits": [{"id": c.ids[i], "score": s, "text": c.ids[i]} for s, i in top]})
        return JSONResponse({"documents": [{"id": c.ids[i], "relevance": s, "content": c.ids[i]} for s, i in top]})

    paths = {"legacy": "/vectors/search", "candidate": "/v1/vectors/search", "retrieve-legacy": "/vectors/hybrid",
             "retrieve-candidate": "/v1/matrix/retrieve"}
    return Starlette(routes=[Route(paths[shape], search, methods=["POST"])])


# --- chat: OpenAI chat-completions and Ollama /api/chat -------------------------------------------------------
WORDS = ("the", "river", "runs", "past", "old", "mill", "and", "a", "quiet", "field", "of", "barley", "under",
         "grey", "sky", "where", "swallows", "turn")


@dataclass(frozen=True)
class ChatFaults:
    """What a chat test gateway does wrong (or differently)."""

    prompt_offset: int = 0           # prompt tokens counted this many more per conversation
    per_message_offset: int = 0      # prompt tokens counted this many more per message
    no_newline_at_end: bool = False  # NDJSON: the last line without its newline
    split_data_lines: bool = False   # SSE: each event's JSON split over several `data:` lines
    error_in_stream: str = ""        # the stream stops with an error event carrying this message
    require_model: str = ""          # 404 {"error": ...} unless the request names this model ("" any / none)
    reject_any_model: bool = False   # 404 whenever a model is named (a server that knows other names)
    cut_every: int = 0               # every n-th prompt's stream stops halfway, before its done marker
    no_usage: bool = False           # never report token counts (plain or streamed)


def _answer(messages: list[dict[str, Any]], max_tokens: int) -> tuple[list[str], str]:
    """A deterministic answer: words picked by a hash of the conversation; finish "length" or "stop"."""
    seed = zlib.crc32(orjson.dumps(messages))
    n = 3 + seed % 9
    words = [WORDS[(seed + 7 * i * i) % len(WORDS)] for i in range(n)]
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    return (pieces[:max_tokens], "length") if len(pieces) > max_tokens else ([*pieces, "."], "stop")


def _prompt_tokens(messages: list[dict[str, Any]], per_message: int) -> int:
    return sum(len(str(m.get("content", "")).split()) + 3 + per_message for m in messages)


def chat_app(fmt: str, faults: ChatFaults = ChatFaults()) -> Starlette:
    """`fmt`: "openai" (`/v1/chat/completions`, SSE) or "ollama" (`/api/chat`, NDJSON)."""

    async def chat(request: Request) -> Response:
        body = await request.json()
        model = body.get("model")
        if (faults.reject_any_model and model) or (faults.require_model and model != faults.require_model):
            return JSONResponse({"error": f"model '{model}' not found, try pulling it first"}, status_code=404)
        messages = body["messages"]
        opts = body.get("options") or {}
        max_tokens = int(body.get("max_tokens") or opts.get("num_predict") or 64)
        pieces, finish = _answer(messages, max_tokens)
        prompt = _prompt_tokens(messages, faults.per_message_offset) + faults.prompt_offset
        completion = len(pieces)
        stream = body.get("stream") is True
        cut = faults.cut_every and zlib.crc32(orjson.dumps(messages)) % faults.cut_every == 0
        if fmt == "openai":
            return _openai(body, pieces, finish, prompt, completion, stream, bool(cut), faults)
        return _ollama(pieces, finish, prompt, completion, stream, bool(cut), faults)

    path = "/v1/chat/completions" if fmt == "openai" else "/api/chat"
    return Starlette(routes=[Route(path, chat, methods=["POST"])])


def _openai(body: dict[str, Any], pieces: list[str], finish: str, prompt: int, completion: int, stream: bool,
            cut: bool, faults: ChatFaults) -> Response:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    base = {"id": "chatcmpl-1", "created": 1, "model": body.get("model") or "test-model"}
    if not stream:
        doc = {**base, "object": "chat.completion",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                            "finish_reason": finish}]}
        if not faults.no_usage:
            doc["usage"] = usage
        return JSONResponse(doc)
    events: list[dict[str, Any]] = [{**base, "object": "chat.completion.chunk",
                                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                  "finish_reason": None}]}]
    events += [{**base, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    events.append({**base, "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    # As OpenAI does: usage only when asked, in a last chunk whose `choices` is empty.
    if (body.get("stream_options") or {}).get("include_usage") and not faults.no_usage:
        events.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    frames = [_sse(e, faults.split_data_lines) for e in events]
    if cut:
        frames = frames[: max(2, len(frames) // 2)]
    elif faults.error_in_stream:
        frames = [*frames[:2], _sse({"error": {"message": faults.error_in_stream, "type": "server_error"}}, False)]
    else:
        frames.append(b"data: [DONE]\n\n")
    return StreamingResponse(_lines(frames), media_type="text/event-stream")


def _sse(event: dict[str, Any], split: bool) -> bytes:
    text = orjson.dumps(event, option=orjson.OPT_INDENT_2 if split else 0).decode()
    return "".join(f"data: {line}\n" for line in text.split("\n")).encode() + b"\n"


def _ollama(pieces: list[str], finish: str, prompt: int, completion: int, stream: bool, cut: bool,
            faults: ChatFaults) -> Response:
    base = {"model": "test-model", "created_at": "2026-12-07T00:00:00Z"}
    counts = {} if faults.no_usage else {"prompt_eval_count": prompt, "eval_count": completion}
    final = {**base, "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": finish,
             "total_duration": 1000, **counts}
    if not stream:
        return JSONResponse({**final, "message": {"role": "assistant", "content": "".join(pieces)}})
    lines = [orjson.dumps({**base, "message": {"role": "assistant", "content": p}, "done": False}) + b"\n"
             for p in pieces]
    if cut:
        lines = lines[: max(1, len(lines) // 2)]
    elif faults.error_in_stream:
        lines = [*lines[:1], orjson.dumps({"error": faults.error_in_stream}) + b"\n"]
    else:
        lines.append(orjson.dumps(final) + (b"" if faults.no_newline_at_end else b"\n"))
    return StreamingResponse(_lines(lines), media_type="application/x-ndjson")


async def _lines(frames: list[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame
        await asyncio.sleep(0)  # each frame its own write: the client sees the pieces arrive

"""The chat probe against a bare httpx loop reading both streams: wall time, and time to first token as each
measures it, on the same demo gateways and the same 1,000 conversations.

    .venv/bin/python benchmarks/chat_streaming.py [--samples 1000] [--concurrency 2] [--token-delay-ms 1]

The bare loop is what a person would write: for each conversation, stream the legacy answer (SSE, read with
httpx-sse) and the candidate's (NDJSON, `aiter_lines`) at the same time, note when the first content token
arrives, join the pieces and compare the texts; 4 x --concurrency conversations in flight, as the farm's lanes
allow. The farm (`farm sweep chat`, a process timed from start to exit, imports included) also asks the first
conversation of every batch without streaming (the stream-vs-plain check, about 3% more requests), stores every
sample, decides the verdict and infers the drift catalog. No A/A noise batches (--noise-sample 0) on either.
Prints both wall times, their ratio, and both TTFT distributions (p50 / p95 / mean) per gateway. The default
concurrency is low (8 conversations in flight) so that server-side queueing, which differs between a loop that
keeps every lane full and the farm's batch-synchronous lanes, does not swamp the measurement being compared. The
farm counts a stream's time from when its request headers went out (httpx trace), the loop from its call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx
import numpy as np
import orjson
from httpx_sse import aconnect_sse

from farm.gateway.process import spawn
from farm.probes.chat.prompts import synthetic_conversation

PER_BATCH = 4  # the farm's requests in flight per batch (farm.gateway.client.PER_BATCH_REQUESTS)


async def bare_loop(legacy_url: str, candidate_url: str, samples: int, lanes: int) -> dict[str, list[float]]:
    ttft: dict[str, list[float]] = {"legacy": [], "candidate": [], "equal": [], "legacy_sent": [],
                                    "candidate_sent": []}
    todo = iter(range(samples))
    limits = httpx.Limits(max_connections=lanes * 2, max_keepalive_connections=lanes * 2)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        def tracer(sent: list[float]) -> Any:
            async def trace(event: str, info: dict[str, Any]) -> None:
                if event == "http11.send_request_headers.started":
                    sent.append(time.perf_counter())
            return trace

        def first(side: str, start: float, sent: list[float]) -> None:
            now = time.perf_counter()
            ttft[side].append((now - start) * 1000.0)
            ttft[f"{side}_sent"].append((now - sent[0]) * 1000.0)

        async def legacy(messages: list[dict[str, str]]) -> str:
            start, parts, sent = time.perf_counter(), list[str](), list[float]()
            body = {"messages": messages, "temperature": 0.0, "max_tokens": 64, "stream": True}
            async with aconnect_sse(client, "POST", legacy_url + "/ai/chat", json=body,
                                    extensions={"trace": tracer(sent)}) as source:
                async for event in source.aiter_sse():
                    if event.data == "[DONE]":
                        break
                    piece = orjson.loads(event.data)["choices"][0].get("delta", {}).get("content")
                    if piece:
                        if not parts:
                            first("legacy", start, sent)
                        parts.append(piece)
            return "".join(parts)

        async def candidate(messages: list[dict[str, str]]) -> str:
            start, parts, sent = time.perf_counter(), list[str](), list[float]()
            body = {"messages": messages, "model": "trigram-demo", "stream": True,
                    "options": {"temperature": 0.0, "num_predict": 64}}
            async with client.stream("POST", candidate_url + "/v1/chat", json=body,
                                     extensions={"trace": tracer(sent)}) as resp:
                async for line in resp.aiter_lines():
                    if not line:
                        continue
                    doc = orjson.loads(line)
                    piece = doc.get("message", {}).get("content")
                    if piece:
                        if not parts:
                            first("candidate", start, sent)
                        parts.append(piece)
                    if doc.get("done"):
                        break
            return "".join(parts)

        async def lane() -> None:
            for idx in todo:  # a shared iterator: each lane takes the next conversation
                messages = synthetic_conversation(0, idx)["messages"]
                a, b = await asyncio.gather(legacy(messages), candidate(messages))
                ttft["equal"].append(float(" ".join(a.split()) == " ".join(b.split())))

        await asyncio.gather(*(lane() for _ in range(lanes)))
    return ttft


def _stats(values: list[float] | np.ndarray) -> str:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return f"n={v.size:5d}  p50 {np.median(v):7.2f} ms  p95 {np.quantile(v, 0.95):7.2f} ms  mean {v.mean():7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--token-delay-ms", type=float, default=1.0)
    args = parser.parse_args()
    knobs = ["--token-delay-ms", str(args.token_delay_ms)]
    with spawn("lakehouse-legacy", *knobs, probe="chat") as legacy, \
            spawn("lakehouse-candidate", *knobs, probe="chat") as candidate, tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        loop = asyncio.run(bare_loop(legacy.url, candidate.url, args.samples, args.concurrency * PER_BATCH))
        bare_s = time.perf_counter() - start
        env = {**os.environ, "FARM_DATABASE_URL": f"sqlite:///{tmp}/farm.db", "FARM_CONFIG": ""}
        subprocess.run([sys.executable, "-m", "farm", "db", "upgrade"], env=env, check=True, capture_output=True)
        cmd = [sys.executable, "-m", "farm", "sweep", "chat", "--legacy", legacy.url, "--candidate", candidate.url,
               "--samples", str(args.samples), "--concurrency", str(args.concurrency), "--noise-sample", "0",
               "--json", "--quiet", "--no-report"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        farm_s = time.perf_counter() - start
        if proc.returncode not in (0, 1, 3):
            sys.exit(f"farm sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
        out = json.loads(proc.stdout)
        from farm.probes import get_probe
        from farm.store.sweeps import load_sample_arrays

        arrays, _texts, _noise = load_sample_arrays(env["FARM_DATABASE_URL"], out["sweep_id"], get_probe("chat"))
    print(f"chat streaming, {args.samples:,} conversations, SSE legacy vs NDJSON candidate, "
          f"token delay {args.token_delay_ms} ms, {args.concurrency * PER_BATCH} conversations in flight")
    print(f"bare httpx loop : {bare_s:7.2f} s  ({args.samples / bare_s:6.1f} conversations/s), "
          f"equal texts {int(sum(loop['equal']))}/{len(loop['equal'])}")
    print(f"farm sweep chat : {farm_s:7.2f} s  ({args.samples / farm_s:6.1f} conversations/s), "
          f"verdict {out['verdict']}  ratio farm/bare {farm_s / bare_s:.2f}")
    for side in ("legacy", "candidate"):
        farm_ttft = arrays[f"ttft_{side}_ms"]
        print(f"TTFT {side:9s} bare: {_stats(loop[side])}  (from the call)")
        print(f"TTFT {side:9s} bare: {_stats(loop[side + '_sent'])}  (from the request headers sent)")
        print(f"TTFT {side:9s} farm: {_stats(farm_ttft)}  (p50 farm/bare "
              f"{np.nanmedian(farm_ttft) / np.median(loop[side + '_sent']):.2f} against the loop from headers sent)")
    tps = out["statistics"]["timing"]["tokens_per_s"]
    print(f"farm tokens/s mean: legacy {tps['legacy'].get('mean', float('nan')):.1f}, "
          f"candidate {tps['candidate'].get('mean', float('nan')):.1f}")


if __name__ == "__main__":
    main()

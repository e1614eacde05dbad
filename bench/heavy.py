"""Worst-case requests against one worker: does the rest of the worker keep its timing?

Starts ``llm-simulator serve`` (granian, one worker) with a fixed 20 ms ITL profile, keeps
``--streams`` SSE streams running, probes ``GET /health`` every 10 ms, and sends one
worst-case request at a time:

- ``nospace``: a 7.5 MB prompt with no spaces (one 7.5 MB pre-token: tiktoken's slowest case)
  to a 128k-token chat model (it is refused as too long, but only once counted);
- ``nospace-small``: the same prompt to ``gpt-4`` (8k window: the byte-length pre-check);
- ``schema``: 128 tools whose distinct parameter schemas each need the full work budget;
- ``embeddings``: 2048 inputs of ~100 tokens each (210k tokens, under OpenAI's 300k cap).

For each it reports how long the request took, the slowest ``/health`` probe and the p99
|ITL − 20 ms| of the streams' chunks that arrived while it ran (client-side).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c  # type: ignore[import-not-found]
import httpx
import orjson

ITL_MS = 20.0
LOREM = "lorem ipsum dolor sit amet " * 20  # ~100 tokens
CONFIG = """\
latency:
  default_profile: steady
  profiles:
    steady:
      ttft: {type: fixed, value_ms: 20}
      itl: {type: fixed, value_ms: 20}
generation:
  output_tokens: {type: fixed, value_tokens: 100000}
models:
  add:
    - {id: stream-model, provider: openai, kind: chat, latency_profile: steady, max_output_tokens: 100000}
"""


def _combos(i: int) -> dict[str, Any]:
    """A schema that needs the generator's whole work budget (distinct per ``i``: no cache hit)."""
    return {"allOf": [{"anyOf": [{"type": "integer"}, {"minimum": i}]}] * 20, "not": {"type": "integer"}}


def _cases() -> dict[str, tuple[str, bytes]]:
    nospace = "a" * 7_500_000
    chat = "/v1/chat/completions"
    tools = [
        {
            "type": "function",
            "function": {"name": f"f{i}", "parameters": {"type": "object", "properties": {"x": _combos(i)}}},
        }
        for i in range(128)
    ]
    return {
        "nospace": (chat, orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": nospace}]})),
        "nospace-small": (chat, orjson.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": nospace}]})),
        "schema": (
            chat,
            orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "tools": tools}),
        ),
        "embeddings": (
            "/v1/embeddings",
            orjson.dumps({"model": "text-embedding-3-small", "input": [f"w{i} " + LOREM for i in range(2048)]}),
        ),
    }


async def _stream(client: httpx.AsyncClient, arrivals: list[float], stop: asyncio.Event) -> None:
    body = {
        "model": "stream-model",
        "messages": [{"role": "user", "content": "go"}],
        "stream": True,
        "max_tokens": 100000,
    }
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        async for _ in response.aiter_raw():
            arrivals.append(time.perf_counter())
            if stop.is_set():
                return


async def _probe(client: httpx.AsyncClient, waits: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await client.get("/health")
        waits.append(time.perf_counter() - start)
        await asyncio.sleep(0.01)


async def measure(port: int, path: str, body: bytes, streams: int) -> dict[str, Any]:
    """One worst-case request with streams and probes running; the numbers of the window."""
    limits = httpx.Limits(max_connections=streams + 4)
    async with httpx.AsyncClient(base_url=f"http://{c.HOST}:{port}", timeout=120, limits=limits) as client:
        stop = asyncio.Event()
        arrivals: list[list[float]] = [[] for _ in range(streams)]
        tasks = [asyncio.create_task(_stream(client, a, stop)) for a in arrivals]
        await asyncio.sleep(1.0)  # streams settle
        waits: list[float] = []
        probe = asyncio.create_task(_probe(client, waits, stop))
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        response = await client.post(path, content=body, headers={"content-type": "application/json"})
        took = time.perf_counter() - start
        await asyncio.sleep(0.2)
        stop.set()
        await probe
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task
    window = (start, start + took)
    errors = [
        abs((b - a) * 1000 - ITL_MS)
        for seen in arrivals
        for a, b in itertools.pairwise(seen)
        if window[0] <= b <= window[1] + 0.05
    ]
    return {
        "status": response.status_code,
        "answer": response.text[:160],
        "request_s": round(took, 3),
        "probe_max_ms": round(max(waits) * 1000, 1),
        "probe_p50_ms": round(c.percentile(waits, 50) * 1000, 1),
        "itl_abs_error_p99_ms": round(c.percentile(errors, 99), 1) if errors else None,
        "chunks_in_window": len(errors),
    }


def main(argv: list[str] | None = None) -> int:
    """Run each case against a fresh server and print (and save) the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=20, help="SSE streams kept running (default 20)")
    parser.add_argument("--cases", default="nospace,nospace-small,schema,embeddings")
    parser.add_argument("--save", action="store_true", help="write bench/results/heavy.json")
    args = parser.parse_args(argv)
    cases = _cases()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG)
        for name in args.cases.split(","):
            port = c.free_port()
            server = c.start_process("simulator", c.simulator_argv(port, "--config", str(config)), port, Path(tmp))
            with c.running(server, "/health"):
                path, body = cases[name]
                results[name] = asyncio.run(measure(port, path, body, args.streams))
            print(name, results[name], flush=True)
    if args.save:
        c.write_results("heavy", {"machine": c.machine_info(), "streams": args.streams, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

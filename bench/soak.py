"""Soak benchmark: mixed traffic for minutes, then check nothing leaked and nothing 5xx'd.

One simulator (granian, 1 worker, short latencies) serves ``--workers`` concurrent client
loops for ``--duration`` seconds. Each loop picks, at random (seeded): a provider (OpenAI
chat, Anthropic messages, Gemini generateContent), streaming or not, and sometimes:

* a chaos error or stream fault forced with ``x-simulator-chaos`` (so it is expected);
* a client disconnect in the middle of a stream (the client closes after a few chunks).

An unexpected 5xx is one on a request that asked for no chaos; it must be 0. A broken
stream on such a request is counted too. At the start and the end the script records the
server's RSS (the process tree, from /proc), its open file descriptors, and its live
asyncio tasks (``/admin/stats``); after the traffic stops, tasks must be back to baseline
and RSS roughly flat. Results go to ``bench/results/soak.json``.

Usage::

    python bench/soak.py                      # 10 minutes, 64 client loops
    python bench/soak.py --duration 60        # a quick one
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    free_port,
    git_commit,
    http_json,
    machine_info,
    process_tree,
    running,
    simulator_argv,
    start_process,
    write_results,
)

MESSAGES = [{"role": "user", "content": "Tell me something."}]
CHAOS = [
    "error=rate_limit; retry_after=0.01",
    "error=server_error",
    "error=overloaded",
    "fault=disconnect; after=3",
    "fault=error_event; after=2",
    "fault=malformed; after=2",
    "fault=no_terminator; after=2",
    "fault=stall; after=1; duration_ms=200",
]


def _request(rng: random.Random, base: str, stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(url, json body, headers) of one request to a random provider."""
    provider = rng.choice(("openai", "anthropic", "gemini"))
    tokens = rng.randint(5, 60)
    if provider == "openai":
        body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "max_tokens": tokens, "stream": stream}
        return f"{base}/v1/chat/completions", body, {"authorization": "Bearer sk-soak"}
    if provider == "anthropic":
        body = {"model": "claude-sonnet-4-5", "max_tokens": tokens, "messages": MESSAGES, "stream": stream}
        return f"{base}/v1/messages", body, {"x-api-key": "sk-soak", "anthropic-version": "2023-06-01"}
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"parts": [{"text": "Tell me something."}]}], "generationConfig": {"maxOutputTokens": tokens}}
    return f"{base}/v1beta/models/gemini-2.5-flash:{action}", body, {"x-goog-api-key": "sk-soak"}


async def _loop(index: int, base: str, deadline: float, seed: int, counts: Counter[str]) -> None:
    rng = random.Random(seed * 1000 + index)
    async with httpx.AsyncClient(timeout=30.0) as client:
        while time.monotonic() < deadline:
            stream = rng.random() < 0.6
            url, body, headers = _request(rng, base, stream)
            chaos = rng.random() < 0.1
            if chaos:
                headers["x-simulator-chaos"] = rng.choice(CHAOS)
            abandon = stream and not chaos and rng.random() < 0.1
            counts["requests"] += 1
            try:
                if stream:
                    async with client.stream("POST", url, json=body, headers=headers) as response:
                        counts[f"status_{response.status_code}"] += 1
                        chunks = 0
                        async for _ in response.aiter_raw():
                            chunks += 1
                            if abandon and chunks >= 3:
                                counts["abandoned"] += 1
                                break
                        if response.status_code >= 500 and not chaos:
                            counts["unexpected_5xx"] += 1
                else:
                    response = await client.post(url, json=body, headers=headers)
                    counts[f"status_{response.status_code}"] += 1
                    if response.status_code >= 500 and not chaos:
                        counts["unexpected_5xx"] += 1
            except httpx.HTTPError as exc:
                counts["transport_errors_chaos" if chaos else "transport_errors_unexpected"] += 1
                if not chaos:
                    print(f"unexpected transport error: {type(exc).__name__}: {exc}", file=sys.stderr)


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _fds(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return total


def _probe(port: int, pid: int) -> dict[str, Any]:
    pids = process_tree(pid)
    stats = http_json(port, "/admin/stats")
    return {"rss_kib": _rss_kib(pids), "open_fds": _fds(pids), "asyncio_tasks": stats["asyncio_tasks"]}


def main() -> None:
    """Run the soak and write ``results/soak.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of traffic")
    parser.add_argument("--workers", type=int, default=64, help="concurrent client loops")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        argv = simulator_argv(port, "--latency-multiplier", "0.05", "--seed", str(args.seed))
        server = start_process("simulator", argv, port, Path(tmp))
        with running(server, "/health"):
            base = f"http://{HOST}:{port}"
            warm = Counter[str]()
            asyncio.run(_loop(0, base, time.monotonic() + 5, args.seed, warm))  # warm-up
            start = _probe(port, server.pid)
            counts: Counter[str] = Counter()
            began = time.monotonic()
            deadline = began + args.duration

            async def traffic() -> None:
                await asyncio.gather(*(_loop(i, base, deadline, args.seed, counts) for i in range(args.workers)))

            asyncio.run(traffic())
            elapsed = time.monotonic() - began
            time.sleep(2.0)  # let the server finish what the clients abandoned
            end = _probe(port, server.pid)
    summary = {
        "requests": counts["requests"],
        "requests_per_s": round(counts["requests"] / elapsed, 1),
        "unexpected_5xx": counts["unexpected_5xx"],
        "unexpected_transport_errors": counts["transport_errors_unexpected"],
        "abandoned_streams": counts["abandoned"],
        "statuses": {k[7:]: v for k, v in sorted(counts.items()) if k.startswith("status_")},
        "start": start,
        "end": end,
        "rss_growth_kib": end["rss_kib"] - start["rss_kib"],
        "tasks_back_to_baseline": end["asyncio_tasks"] <= start["asyncio_tasks"],
    }
    summary["targets_met"] = {
        "no unexpected 5xx": summary["unexpected_5xx"] == 0 and summary["unexpected_transport_errors"] == 0,
        "asyncio tasks back to baseline": summary["tasks_back_to_baseline"],
        "open fds back to baseline (±4)": end["open_fds"] <= start["open_fds"] + 4,
    }
    print(json.dumps(summary, indent=2))
    write_results(
        "soak",
        {
            "benchmark": "soak",
            "machine": machine_info(),
            "commit": git_commit(),
            "parameters": vars(args),
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()

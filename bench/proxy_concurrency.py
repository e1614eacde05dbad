"""Proxy throughput under concurrency: N concurrent streams direct to a simulator and through a proxy.

Run: ``python bench/proxy_concurrency.py [--concurrency 64] [--rounds 3] [--duration 8]``.
Two ``llm-simulator serve`` processes (granian, one worker, latency off, request log off):
the upstream, and a proxy forwarding every provider to it. A closed loop of N asyncio
clients (one httpx pool) sends streamed 100-token chat completions, alternating direct and
proxied phases per round so load drifts hit both alike. Per phase: requests/s, SSE chunks/s,
latency p50/p99 per request, and the CPU seconds of each server process per request. The
proxy's cost is what the proxied phase adds: wall time per request and per chunk at the
median, and the proxy process's CPU per request and per chunk. Results go to
``bench/results/proxy_concurrency.json``.

The client is Python in the same box: on 2 cores it competes with both servers, so req/s
is a floor, not the servers' limit; compare direct and proxied within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    HOST,
    candidate,
    cpu_seconds,
    free_port,
    machine_info,
    percentile,
    print_table,
    process_tree,
    running,
    shown,
    write_results,
)

BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 100,
    "stream": True,
    "stream_options": {"include_usage": True},
}


async def _phase(url: str, concurrency: int, duration: float) -> dict[str, Any]:
    """A closed loop of ``concurrency`` streams for ``duration`` seconds: latencies and chunk counts."""
    latencies: list[float] = []
    chunks = 0
    errors = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal chunks, errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with client.stream("POST", url, json=BODY) as response:
                        count = 0
                        async for data in response.aiter_raw():
                            count += data.count(b"data: ")
                        if response.status_code != 200:
                            errors += 1
                            continue
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                chunks += count

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return {"requests": len(latencies), "chunks": chunks, "errors": errors, "wall_s": wall, "latencies": latencies}


def _summary(phase: dict[str, Any], cpu: dict[str, float]) -> dict[str, Any]:
    n = max(phase["requests"], 1)
    lat = phase["latencies"]
    return {
        "requests": phase["requests"],
        "errors": phase["errors"],
        "req_per_s": round(phase["requests"] / phase["wall_s"], 1),
        "chunks_per_s": round(phase["chunks"] / phase["wall_s"], 1),
        "chunks_per_request": round(phase["chunks"] / n, 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 2),
        "p99_ms": round(percentile(lat, 99) * 1000, 2),
        "cpu_us_per_request": {name: round(seconds / n * 1e6, 1) for name, seconds in cpu.items()},
    }


def main() -> None:
    """Alternate direct and proxied phases; print and save the medians over rounds."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase")
    parser.add_argument("--output", default="proxy_concurrency")
    args = parser.parse_args()
    me = candidate()
    quiet = ("--no-latency", "--log-level", "warning")
    with tempfile.TemporaryDirectory() as logs:
        log_dir = Path(logs)
        config = log_dir / "quiet.yaml"
        config.write_text("telemetry:\n  request_log:\n    enabled: false\n")
        up_port, proxy_port = free_port(), free_port()
        upstream = me.start("upstream", up_port, log_dir, *quiet, "--config", str(config))
        with running(upstream, "/health"):
            proxy = me.start(
                "proxy", proxy_port, log_dir, *quiet, "--config", str(config), "--proxy", f"http://{HOST}:{up_port}"
            )
            with running(proxy, "/health"):
                targets = {
                    "direct": f"http://{HOST}:{up_port}/v1/chat/completions",
                    "proxied": f"http://{HOST}:{proxy_port}/v1/chat/completions",
                }
                rounds: dict[str, list[dict[str, Any]]] = {"direct": [], "proxied": []}
                asyncio.run(_phase(targets["proxied"], 8, 1.0))  # warm both pools
                for _ in range(args.rounds):
                    for name, url in targets.items():
                        trees = {"upstream": process_tree(upstream.pid), "proxy": process_tree(proxy.pid)}
                        before = {k: cpu_seconds(v) for k, v in trees.items()}
                        phase = asyncio.run(_phase(url, args.concurrency, args.duration))
                        used = {k: cpu_seconds(v) - before[k] for k, v in trees.items()}
                        rounds[name].append(_summary(phase, used))
    medians = {name: _median(results) for name, results in rounds.items()}
    direct, proxied = medians["direct"], medians["proxied"]
    added_ms = proxied["p50_ms"] - direct["p50_ms"]
    per_chunk = proxied["chunks_per_request"] or 1
    overhead = {
        "throughput_ratio": round(proxied["req_per_s"] / direct["req_per_s"], 3),
        "added_p50_ms_per_request": round(added_ms, 2),
        "added_p50_us_per_chunk": round(added_ms / per_chunk * 1000, 1),
        "proxy_cpu_us_per_request": proxied["cpu_us_per_request"]["proxy"],
        "proxy_cpu_us_per_chunk": round(proxied["cpu_us_per_request"]["proxy"] / per_chunk, 2),
    }
    rows = [
        [name, m["req_per_s"], m["chunks_per_s"], m["p50_ms"], m["p99_ms"], m["cpu_us_per_request"]["upstream"],
         m["cpu_us_per_request"]["proxy"], m["errors"]]
        for name, m in medians.items()
    ]  # fmt: skip
    print(f"{args.concurrency} concurrent streams, {args.rounds} rounds x {args.duration:g} s, medians:")
    print_table(
        ["target", "req/s", "chunks/s", "p50 ms", "p99 ms", "upstream CPU us/req", "proxy CPU us/req", "errors"], rows
    )
    print(overhead)
    payload = {
        "machine": machine_info(),
        "settings": {"concurrency": args.concurrency, "rounds": args.rounds, "duration_s": args.duration},
        "median": medians,
        "overhead": overhead,
        "rounds": rounds,
    }
    print(f"wrote {shown(write_results(args.output, payload))}")


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-key median over rounds (numbers and the CPU table)."""
    out: dict[str, Any] = {}
    for key, value in results[0].items():
        if isinstance(value, dict):
            out[key] = {k: round(statistics.median(r[key][k] for r in results), 1) for k in value}
        else:
            out[key] = round(statistics.median(r[key] for r in results), 2)
    return out


if __name__ == "__main__":
    main()

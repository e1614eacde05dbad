"""Benchmark: server CPU per stream when a stream's frames come without waiting (latency off).

A simulator with latency off (the usual set-up of a test suite or a load test of the client
side) produces a whole stream at once. The server's cost is then mostly per write: one
pass through granian for every frame, or one for every run of frames gathered together.
This bench serves ``--streams`` streamed chat completions of ``--tokens`` tokens each
(``ignore_eos``), ``--concurrency`` at a time over fresh connections, from this checkout
and every ``--baseline LABEL=DIR`` (granian, one worker, ``--no-latency``), interleaved for
``--rounds`` rounds, and reports server CPU µs per stream and per token (granian's master and
worker, all threads, from ``/proc``) and the HTTP chunks a stream arrived in.

Usage::

    python bench/stream_writes.py --baseline main=/work/wt-base
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


def request(port: int, tokens: int) -> bytes:
    """One raw HTTP/1.1 streamed chat completion (the connection closes after it)."""
    body = json.dumps(
        {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Stream."}], "max_tokens": tokens,
         "ignore_eos": True, "stream": True},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: {c.HOST}:{port}\r\nContent-Type: application/json\r\n"
    head += f"Authorization: Bearer sk-bench\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


async def one(port: int, raw: bytes) -> tuple[int, int]:
    """Run one stream to its end: (SSE frames, HTTP chunks) received."""
    reader, writer = await asyncio.open_connection(c.HOST, port)
    writer.write(raw)
    data = bytearray()
    while chunk := await asyncio.wait_for(reader.read(65536), 30):
        data += chunk
    writer.close()
    body = bytes(data).split(b"\r\n\r\n", 1)[1]
    chunks = 0
    while body:  # the chunked transfer coding: size line, data, CRLF
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks += 1
        body = rest[size + 2 :]
    return data.count(b"data: "), chunks


async def run(port: int, streams: int, concurrency: int, tokens: int) -> list[tuple[int, int]]:
    """``streams`` streams, ``concurrency`` at a time."""
    raw = request(port, tokens)
    gate = asyncio.Semaphore(concurrency)

    async def bounded() -> tuple[int, int]:
        async with gate:
            return await one(port, raw)

    return await asyncio.gather(*(bounded() for _ in range(streams)))


def measure(server: c.Server, args: argparse.Namespace) -> dict[str, float]:
    """Server CPU per stream and per token over one batch of streams."""
    asyncio.run(run(server.port, 20, 4, args.tokens))  # warm-up
    pids = c.process_tree(server.pid)
    before = c.cpu_seconds(pids)
    done = asyncio.run(run(server.port, args.streams, args.concurrency, args.tokens))
    cpu = c.cpu_seconds(pids) - before
    return {
        "cpu_us_per_stream": round(cpu / len(done) * 1e6, 1),
        "cpu_us_per_token": round(cpu / (len(done) * args.tokens) * 1e6, 2),
        "frames_per_stream": statistics.mean(frames for frames, _ in done),
        "chunks_per_stream": statistics.mean(chunks for _, chunks in done),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every checkout in interleaved rounds; print and write the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--streams", type=int, default=1000, help="streams per round (default 1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="streams at a time (default 32)")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per stream (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--output", default="stream_writes", help="results file under bench/results/")
    c.add_baseline_flags(parser)
    args = parser.parse_args(argv)
    c.raise_fd_limit()
    targets = [c.candidate(), *c.baselines(args)]
    runs: dict[str, list[dict[str, float]]] = {t.label: [] for t in targets}
    with tempfile.TemporaryDirectory(prefix="stream-writes-") as tmp:
        for k in range(args.rounds):
            for target in targets[k % len(targets) :] + targets[: k % len(targets)]:
                port = c.free_port()
                with c.running(target.start(target.label, port, Path(tmp), "--no-latency"), "/health") as server:
                    runs[target.label].append(measure(server, args))
                print(f"round {k + 1} {target.label}: {runs[target.label][-1]}", flush=True)
    keys = ("cpu_us_per_stream", "cpu_us_per_token", "chunks_per_stream")
    medians = {label: {key: statistics.median(r[key] for r in rows) for key in keys} for label, rows in runs.items()}
    c.print_table(["target", *keys], [[label, *m.values()] for label, m in medians.items()])
    result: dict[str, Any] = {
        "machine": c.machine_info(),
        "args": {k: v for k, v in vars(args).items() if k != "baseline_specs"},
        "targets": [t.describe() for t in targets],
        "runs": runs,
        "medians": medians,
    }
    for target in targets[1:]:
        base = medians[target.label]["cpu_us_per_stream"]
        result.setdefault("ratios", {})[target.label] = round(medians["simulator"]["cpu_us_per_stream"] / base, 3)
    print("candidate ÷ baseline, CPU per stream:", result.get("ratios"))
    print("results:", c.shown(c.write_results(args.output, result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

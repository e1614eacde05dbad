"""The first request's latency per provider and per lazily built part, A/B against other checkouts.

A server that imports a module on first use moves that import's time from its start-up to
the first request that needs it. For each target (this checkout and every ``--baseline``),
in interleaved rounds: start ``serve`` (one granian worker, latency off), wait for ``GET
/health``, then time each probe twice on a fresh connection — the first use and the second
— for one non-streamed request of every provider, the first ``GET /metrics`` scrape (its
registry and ``prometheus_client``), ``GET /openapi.json`` and a Realtime WebSocket session up
to its ``session.created``. Medians over the rounds; results ``bench/results/first_use.json``::

    python bench/first_use.py --rounds 5 --baseline base=/work/wt-base
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import websockets
from _common import HOST, Checkout, add_baseline_flags, compiled_checkouts, free_port, machine_info, shown
from _common import write_results as write_json
from startup import _health_ok

MESSAGES = [{"role": "user", "content": "Hello there"}]
# (label, method, path, body): one request per provider, then the lazily built admin parts.
PROBES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("openai chat", "POST", "/v1/chat/completions", {"model": "gpt-4o-mini", "max_tokens": 8, "messages": MESSAGES}),
    (
        "anthropic messages",
        "POST",
        "/v1/messages",
        {"model": "claude-3-5-haiku-latest", "max_tokens": 8, "messages": MESSAGES},
    ),
    (
        "gemini generateContent",
        "POST",
        "/v1beta/models/gemini-2.0-flash:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}], "generationConfig": {"maxOutputTokens": 8}},
    ),
    (
        "ollama chat",
        "POST",
        "/api/chat",
        {"model": "llama3.2", "stream": False, "messages": MESSAGES, "options": {"num_predict": 8}},
    ),
    (
        "bedrock converse",
        "POST",
        "/model/anthropic.claude-3-haiku-20240307-v1:0/converse",
        {"messages": [{"role": "user", "content": [{"text": "Hello"}]}], "inferenceConfig": {"maxTokens": 8}},
    ),
    ("GET /metrics", "GET", "/metrics", None),
    ("GET /openapi.json", "GET", "/openapi.json", None),
]
REALTIME = "realtime WebSocket to session.created"


def _request(port: int, method: str, path: str, body: dict[str, Any] | None) -> tuple[float, int]:
    """Seconds from sending one request (fresh connection) to the end of its answer, and its status."""
    data = b"" if body is None else orjson.dumps(body)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nAuthorization: Bearer sk-bench\r\n"
        f"x-api-key: sk-bench\r\nanthropic-version: 2023-06-01\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(head + data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return time.perf_counter() - started, int(answer[9:12] or 0)


async def _realtime(port: int) -> float:
    """Seconds from opening a Realtime WebSocket to its first event (``session.created``)."""
    started = time.perf_counter()
    url = f"ws://{HOST}:{port}/v1/realtime?model=gpt-4o-realtime-preview"
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer sk-bench"}) as ws:
        await ws.recv()
    return time.perf_counter() - started


def _one(checkout: Checkout, log_dir: Path) -> dict[str, dict[str, float]]:
    """Start one server, time every probe's first and second use, stop it."""
    port = free_port()
    server = checkout.start(checkout.label, port, log_dir, "--no-latency")
    try:
        started = time.perf_counter()
        while not _health_ok(port):
            if server.proc.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError(f"{checkout.label} did not come up")
            time.sleep(0.005)
        out: dict[str, dict[str, float]] = {}
        for label, method, path, body in PROBES:
            first, status = _request(port, method, path, body)
            second, _ = _request(port, method, path, body)
            if status != 200:
                raise RuntimeError(f"{checkout.label}: {label} answered {status}")
            out[label] = {"first_ms": first * 1000, "second_ms": second * 1000}
        first_ws, second_ws = asyncio.run(_realtime(port)), asyncio.run(_realtime(port))
        out[REALTIME] = {"first_ms": first_ws * 1000, "second_ms": second_ws * 1000}
        return out
    finally:
        server.stop()


def main() -> None:
    """Alternate the candidate and the baselines; print and write ``results/first_use.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="servers started per target (interleaved)")
    add_baseline_flags(parser)
    parser.add_argument("--output", default="first_use", help="results file name under bench/results")
    args = parser.parse_args()
    checkouts = compiled_checkouts(args)
    samples: dict[str, list[dict[str, dict[str, float]]]] = {c.label: [] for c in checkouts}
    with tempfile.TemporaryDirectory(prefix="bench-first-use-") as tmp:
        for round_no in range(args.rounds):
            shift = round_no % len(checkouts)
            for checkout in checkouts[shift:] + checkouts[:shift]:
                samples[checkout.label].append(_one(checkout, Path(tmp)))
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    summary: dict[str, Any] = {}
    for checkout in checkouts:
        runs = samples[checkout.label]
        medians = {
            label: {key: statistics.median(run[label][key] for run in runs) for key in ("first_ms", "second_ms")}
            for label in runs[0]
        }
        summary[checkout.label] = {**checkout.describe(), "medians": medians, "runs": runs}
    for label in summary[checkouts[0].label]["medians"]:
        cells = [
            f"{c.label}: {summary[c.label]['medians'][label]['first_ms']:6.1f} / "
            f"{summary[c.label]['medians'][label]['second_ms']:5.1f} ms"
            for c in checkouts
        ]
        print(f"{label:40s} " + "   ".join(cells) + "   (first / second use)")
    params = {"rounds": args.rounds, "serve_args": ["--no-latency"]}
    path = write_json(args.output, {"machine": machine_info(), "parameters": params, "targets": summary})
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()

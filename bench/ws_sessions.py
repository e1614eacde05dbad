"""Benchmark: timing accuracy of N concurrent OpenAI Realtime sessions streaming text at a fixed pace.

The WebSocket counterpart of ``streams.py`` (same config: model ``bench-model`` with a fixed
TTFT and ITL, output far longer than asked, so every response is exactly ``--tokens``
long). The simulator is started (granian, 1 worker); for each N, N sessions connect to
``/v1/realtime?model=bench-model`` (one WebSocket each, starts staggered evenly over
``--stagger`` seconds), switch to text output, add one user message and send
``response.create`` with ``max_output_tokens``. The client stamps when ``response.create``
was sent and the arrival of every ``response.output_text.delta`` (recognised by its type
string, without parsing the JSON), and reports what ``streams.py`` reports for SSE: mean
ITL, p99 |ITL - target|, TTFT p50/p99, end lateness, server and client CPU, and the
simulator's own ``emit_error`` (how late it released each token against its schedule).

Usage::

    python bench/ws_sessions.py                 # N = 100, 500; 1 run each
    python bench/ws_sessions.py --streams 200   # a smaller N on a loaded machine
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import streams as s
from websockets.asyncio.client import connect

DELTA = '"type":"response.output_text.delta"'
DONE = '"type":"response.done"'


async def one_session(port: int, tokens: int, record: s.StreamRecord, deadline_s: float) -> None:
    """One Realtime session: one text response of ``tokens`` tokens, each delta time-stamped."""
    url = f"ws://{c.HOST}:{port}/v1/realtime?model={s.MODEL}"
    try:
        async with asyncio.timeout(deadline_s), connect(url, max_size=None, compression=None) as ws:
            await ws.recv()  # session.created
            await ws.send(
                json.dumps({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
            )
            await ws.recv()  # session.updated
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": s.PROMPT}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.recv()
            await ws.recv()  # conversation.item.added / done
            record.sent = time.monotonic()
            await ws.send(json.dumps({"type": "response.create", "response": {"max_output_tokens": tokens}}))
            record.status_ok = True
            while True:
                message = await ws.recv()
                assert isinstance(message, str)
                if DELTA in message:
                    record.arrivals.append(time.monotonic())
                elif DONE in message:
                    record.done = True
                    return
    except Exception as exc:
        record.error = type(exc).__name__


async def run_sessions(port: int, n: int, tokens: int, stagger_s: float, ideal_s: float) -> list[s.StreamRecord]:
    """``n`` sessions with starts spread evenly over ``stagger_s``."""
    records = [s.StreamRecord() for _ in range(n)]
    start = time.monotonic()

    async def later(i: int) -> None:
        records[i].scheduled = start + stagger_s * i / n
        await asyncio.sleep(max(0.0, records[i].scheduled - time.monotonic()))
        await one_session(port, tokens, records[i], ideal_s + s.STREAM_SLACK_S)

    await asyncio.gather(*(later(i) for i in range(n)))
    return records


def measure(server: c.Server, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of ``n`` sessions, with CPU accounting and the server's own emit error."""
    c.http_json(server.port, "/admin/stats/reset", method="POST")
    tree = c.process_tree(server.pid)
    ideal_s = (args.ttft_ms + args.itl_ms * (args.tokens - 1)) / 1000
    server_cpu0, client_cpu0, wall0 = c.cpu_seconds(tree), c.self_cpu_seconds(), time.monotonic()
    records = asyncio.run(run_sessions(server.port, n, args.tokens, args.stagger, ideal_s))
    wall = time.monotonic() - wall0
    server_cpu = c.cpu_seconds(tree) - server_cpu0
    client_cpu = c.self_cpu_seconds() - client_cpu0
    stats = c.http_json(server.port, "/admin/stats")
    tokens = sum(len(r.arrivals) for r in records)
    return {
        "n": n,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / s.wall_span(records), 1),
        "server_cpu_pct": round(server_cpu / wall * 100, 1),
        "client_cpu_pct": round(client_cpu / wall * 100, 1),
        "server_cpu_us_per_token": round(server_cpu / tokens * 1e6, 1) if tokens else None,
        "emit_error": stats["emit_error"],
        **s.analyze(records, args.tokens, args.ttft_ms, args.itl_ms),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, nargs="+", default=[100, 500], help="values of N (sessions)")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per response (default 100)")
    parser.add_argument("--itl-ms", type=float, default=20.0, help="fixed inter-token latency (default 20)")
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="fixed time to first token (default 20)")
    parser.add_argument("--stagger", type=float, default=1.0, help="spread session starts over this many s")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--output", default="ws_sessions", help="results file under bench/results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON results."""
    args = parse_args(argv)
    if c.raise_fd_limit() < 2 * max(args.streams) + 64:
        sys.exit("the open-files limit is too low; raise `ulimit -n`")
    results = []
    text = s.CONFIG_TEMPLATE.format(profile=s.PROFILE, ttft=args.ttft_ms, itl=args.itl_ms, model=s.MODEL)
    with tempfile.TemporaryDirectory(prefix="llmsim-ws-") as tmp, contextlib.ExitStack() as stack:
        config = Path(tmp) / "bench.yaml"
        config.write_text(text)
        port = c.free_port()
        started = c.candidate().start("simulator", port, Path(tmp), "--config", str(config), server=args.server)
        server = stack.enter_context(c.running(started, "/health"))
        asyncio.run(run_sessions(port, 10, 10, 0.1, 1.0))  # warm-up
        for n in args.streams:
            results.append(measure(server, n, args))
    payload = {
        "benchmark": "ws_sessions",
        "machine": c.machine_info(),
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "results": results,
    }
    path = c.write_results(args.output, payload)
    c.print_table(
        ["N", "complete", "tok/s", "ITL mean", "p99 |ITL err|", "TTFT p99", "emit late p99", "srv CPU %"],
        [
            [
                r["n"],
                r["complete_streams"],
                r["tokens_per_s"],
                r["itl_mean_ms"],
                r["itl_abs_error_p99_ms"],
                r["ttft_p99_ms"],
                r["emit_error"]["late"]["p99"],
                r["server_cpu_pct"],
            ]
            for r in results
        ],
    )
    print(f"\nresults written to {c.shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

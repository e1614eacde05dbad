"""Benchmark: the server's transport cost of one streamed message, WebSocket against HTTP chunk.

No simulator: a bare ASGI app (this module's ``app``) under granian (1 worker), so the
numbers are the server's floor for one token on each transport. N connections each receive
``--messages`` messages of a Realtime text delta's size at a fixed ``--itl-ms`` pace, as
``ws_sessions.py`` and ``streams.py`` stream them:

* ``http``: one chunked SSE body, each message an ``http.response.body`` (granian queues it
  and returns an already-finished awaitable);
* ``ws-await``: each message a ``websocket.send`` awaited at once (granian completes the
  awaitable from its own thread: a cross-thread wake-up of the event loop per message);
* ``ws-deferred``: each ``websocket.send`` awaited when the next one is sent (one write in
  flight, nothing wakes the loop when it has finished by then; tried in
  ``server/websocket/socket.py`` in s28 and taken out again: worse p99 at 500 sessions).
  Not awaiting at all is no option: granian then writes messages out of order (s29).

Reported per mode: server CPU µs per message (process and its children, from ``/proc``).
Modes run interleaved, ``--rounds`` times.

Usage::

    python bench/ws_transport.py                       # N = 200, 500; 3 rounds
    python bench/ws_transport.py --streams 100 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from websockets.asyncio.client import connect

# A Realtime text delta's size (what ws_sessions.py streams).
MESSAGE = (
    '{"event_id":"event_0123456789abcdef01234567","type":"response.output_text.delta",'
    '"response_id":"resp_0123456789abcdef0123","item_id":"msg_0123456789abcdef0123",'
    '"output_index":0,"content_index":0,"delta":" token"}'
)
MODES = ("http", "ws-await", "ws-deferred")


async def _paced(count: int, itl_s: float) -> Any:
    """Yield ``count`` times on a fixed schedule ``itl_s`` apart."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(count):
        await asyncio.sleep(max(0.0, start + itl_s * i - loop.time()))
        yield i


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare ASGI app: ``/<mode>?<count>&<itl_ms>`` streams ``count`` messages."""
    if scope["type"] == "lifespan":
        await c.serve_lifespan(receive, send)
        return
    count_text, _, itl_text = scope["query_string"].decode().partition("&")
    count, itl_s = int(count_text or 0), float(itl_text or 0) / 1000
    if scope["type"] == "http":
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        body = b"data: " + MESSAGE.encode() + b"\n\n"
        async for _ in _paced(count, itl_s):
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()
    await send({"type": "websocket.accept"})
    pending = None
    async for _ in _paced(count, itl_s):
        message = {"type": "websocket.send", "text": MESSAGE}
        if scope["path"] == "/ws-await":
            await send(message)
            continue
        if pending is not None:
            await pending
        pending = send(message)
    if pending is not None:
        await pending
    await send({"type": "websocket.close", "code": 1000})


async def _one(port: int, mode: str, count: int, itl_ms: float, delay_s: float) -> int:
    """One connection of ``mode``: the number of messages it received."""
    await asyncio.sleep(delay_s)
    query = f"{count}&{itl_ms}"
    if mode != "http":
        received = 0
        async with connect(f"ws://{c.HOST}:{port}/{mode}?{query}", max_size=None, compression=None) as ws:
            async for _ in ws:
                received += 1
        return received
    reader, writer = await asyncio.open_connection(c.HOST, port)
    writer.write(f"GET /http?{query} HTTP/1.1\r\nhost: bench\r\n\r\n".encode())
    received = 0
    while data := await reader.read(65536):
        received += data.count(b"\n\n")
        if data.endswith(b"0\r\n\r\n"):
            break
    writer.close()
    return received


def measure(server: c.Server, mode: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of ``n`` connections of ``mode``: server CPU per message."""
    tree = c.process_tree(server.pid)
    cpu0, wall0 = c.cpu_seconds(tree), time.monotonic()

    async def run() -> list[int]:
        return await asyncio.gather(
            *(_one(server.port, mode, args.messages, args.itl_ms, args.stagger * i / n) for i in range(n))
        )

    received = sum(asyncio.run(run()))
    cpu = c.cpu_seconds(tree) - cpu0
    return {
        "mode": mode,
        "n": n,
        "messages": received,
        "wall_s": round(time.monotonic() - wall0, 3),
        "server_cpu_us_per_message": round(cpu / received * 1e6, 2) if received else None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, nargs="+", default=[200, 500], help="values of N (connections)")
    parser.add_argument("--messages", type=int, default=200, help="messages per connection (default 200)")
    parser.add_argument("--itl-ms", type=float, default=20.0, help="pace between messages (default 20)")
    parser.add_argument("--stagger", type=float, default=1.0, help="spread connection starts over this many s")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every mode (default 3)")
    parser.add_argument("--output", default="ws_transport", help="results file under bench/results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the medians and write the JSON results."""
    args = parse_args(argv)
    if c.raise_fd_limit() < 2 * max(args.streams) + 64:
        sys.exit("the open-files limit is too low; raise `ulimit -n`")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="llmsim-wst-") as tmp, contextlib.ExitStack() as stack:
        port = c.free_port()
        argv_ = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", c.HOST, "--port", str(port)]
        argv_ += ["--workers", "1", "--working-dir", str(c.BENCH_DIR), "ws_transport:app"]
        server = stack.enter_context(c.running(c.start_process("granian", argv_, port, Path(tmp)), "/http?0&0"))
        for _ in range(args.rounds):
            for n in args.streams:
                runs.extend(measure(server, mode, n, args) for mode in MODES)
    medians = {
        f"{mode} N={n}": statistics.median(
            r["server_cpu_us_per_message"] for r in runs if r["mode"] == mode and r["n"] == n
        )
        for n in args.streams
        for mode in MODES
    }
    payload = {
        "benchmark": "ws_transport",
        "machine": c.machine_info(),
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "median_server_cpu_us_per_message": medians,
        "runs": runs,
    }
    path = c.write_results(args.output, payload)
    c.print_table(["mode, N", "server CPU µs/message (median)"], [[k, v] for k, v in medians.items()])
    print(f"\nresults written to {c.shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

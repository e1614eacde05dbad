"""Benchmark: granian's own cost per write and per request, ASGI against RSGI, on bare apps.

Issue 22 asks whether granian's RSGI interface would serve the simulator's streams and
answers more cheaply than ASGI. This bench answers it without the simulator: two bare apps
in this module (``asgi_app``, ``rsgi_app``) do the same thing through each interface, so
the difference is granian's transport and nothing else. Each is served the way
``server/run.py`` serves the simulator (granian, uvloop, one worker, the same backlog and
backpressure; ``--runtime-mode auto`` lets granian pick its runtime per interface as
``run.py`` does: ``mt`` for ASGI, ``st`` for RSGI).

* **streams**: ``--streams`` connections (starts spread over 1 s), each a ``text/event-stream``
  of ``--frames`` writes of one 100-byte SSE frame, paced on an absolute 20 ms schedule
  (``--burst`` frames written back to back per wake-up: with a burst the per-write cost
  dominates the per-wake-up cost). Server CPU (granian's master and worker, all threads)
  ÷ frames written = CPU µs per write.
* **requests** (``wrk`` on PATH): ``wrk -t1 -c64`` POSTs a small JSON body; the app reads
  it and answers the same 400 bytes of JSON. Server CPU ÷ requests = CPU µs per request.
* **probes** (behaviour the simulator relies on, asked of each interface):
  ``cut``: the app raises after its third frame — does the client see an incomplete body
  (the simulator's chaos ``disconnect`` mid-stream) or a clean end?
  ``backpressure``: the app writes 20 MB to a client that reads nothing — do the writes
  block (flat memory; the stalled-reader sweep of ``security.write_timeout_s`` needs them
  to) or are they all accepted?

Targets are interleaved for ``--rounds`` rounds (the order rotated each round); the summary
gives medians and the RSGI ÷ ASGI ratio. Results: ``bench/results/transport.json``.

Usage::

    python bench/transport.py                       # streams (burst 1 and 10), requests, probes
    python bench/transport.py --streams 1000 --rounds 5 --skip-requests
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

FRAME = b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" tok"}}]}\n\n'
ANSWER = b'{"id":"chatcmpl-bench","object":"chat.completion","choices":[' + b'{"index":0}' * 32 + b"]}"
ITL_S = 0.02
CUT_AFTER = 3
FLOOD_FRAMES = 200_000  # 20 MB of 100-byte frames for the backpressure probe
SSE = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
JSON = [("content-type", "application/json"), ("content-length", str(len(ANSWER)))]


class _Cut(Exception):
    """Raised by the apps mid-stream for the ``cut`` probe."""


def _settings() -> tuple[int, int]:
    """Frames per stream and frames per wake-up, from the environment the bench sets."""
    return int(os.environ.get("TRANSPORT_FRAMES", "100")), int(os.environ.get("TRANSPORT_BURST", "1"))


async def _pace(loop: asyncio.AbstractEventLoop, start: float, tick: int) -> None:
    """Sleep until ``start + tick × ITL`` (an absolute schedule, as the simulator's)."""
    await asyncio.sleep(max(0.0, start + tick * ITL_S - loop.time()))


async def _frames(path: str, write: Callable[[bytes], Awaitable[None]]) -> None:
    """The body of ``/stream``, ``/cut`` or ``/flood``, one ``write`` per frame (either interface)."""
    frames, burst = (FLOOD_FRAMES, 1) if path == "/flood" else _settings()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for tick in range(frames // burst):
        if path == "/stream":
            await _pace(loop, start, tick + 1)
        for _ in range(burst):
            await write(FRAME)
        if path == "/cut" and tick + 1 == CUT_AFTER:
            raise _Cut


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare ASGI app: ``/stream``, ``/cut``, ``/flood`` and ``POST /answer``."""
    if scope["type"] == "lifespan":
        await c.serve_lifespan(receive, send)
        return
    path = scope["path"]
    await receive()
    if path == "/answer":
        headers = [(k.encode(), v.encode()) for k, v in JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": ANSWER})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(k.encode(), v.encode()) for k, v in SSE]})
    # A plain function handing back the server's awaitable: no coroutine frame of its own.
    await _frames(path, lambda frame: send({"type": "http.response.body", "body": frame, "more_body": True}))
    await send({"type": "http.response.body", "body": b""})


class _RSGI:
    """The bare RSGI app: the same routes as ``asgi_app``."""

    def __rsgi__(self, scope: Any, protocol: Any) -> Any:
        return self._http(scope, protocol)

    async def _http(self, scope: Any, protocol: Any) -> None:
        await protocol()
        if scope.path == "/answer":
            protocol.response_bytes(200, JSON, ANSWER)
            return
        await _frames(scope.path, protocol.response_stream(200, SSE).send_bytes)


rsgi_app = _RSGI()


def start(interface: str, args: argparse.Namespace, log_dir: Path, burst: int) -> c.Server:
    """granian serving one of the bare apps, as ``server/run.py`` serves the simulator."""
    port = c.free_port()
    target = "transport:asgi_app" if interface == "asgi" else "transport:rsgi_app"
    argv = [sys.executable, "-m", "granian", "--interface", interface, "--host", c.HOST, "--port", str(port)]
    argv += ["--loop", "uvloop", "--workers", "1", "--backlog", "4096", "--backpressure", "20000"]
    argv += ["--runtime-mode", args.runtime_mode, "--no-ws", "--log-level", "warning", target]
    env = {**os.environ, "PYTHONPATH": str(c.BENCH_DIR), "TRANSPORT_FRAMES": str(args.frames)}
    env["TRANSPORT_BURST"] = str(burst)
    server = c.start_process(f"{interface}-{port}", argv, port, log_dir, env)
    c.wait_http(server, "/answer")
    return server


async def _one_stream(port: int, delay: float, counts: list[int]) -> None:
    await asyncio.sleep(delay)
    reader, writer = await asyncio.open_connection(c.HOST, port)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: bench\r\n\r\n")
    data = bytearray()
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = await asyncio.wait_for(reader.read(65536), 30)
        if not chunk:
            break
        data += chunk
    counts.append(data.count(b"data: "))
    writer.close()


async def _streams(port: int, n: int) -> int:
    counts: list[int] = []
    await asyncio.gather(*(_one_stream(port, i / n, counts) for i in range(n)))
    return sum(counts)


def measure_streams(server: c.Server, n: int) -> dict[str, float]:
    """CPU µs per write over ``n`` concurrent streams."""
    pids = c.process_tree(server.pid)
    before = c.cpu_seconds(pids)
    frames = asyncio.run(_streams(server.port, n))
    cpu = c.cpu_seconds(pids) - before
    return {"frames": frames, "server_cpu_s": round(cpu, 3), "cpu_us_per_write": round(cpu / max(frames, 1) * 1e6, 3)}


def measure_requests(server: c.Server, duration: float) -> dict[str, float]:
    """req/s and CPU µs per request under ``wrk -t1 -c64`` POSTs."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.body = \'{"model":"m","messages":[]}\'\n')
        script.write('wrk.headers["Content-Type"] = "application/json"\n')
    pids = c.process_tree(server.pid)
    before = c.cpu_seconds(pids)
    argv = ["wrk", "-t1", "-c64", f"-d{duration:g}s", "-s", script.name, f"http://{c.HOST}:{server.port}/answer"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    cpu = c.cpu_seconds(pids) - before
    Path(script.name).unlink()
    requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    return {
        "requests": requests,
        "req_per_s": round(requests / duration, 1),
        "cpu_us_per_request": round(cpu / requests * 1e6, 2),
    }


def probe_cut(port: int) -> str:
    """How a stream whose app raised after three frames ends, as the client sees it."""
    with socket.create_connection((c.HOST, port), timeout=10) as sock:
        sock.sendall(b"GET /cut HTTP/1.1\r\nHost: bench\r\n\r\n")
        data = bytearray()
        try:
            while not data.endswith(b"\r\n0\r\n\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    return "connection dropped mid-body (incomplete chunked body)"
                data += chunk
        except TimeoutError:
            return "body left open"
    return "clean end of body (terminating chunk)"


def probe_backpressure(server: c.Server) -> str:
    """Whether 20 MB of writes to a client that never reads are held back."""
    pids = c.process_tree(server.pid)
    before = c.cpu_seconds(pids)
    rss_before = sum(_rss_mib(pid) for pid in pids)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((c.HOST, server.port))
        sock.sendall(b"GET /flood HTTP/1.1\r\nHost: bench\r\n\r\n")
        time.sleep(3.0)
        grown = sum(_rss_mib(pid) for pid in pids) - rss_before
        spent = c.cpu_seconds(pids) - before
    # Writes that block stop after a few socket buffers; unbounded ones queue all 20 MB.
    held = "writes blocked (backpressure)" if grown < 10 else "writes accepted (no backpressure)"
    return f"{held}: server RSS +{grown:.0f} MiB, {spent:.2f} CPU s in 3 s"


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--streams", type=int, default=500, help="concurrent streams (default 500)")
    parser.add_argument("--frames", type=int, default=100, help="writes per stream (default 100)")
    parser.add_argument("--bursts", type=int, nargs="+", default=[1, 10], help="frames per wake-up to measure")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=float, default=5.0, help="wrk seconds per round (default 5)")
    parser.add_argument("--runtime-mode", choices=["auto", "mt", "st"], default="auto")
    parser.add_argument("--skip-requests", action="store_true", help="no wrk run")
    parser.add_argument("--skip-probes", action="store_true", help="no behaviour probes")
    parser.add_argument("--output", default="transport", help="results file under bench/results/")
    return parser.parse_args(argv)


def _median(rows: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(row[key] for row in rows), 3)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, print the summary and write the results file."""
    args = parse_args(argv)
    c.raise_fd_limit()
    interfaces = ["asgi", "rsgi"]
    results: dict[str, Any] = {"machine": c.machine_info(), "args": vars(args), "streams": {}, "requests": {}}
    with tempfile.TemporaryDirectory(prefix="transport-bench-") as tmp:
        log_dir = Path(tmp)
        plans = [(f"streams burst={b}", b) for b in args.bursts]
        if not args.skip_requests and shutil.which("wrk"):
            plans.append(("requests", 1))
        for label, burst in plans:
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in interfaces}
            for k in range(args.rounds):
                for name in interfaces[k % 2 :] + interfaces[: k % 2]:
                    server = start(name, args, log_dir, burst)
                    try:
                        run = measure_requests(server, args.duration) if label == "requests" else None
                        runs[name].append(run or measure_streams(server, args.streams))
                    finally:
                        server.stop()
                    print(f"{label} round {k + 1} {name}: {runs[name][-1]}", flush=True)
            key = "cpu_us_per_request" if label == "requests" else "cpu_us_per_write"
            medians = {name: _median(runs[name], key) for name in interfaces}
            summary: dict[str, Any] = {
                name: {"runs": runs[name], "median_" + key: medians[name]} for name in interfaces
            }
            summary["rsgi_over_asgi"] = round(medians["rsgi"] / medians["asgi"], 3)
            results["requests" if label == "requests" else "streams"][label] = summary
        if not args.skip_probes:
            probes: dict[str, dict[str, str]] = {}
            for name in interfaces:
                server = start(name, args, log_dir, 1)
                try:
                    probes[name] = {"cut": probe_cut(server.port), "backpressure": probe_backpressure(server)}
                finally:
                    server.stop()
            results["probes"] = probes
    rows = []
    for group in ("streams", "requests"):
        for label, summary in results[group].items():
            key = next(k for k in summary["asgi"] if k.startswith("median_"))
            rows.append([label, key[7:], summary["asgi"][key], summary["rsgi"][key], summary["rsgi_over_asgi"]])
    c.print_table(["measurement", "unit", "asgi", "rsgi", "rsgi/asgi"], rows)
    for name, found in results.get("probes", {}).items():
        print(f"{name}: cut → {found['cut']}; flood → {found['backpressure']}")
    print("results:", c.shown(c.write_results(args.output, results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Memory of ``llm-simulator serve`` idle, after its first request, and per idle open stream.

For each target (this checkout's ``src`` and every ``--baseline``), in interleaved rounds
with the order rotated each round: start ``serve`` (one granian worker) with a bench model
whose time to first token is 10 minutes, so a stream once opened stays open and idle (no
token is sent). The proportional set size (PSS, ``/proc/PID/smaps_rollup``) of the server's
process tree (master + worker) is read three times, each after ``--settle`` seconds of quiet:

1. ``idle``: after the first ``/health`` 200, before any model request;
2. ``warm``: with one stream open (the first model request has loaded whatever loads on
   first use: the tokenizer, the text pools);
3. ``open``: with ``--streams`` more streams open, counted by the server itself
   (``llm_simulator_active_streams`` on ``/metrics``).

The memory per idle open stream is ``(open − warm) / streams``. Medians over the rounds,
with candidate ÷ baseline ratios. ``--transport-floor`` adds granian's own share: a bare ASGI
app (``idle_app`` below: it holds every request until its client leaves) served by granian
as ``server/run.py`` serves the simulator, with HTTP/1.1 only and with granian's default
``auto`` (either protocol on each connection). Results: ``bench/results/<--output>.json``::

    python bench/memory.py --baseline base=/work/wt-base --rounds 3 --streams 1000 --transport-floor
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    HOST,
    Server,
    add_baseline_flags,
    compiled_checkouts,
    free_port,
    machine_info,
    print_table,
    process_tree,
    raise_fd_limit,
    serve_lifespan,
    shown,
    start_bare_app,
    write_results,
)
from startup import pss_kib

MODEL = "bench-idle-model"
FIXED_ITL = "{type: fixed, value_ms: 20}"
# ``--sampled-itl``: inter-token latencies drawn from a distribution, as the built-in profiles
# draw them, so each open stream's timeline holds the generator it draws from.
SAMPLED_ITL = "{type: normal, mean_ms: 20, std_dev_ms: 2}"


def server_config(itl: str) -> str:
    """The servers' configuration: the bench model's first token after 10 minutes, ``itl`` between tokens."""
    return f"""\
latency:
  default_profile: bench_idle
  profiles:
    bench_idle:
      ttft: {{type: fixed, value_ms: 600000}}
      itl: {itl}
security:
  max_concurrent_requests: null
models:
  add:
    - {{id: {MODEL}, provider: openai, kind: chat, latency_profile: bench_idle, max_output_tokens: 4096}}
"""


BODY = json.dumps(
    {"model": MODEL, "stream": True, "max_tokens": 100, "messages": [{"role": "user", "content": "Hold on."}]},
    separators=(",", ":"),
).encode()
ACTIVE_STREAMS = re.compile(rb"^llm_simulator_active_streams (\S+)$", re.M)


# Requests ``idle_app`` holds now (one counter in a list: the app updates it in place).
_HELD = [0]


async def idle_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The transport floor's app: ``/metrics`` reports the requests held; any other request is held."""
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["path"] in ("/metrics", "/health"):
        body = f"llm_simulator_active_streams {_HELD[0]}\n".encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()
    _HELD[0] += 1
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    finally:
        _HELD[0] -= 1


def start_floor(http: str, port: int, log_dir: Path) -> Server:
    """granian serving ``idle_app`` with ``--http http`` (uvloop, one worker, as ``server/run.py``)."""
    return start_bare_app(f"floor-{http}-{port}", "memory:idle_app", port, log_dir, http=http)


def stream_request(port: int) -> bytes:
    """The raw HTTP/1.1 request of one streamed chat completion."""
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-bench\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


def active_streams(port: int) -> int:
    """The streams the server reports open (its ``/metrics`` gauge)."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as response:
        found = ACTIVE_STREAMS.search(response.read())
    return int(float(found.group(1))) if found else 0


def tree_pss_mib(pid: int) -> float:
    """PSS of ``pid`` and its descendants, in MiB."""
    return sum(pss_kib(p) for p in process_tree(pid)) / 1024


async def open_streams(port: int, count: int) -> list[asyncio.StreamWriter]:
    """Open ``count`` connections and send each a streamed request (nothing is read back)."""
    request = stream_request(port)
    writers = []
    for _ in range(count):
        _, writer = await asyncio.open_connection(HOST, port)
        writer.write(request)
        writers.append(writer)
    for writer in writers:
        await writer.drain()
    return writers


async def wait_streams(port: int, expected: int, timeout_s: float = 120.0) -> None:
    """Until the server reports ``expected`` open streams (or fail after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while (seen := await asyncio.to_thread(active_streams, port)) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {seen} of {expected} streams opened")
        await asyncio.sleep(0.2)


async def _measure(pid: int, port: int, streams: int, settle_s: float) -> dict[str, float]:
    await asyncio.sleep(settle_s)
    idle = tree_pss_mib(pid)
    first = await open_streams(port, 1)
    await wait_streams(port, 1)
    await asyncio.sleep(settle_s)
    warm = tree_pss_mib(pid)
    rest = await open_streams(port, streams)
    await wait_streams(port, streams + 1)
    await asyncio.sleep(settle_s)
    opened = tree_pss_mib(pid)
    for writer in first + rest:
        writer.close()
    return {
        "idle_pss_mib": idle,
        "warm_pss_mib": warm,
        "open_pss_mib": opened,
        "kib_per_stream": (opened - warm) * 1024 / streams,
    }


def _one(start: Callable[[int], Server], label: str, streams: int, settle_s: float) -> dict[str, float]:
    """Start one server, take its three readings, stop it."""
    port = free_port()
    server = start(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1).close()
                break
            except OSError:
                if server.proc.poll() is not None or time.monotonic() > deadline:
                    log = server.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{label} did not come up:\n{log}") from None
                time.sleep(0.02)
        return asyncio.run(_measure(server.pid, port, streams, settle_s))
    finally:
        server.stop()


def main() -> None:
    """Alternate the candidate and the baselines; print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="servers started per target (interleaved)")
    parser.add_argument("--streams", type=int, default=1000, help="idle streams held open")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of quiet before each reading")
    parser.add_argument(
        "--transport-floor", action="store_true", help="also granian on a bare ASGI app (HTTP/1.1 only and auto)"
    )
    add_baseline_flags(parser)
    parser.add_argument(
        "--sampled-itl", action="store_true", help="inter-token latencies drawn from a distribution (not fixed)"
    )
    parser.add_argument("--output", default="memory", help="results file name under bench/results")
    args = parser.parse_args()
    raise_fd_limit()

    checkouts = compiled_checkouts(args)
    floors = ["1", "auto"] if args.transport_floor else []
    labels = [c.label for c in checkouts] + [f"granian-http-{http}" for http in floors]
    samples: dict[str, list[dict[str, float]]] = {label: [] for label in labels}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        log_dir = Path(tmp)
        config = log_dir / "memory.yaml"
        config_text = server_config(SAMPLED_ITL if args.sampled_itl else FIXED_ITL)
        config.write_text(config_text)
        starters: dict[str, Callable[[int], Server]] = {
            c.label: lambda port, c=c: c.start(c.label, port, log_dir, "--config", str(config)) for c in checkouts
        }
        for http in floors:
            starters[f"granian-http-{http}"] = lambda port, http=http: start_floor(http, port, log_dir)
        for round_no in range(args.rounds):
            shift = round_no % len(labels)
            for label in labels[shift:] + labels[:shift]:
                samples[label].append(_one(starters[label], label, args.streams, args.settle))
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)

    keys = ("idle_pss_mib", "warm_pss_mib", "open_pss_mib", "kib_per_stream")
    summary: dict[str, Any] = {}
    rows = []
    described = {c.label: c.describe() for c in checkouts}
    for label in labels:
        runs = samples[label]
        medians = {key: statistics.median(r[key] for r in runs) for key in keys}
        entry = {**described.get(label, {"label": label}), **{f"{k}_median": v for k, v in medians.items()}}
        summary[label] = {**entry, "runs": runs}
        rows.append([label, *(f"{medians[k]:.1f}" for k in keys)])
    first = checkouts[0].label
    for checkout in checkouts[1:]:
        mine, theirs = summary[first], summary[checkout.label]
        mine.setdefault("vs", {})[checkout.label] = {
            f"{k}_ratio": mine[f"{k}_median"] / theirs[f"{k}_median"] for k in keys if theirs[f"{k}_median"]
        }
    print_table(["target", "idle PSS MiB", "1 stream MiB", f"{args.streams + 1} streams MiB", "KiB/stream"], rows)
    params = {"rounds": args.rounds, "streams": args.streams, "settle_s": args.settle, "config": config_text}
    path = write_results(args.output, {"machine": machine_info(), "parameters": params, "targets": summary})
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()

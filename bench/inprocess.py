"""In-process A/B of the server's hot path: µs per request through the ASGI app, no sockets.

Drives ``SimulatorApp`` directly (latency off, one seeded request body; ``--unseeded``: without
its seed) with N sequential non-streamed chat completions and N streamed ones (``--provider anthropic|gemini``: the same
request as a Messages or generateContent call). Each measurement runs in a fresh
subprocess whose ``sys.path`` starts with one checkout's ``src``: this one (the candidate)
and every ``--baseline-src DIR`` / ``--baseline LABEL=DIR``. The targets alternate, in a rotating order, for
``--rounds`` rounds, so slow drift of a shared machine hits them alike. Inside a
subprocess, after a warm-up, the N requests are timed in ``--batches`` equal batches and the
best batch counts (the least disturbed by other processes), in CPU time of the process
(what the code costs; it hardly moves when other processes take the cores) and in wall
time (what a client sees; it does). Across rounds the table shows the best and the median
of those, and the spread (max − min over median) that says how far two numbers must
differ before the difference means anything. Results: ``bench/results/inprocess.json``::

    python bench/inprocess.py --baseline base=/work/wt-base --baseline pre15=/work/wt-pre15
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    add_baseline_flags,
    baselines,
    candidate,
    chat_scope,
    machine_info,
    print_table,
    shown,
    write_results,
)

BODY: dict[str, Any] = {
    "model": "gpt-4.1",
    "messages": [{"role": "user", "content": "Say something."}],
    "max_tokens": 40,
    "ignore_eos": True,
    "seed": 1,
}
# The same small request in each provider's wire format (``--provider``): the path and the body.
PROVIDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": ("/v1/chat/completions", BODY),
    "anthropic": (
        "/v1/messages",
        {"model": "claude-sonnet-4-5", "messages": BODY["messages"], "max_tokens": 40},
    ),
    "gemini": (
        "/v1beta/models/gemini-2.5-flash:generateContent",
        {
            "contents": [{"role": "user", "parts": [{"text": "Say something."}]}],
            "generationConfig": {"maxOutputTokens": 40},
        },
    ),
}
MODES = ("json", "stream")
# CPU time of the measuring process, and wall time.
CLOCKS = ("cpu", "wall")


async def _measure(
    mode: str, requests: int, batches: int, provider: str = "openai", unseeded: bool = False
) -> dict[str, float]:
    """The best batch's µs per request (CPU and wall) for ``requests`` sequential requests of ``mode``.

    CPU time (the process's own) is what the code costs and hardly moves when other
    processes take the cores; wall time is what a client would see, and does.
    """
    from llm_simulator.config import load_config
    from llm_simulator.server.app import SimulatorApp

    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    gc.collect()
    gc.freeze()  # as the server's app factory does: the long-lived heap leaves the collector's view
    path, base = _request(provider, unseeded)
    scope = chat_scope()
    if provider == "gemini":  # Gemini streams from another method, not with a body flag
        body = json.dumps(base).encode()
        scope["path"] = path.replace(":generateContent", ":streamGenerateContent") if mode == "stream" else path
        scope["query_string"] = b"alt=sse" if mode == "stream" else b""
    else:
        body = json.dumps({**base, "stream": mode == "stream"}).encode()
        scope["path"] = path
    message = {"type": "http.request", "body": body, "more_body": False}
    never = asyncio.Event()  # the client never disconnects (a stream's watcher waits on it)

    async def send(_: dict[str, Any]) -> None:
        return None

    async def one() -> None:
        """One exchange: the body once, then silence until the app stops listening."""
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return message
            await never.wait()
            return {"type": "http.disconnect"}

        await app(scope, receive, send)  # type: ignore[arg-type]

    for _ in range(max(requests // 10, 50)):  # warm-up: caches, the allocator, lazy imports
        await one()
    size = max(requests // batches, 1)
    best = {"cpu": float("inf"), "wall": float("inf")}
    for _ in range(batches):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(size):
            await one()
        best["cpu"] = min(best["cpu"], (time.process_time() - cpu) / size * 1e6)
        best["wall"] = min(best["wall"], (time.perf_counter() - wall) / size * 1e6)
    return best


def _request(provider: str, unseeded: bool) -> tuple[str, dict[str, Any]]:
    """The path and body sent: ``provider``'s, without its ``seed`` if ``unseeded``."""
    path, body = PROVIDERS[provider]
    return path, {key: value for key, value in body.items() if not (unseeded and key == "seed")}


def _run_child(
    src: str, mode: str, requests: int, batches: int, provider: str = "openai", unseeded: bool = False
) -> dict[str, float]:
    """One measurement in a subprocess that imports ``llm_simulator`` from ``src``."""
    argv = ["inprocess.py", "--child", mode, "--requests", str(requests), "--batches", str(batches)]
    argv += ["--provider", provider, *(["--unseeded"] if unseeded else [])]
    code = f"import sys; sys.path[:0] = [{src!r}]; sys.argv = {argv!r}; import inprocess; inprocess.main()"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True, check=True, timeout=900
    )
    measured: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    """Alternate the candidate and the baselines; print and write ``results/inprocess.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per mode and subprocess")
    parser.add_argument("--batches", type=int, default=5, help="timed batches per subprocess (best counts)")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of every target")
    add_baseline_flags(parser)
    parser.add_argument("--output", default="inprocess", help="results file name under bench/results")
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="openai", help="whose wire format to send")
    parser.add_argument(
        "--unseeded", action="store_true", help="send the body without its seed (fresh draws, as most load tests do)"
    )
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        measured = _measure(args.child, args.requests, args.batches, args.provider, args.unseeded)
        print(json.dumps(asyncio.run(measured)))
        return

    checkouts = [candidate(), *baselines(args)]
    targets = {checkout.label: str(checkout.src) for checkout in checkouts}
    samples: dict[str, dict[str, list[dict[str, float]]]] = {name: {mode: [] for mode in MODES} for name in targets}
    names = list(targets)
    for round_no in range(args.rounds):
        shift = round_no % len(names)  # rotate who goes first, so no target always gets a cold machine
        for name in names[shift:] + names[:shift]:
            for mode in MODES:
                sample = _run_child(targets[name], mode, args.requests, args.batches, args.provider, args.unseeded)
                samples[name][mode].append(sample)
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)

    rows = []
    summary: dict[str, Any] = {}
    for checkout in checkouts:
        name = checkout.label
        entry = summary.setdefault(name, checkout.describe())
        for mode in MODES:
            row: list[object] = [name, mode]
            entry[mode] = {}
            for clock in CLOCKS:
                values = [sample[clock] for sample in samples[name][mode]]
                best, median = min(values), statistics.median(values)
                # How far two numbers must differ before the difference means anything.
                spread = (max(values) - best) / median * 100
                row += [f"{best:.1f}", f"{median:.1f}", f"{spread:.0f}%"]
                entry[mode][clock] = {"best_us": best, "median_us": median, "spread_pct": spread, "rounds_us": values}
            rows.append(row)
    headers = ["target", "mode"] + [
        f"{clock} {stat}" for clock in CLOCKS for stat in ("best µs", "median µs", "spread")
    ]
    print_table(headers, rows)
    path, body = _request(args.provider, args.unseeded)
    params = {
        "requests": args.requests,
        "batches": args.batches,
        "rounds": args.rounds,
        "provider": args.provider,
        "path": path,
        "body": body,
    }
    path = write_results(args.output, {"machine": machine_info(), "parameters": params, "targets": summary})
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()

"""In-process CPU per streamed token on the engine path: the ASGI app without HTTP.

``--streams`` concurrent streaming chat completions of ``bench-model`` (the ``streams.py
--engine`` configuration: one replica, every step 20 ms) go through the ASGI app with a
``send`` that completes at once (as granian's does), on a scheduler that releases every step
on the next loop pass instead of sleeping. So the run is the server's own Python work per
token — the engine step, waking the stream, ``Simulator.stream``, the provider's frame,
``_send_stream`` — plus each request's parsing and planning, without granian's I/O or a
client competing for the CPU. CPU time (``time.process_time``) ÷ SSE frames sent (a write
may carry several: a stream that fell behind sends the frames ready together in one).
``--send-ms`` makes every write complete late, so streams fall behind the engine (catch-up).
``--baseline-src DIR`` measures another checkout's ``src`` the same way, in a subprocess,
alternating with this one (A/B on a shared box). ``--bytecodes`` counts the Python bytecodes
run per frame instead of timing them (``sys.settrace`` opcode events): much slower, but the
count does not depend on what else the machine runs, so small changes show on a loaded box.
``--sampled`` paces the streams by the sampled model (the fixed 20 ms profile, no engine)
instead, on the same next-pass scheduler: the per-token path of ``streams.py`` without
``--engine``. ``--provider anthropic|gemini`` streams Anthropic's events or Gemini's
``alt=sse`` chunks instead of OpenAI's chat chunks.

Usage::

    python bench/engine_stream_cost.py
    git worktree add /tmp/base main && python bench/engine_stream_cost.py --baseline-src /tmp/base/src
    python bench/engine_stream_cost.py --bytecodes --streams 200 --pairs 1 --baseline-src /tmp/base/src
    python bench/engine_stream_cost.py --sampled --provider anthropic --baseline-src /tmp/base/src
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import streams
from _common import REPO_DIR, git_commit, machine_info, print_table, write_results

TOKENS = 100


class Bytecodes:
    """Counts the Python bytecodes run while it is the trace function (``sys.settrace``)."""

    def __init__(self) -> None:
        self.count = 0

    def trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        """The trace function: every new frame reports its opcodes, and each is counted."""
        if event == "opcode":
            self.count += 1
        elif event == "call":
            frame.f_trace_opcodes = True
        return self.trace


async def _measure(
    n: int,
    rounds: int,
    send_ms: float = 0.0,
    bytecodes: bool = False,
    sampled: bool = False,
    provider: str = "openai",
) -> list[float]:
    """µs of CPU per frame for each of ``rounds`` runs of ``n`` concurrent streams.

    ``send_ms`` > 0: every body write completes that late (a slow socket), so the streams
    fall behind the engine and find several tokens out when they resume (catch-up).
    ``bytecodes``: Python bytecodes run per frame instead of µs. ``sampled``: the sampled
    model paces the streams (no engine). ``provider``: the wire format streamed.
    """
    from llm_simulator.config import load_config
    from llm_simulator.engine.scheduler import Scheduler
    from llm_simulator.server.app import SimulatorApp

    class NextPass(Scheduler):
        """Every wait ends on the next loop pass (the engine yields once per step).

        One release pass per loop pass releases everything parked since the last, as the
        real scheduler's pass releases a window's entries together: futures (a task wakes)
        and, in checkouts that have them, a plain sampled stream's own writer
        (``park_batched``), which the pass calls directly.
        """

        def __init__(self, clock: Any) -> None:
            super().__init__(clock)
            self._next: list[Any] = []

        def _to_next_pass(self, entry: Any) -> None:
            if not self._next:
                asyncio.get_running_loop().call_soon(self._pass)
            self._next.append(entry)

        def _pass(self) -> None:
            entries, self._next = self._next, []
            for entry in entries:
                if not entry.done():
                    entry.set_result(None)

        def wait_until(self, due: float) -> asyncio.Future[None] | None:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._to_next_pass(fut)
            return fut

        wait_batched = wait_until  # the sampled timelines' waits too

        def park_batched(self, due: float, entry: Any) -> bool:
            self._to_next_pass(entry)
            return True

    class Done:
        """What granian's ``send`` returns: an awaitable that is already complete."""

        __slots__ = ()

        def __await__(self) -> Any:
            return iter(())

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        text = streams.CONFIG_TEMPLATE.format(profile=streams.PROFILE, ttft=20.0, itl=20.0, model=streams.MODEL)
        if not sampled:
            text += streams.ENGINE_TEMPLATE.format(model=streams.MODEL, itl=20.0, front=0.0)
        config.write_text(text)
        app = SimulatorApp(load_config(config))
    app.sim.scheduler = NextPass(app.sim.clock)
    app.sim.timing._scheduler = app.sim.scheduler  # type: ignore[attr-defined]  # the sampled timelines' too
    gc.collect()
    gc.freeze()  # as the server's app factory does
    wire = streams.WIRES[provider]
    body = json.dumps(wire.body(TOKENS)).encode()
    path, _, query = wire.path.partition("?")
    scope = {
        "type": "http", "method": "POST", "path": path, "query_string": query.encode(),
        "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer sk-bench")],
        "http_version": "1.1", "scheme": "http", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
    }  # fmt: skip
    done = Done()
    frames = 0

    loop = asyncio.get_running_loop()

    def send(message: dict[str, Any]) -> Any:
        nonlocal frames
        if message.get("more_body"):
            frames += message["body"].count(b"\n\n")  # SSE frames: a write may carry several
            if send_ms:
                fut = loop.create_future()
                loop.call_later(send_ms / 1000.0, fut.set_result, None)
                return fut
        return done

    async def one() -> None:
        first = True
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # the client never leaves

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": body, "more_body": False}
            await gone
            return {"type": "http.disconnect"}

        await app(dict(scope), receive, send)  # type: ignore[arg-type]

    results = []
    for _ in range(rounds):
        frames = 0
        gc.collect()
        counter = Bytecodes()
        if bytecodes:
            sys.settrace(counter.trace)
        started = time.process_time()
        await asyncio.gather(*(one() for _ in range(n)))
        cpu = time.process_time() - started
        sys.settrace(None)
        results.append(counter.count / frames if bytecodes else cpu / frames * 1e6)
    return results


def _child(src: str | None, n: int, rounds: int, args: argparse.Namespace) -> list[float]:
    path = src or str(REPO_DIR / "src")  # this checkout's package, whatever the venv has installed
    code = (
        f"import sys; sys.path[:0] = [{path!r}]; import uvloop, engine_stream_cost as m; "
        f"print(uvloop.run(m._measure({n}, {rounds}, {args.send_ms}, {args.bytecodes}, {args.sampled}, "
        f"{args.provider!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=sys.path[0], capture_output=True, text=True, check=True)
    return [float(x) for x in out.stdout.strip().splitlines()[-1].strip("[]").split(",")]


def main() -> None:
    """Alternate this checkout (and the baseline) ``--pairs`` times; write results/engine_stream_cost.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="runs per process (the first warms up)")
    parser.add_argument("--pairs", type=int, default=3, help="processes per checkout, alternating")
    parser.add_argument("--baseline-src", help="another checkout's src directory to measure the same way")
    parser.add_argument(
        "--send-ms", type=float, default=0.0, help="each body write completes this late: streams fall behind (catch-up)"
    )
    parser.add_argument(
        "--bytecodes", action="store_true", help="count Python bytecodes per frame instead of CPU µs (load-independent)"
    )
    parser.add_argument("--sampled", action="store_true", help="pace by the sampled model instead of the engine")
    parser.add_argument("--provider", choices=sorted(streams.WIRES), default="openai", help="wire format to stream")
    args = parser.parse_args()
    if args.bytecodes:
        args.rounds = 2  # a warm-up round, then the counted one (the count does not vary)
    sides = {"this checkout": None} if not args.baseline_src else {"baseline": args.baseline_src, "this checkout": None}
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.pairs):
        for name, src in sides.items():
            # The first round warms up (imports done, caches filled, the collector settled).
            runs[name] += _child(src, args.streams, args.rounds, args)[1:]
    best = {name: min(values) for name, values in runs.items()}
    median = {name: statistics.median(values) for name, values in runs.items()}
    unit = "bytecodes/frame" if args.bytecodes else "µs/frame"
    print_table(
        ["checkout", f"{unit} best", f"{unit} median", "runs"],
        [[name, round(best[name], 2), round(median[name], 2), len(runs[name])] for name in sides],
    )
    name = "engine_stream_bytecodes" if args.bytecodes else "engine_stream_cost"
    name += ("_catchup" if args.send_ms else "") + ("_sampled" if args.sampled else "")
    name += "" if args.provider == "openai" else f"_{args.provider}"
    write_results(name, {
        "benchmark": "engine_stream_cost", "commit": git_commit(), "machine": machine_info(),
        "parameters": vars(args), "unit": unit, "per_frame": runs, "best": best, "median": median,
    })  # fmt: skip


if __name__ == "__main__":
    main()

"""The shared scheduler alone, on uvloop: loop-timer passes, CPU and lateness per released token.

``--streams`` tasks each wait for ``--tokens`` due times ``t0 + k × ITL`` (20 ms), the stream
starts spread evenly over one second, as ``streams.py`` staggers them — no HTTP, no frames:
only ``Scheduler`` and the event loop. Each mode is one process:

* ``exact``: every token waits with ``wait_until`` (what sampled tokens did before s29);
* ``batched``: every token waits with ``wait_batched`` (the 2 ms release grid).

``--baseline-src DIR`` also runs another checkout's scheduler in ``exact`` mode (a checkout
before s29 has only that: its timer re-armed for what was left when it fired early).

Reported per mode: the timer passes (``release_due`` calls) and how many of them released
nothing (a timer that fired early: the spin the minimum timer delay removed), CPU µs per
token (``time.process_time``), and each token's release lateness (min, p50, p99, max; the
minimum shows whether any token went out before its due time). The pass counts do not
depend on the machine's load; the CPU and lateness do.

Usage::

    python bench/scheduler_passes.py --streams 1000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

ITL_S = 0.020


def _measure(streams: int, tokens: int, mode: str) -> dict[str, Any]:
    """One mode in this process (uvloop): passes, empty passes, CPU per token, lateness."""
    import uvloop

    from llm_simulator.engine import scheduler as module
    from llm_simulator.engine.scheduler import Scheduler
    from llm_simulator.infra.clock import SystemClock

    passes = empty = 0
    # Before s29 the timer's callback was ``_fire`` and the heap held (due, seq, future),
    # released up to EARLY_RELEASE_S before the due time; since, ``release_due`` and bare
    # release times.
    callback = "release_due" if hasattr(Scheduler, "release_due") else "_fire"

    def counted(sched: Any) -> None:
        nonlocal passes, empty
        passes += 1
        heap = sched._heap
        if heap:
            head = heap[0]
            due = head[0] - module.EARLY_RELEASE_S if isinstance(head, tuple) else head
        if not heap or due > sched._clock.now():
            empty += 1
        getattr(Scheduler, callback)(sched)

    counting = type("Counting", (Scheduler,), {callback: counted})

    late: list[float] = []

    async def run() -> float:
        clock = SystemClock()
        sched = counting(clock)
        wait = sched.wait_batched if mode == "batched" else sched.wait_until

        async def stream(i: int) -> None:
            t0 = clock.now() + ITL_S + i / streams
            for k in range(tokens):
                due = t0 + k * ITL_S
                fut = wait(due)
                if fut is not None:
                    await fut
                late.append(clock.now() - due)

        start = time.process_time()
        await asyncio.gather(*(stream(i) for i in range(streams)))
        return time.process_time() - start

    cpu = uvloop.run(run())
    late.sort()
    ms = [x * 1000.0 for x in late]
    return {
        "mode": mode,
        "passes": passes,
        "empty_passes": empty,
        "tokens": len(late),
        "cpu_us_per_token": round(cpu / len(late) * 1e6, 3),
        "late_min_ms": round(ms[0], 3),
        "late_p50_ms": round(statistics.median(ms), 3),
        "late_p99_ms": round(ms[int(len(ms) * 0.99)], 3),
        "late_max_ms": round(ms[-1], 3),
    }


def main() -> None:
    """Alternate the two modes, one process each, and write bench/results/scheduler_passes.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="processes per mode, alternating")
    parser.add_argument("--output", default="scheduler_passes", help="results file name")
    parser.add_argument("--baseline-src", help="another checkout's src: its scheduler in exact mode too")
    parser.add_argument("--child", choices=["exact", "batched"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.streams, args.tokens, args.child)))
        return
    here = str(Path(__file__).resolve().parents[1] / "src")
    targets = [("this checkout", here, "exact"), ("this checkout", here, "batched")]
    if args.baseline_src:
        targets.append(("baseline", str(Path(args.baseline_src).resolve()), "exact"))
    sizes = ["--streams", str(args.streams), "--tokens", str(args.tokens)]
    runs: list[dict[str, Any]] = []
    for k in range(args.runs):
        for label, src, mode in targets[k % len(targets) :] + targets[: k % len(targets)]:  # rotated order
            env = {**os.environ, "PYTHONPATH": src}
            argv = [sys.executable, __file__, "--child", mode, *sizes]
            out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout
            result = {"target": label, "src": src, **json.loads(out)}
            runs.append(result)
            print(
                f"{label:13} {mode:8} passes {result['passes']:7,} (empty {result['empty_passes']:7,})  "
                f"{result['cpu_us_per_token']:6.2f} µs/token  late min {result['late_min_ms']:.3f} "
                f"p50 {result['late_p50_ms']:.3f} p99 {result['late_p99_ms']:.3f} max {result['late_max_ms']:.3f} ms"
            )
    payload = {
        "benchmark": "scheduler_passes",
        "machine": c.machine_info(),
        "parameters": {"streams": args.streams, "tokens": args.tokens, "itl_ms": ITL_S * 1000, "runs": args.runs},
        "runs": runs,
    }
    print(f"results written to {c.shown(c.write_results(args.output, payload))}")


if __name__ == "__main__":
    main()

"""Benchmark: the live engine's CPU cost per step and per token, without HTTP.

``--streams`` coroutines each await every token of their sequence from one ``LiveEngine``
replica (parked as ``Simulator.stream`` parks: ``EngineTimeline.park``, a future only for a
token not out yet), on a scheduler that never
sleeps, so the run is pure engine work: forming batches, the step-time model, applying a
step, waking parked streams and resuming them. CPU time (``time.process_time``) over the
run divides by the steps and by the tokens. The HTTP and SSE cost per token is measured by
``streams.py --engine``.

Usage::

    python bench/engine_live_cost.py                # 1000 streams × 200 tokens, 3 runs
    python bench/engine_live_cost.py --streams 256 --tokens 500
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _common import git_commit, machine_info, print_table, write_results

from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.live import LiveEngine
from llm_simulator.engine.load.replica import EngineSettings
from llm_simulator.engine.load.stepmodel import StepTimeModel
from llm_simulator.engine.observer import NullObserver
from llm_simulator.engine.scheduler import Scheduler
from llm_simulator.infra.clock import FakeClock


class InstantScheduler(Scheduler):
    """Every wait ends on the next loop iteration, with the fake clock at its due time.

    So the engine yields once per step, as on the real clock, and the streams it woke run
    before the next step — only the sleeping is taken out.
    """

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.fake = clock

    def wait_until(self, due: float) -> asyncio.Future[None] | None:
        """A future resolved on the next loop iteration; the fake clock jumps to ``due``."""
        self.fake.advance_to(due)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_result, None)
        return fut


async def _consume(engine: LiveEngine, prompt: int, tokens: int) -> None:
    # As Simulator.stream takes an engine's tokens: a future only for a token not out yet.
    timeline = engine.open(prompt, tokens, 1, ())
    park = timeline.park
    for step in range(tokens):
        waiter = park(step)
        if waiter is not None:
            await waiter
    timeline.close()


async def _run(streams: int, prompt: int, tokens: int) -> dict[str, float]:
    clock = FakeClock(start=0.0)
    spec = DeploymentSpec(
        "bench",
        EngineSettings(
            max_num_seqs=streams,
            max_num_batched_tokens=streams * prompt + streams,
            kv_blocks=streams * (prompt + tokens) // 16 + streams * 2,
        ),
        StepTimeModel(step_ms=5.0, weights_ms=10.0, prefill_ms_per_token=0.0001, kv_ms_per_token=0.00001),
    )
    engine = LiveEngine(spec, clock, InstantScheduler(clock), NullObserver(), seed=1)
    start = time.process_time()
    await asyncio.gather(*(_consume(engine, prompt, tokens) for _ in range(streams)))
    cpu = time.process_time() - start
    steps = engine.histograms[0].count
    generated = engine.replicas[0].counters.generated_tokens
    return {
        "cpu_s": cpu,
        "steps": steps,
        "tokens": generated,
        "us_per_step": cpu / steps * 1e6,
        "us_per_token": cpu / generated * 1e6,
        "mean_batch": engine.histograms[0].batch_sum / steps,
    }


def main() -> None:
    """Run the benchmark and write bench/results/engine_live_cost.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--prompt", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [asyncio.run(_run(args.streams, args.prompt, args.tokens)) for _ in range(args.runs)]
    summary = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print_table(
        ["streams", "tokens each", "steps", "mean batch", "µs/step", "µs/token"],
        [
            [
                args.streams,
                args.tokens,
                int(summary["steps"]),
                round(summary["mean_batch"], 1),
                round(summary["us_per_step"], 1),
                round(summary["us_per_token"], 3),
            ]
        ],
    )
    write_results(
        "engine_live_cost",
        {
            "benchmark": "engine_live_cost",
            "commit": git_commit(),
            "machine": machine_info(),
            "parameters": vars(args),
            "runs": runs,
            "median": summary,
        },
    )


if __name__ == "__main__":
    main()

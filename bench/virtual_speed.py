"""How fast the virtual-time engine runs: output tokens simulated per second of CPU.

A preset at saturation — a closed loop of more clients than the batch has seats, so every
step runs a full batch and the queue never empties — for a stretch of virtual time, timed
with the process's CPU clock (``time.process_time``, not wall time, so other load on a
shared machine matters less). Best of ``--rounds``. ``--profile`` prints where the time goes.

    python bench/virtual_speed.py                 # vllm-h100-7b-tp1, 10 virtual minutes, 3 rounds
    python bench/virtual_speed.py --profile --rounds 1
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from typing import Any

from _common import git_commit, machine_info, print_table, write_results

from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.virtual import closed_loop, simulate
from llm_simulator.engine.load.workload import LengthSpec, RequestShape, closed_loop_requests

TARGET = 1_000_000  # output tokens per CPU second (issue 14, item 10)


def one_round(preset: str, clients: int, virtual_s: float, prompt: str, output: str, seed: int) -> dict[str, Any]:
    """One saturated run: CPU seconds, output tokens generated (finished or not), steps."""
    spec = PRESETS[preset]
    shape = RequestShape(LengthSpec.parse(prompt), LengthSpec.parse(output), 0, spec.settings.block_size)
    make = closed_loop_requests(10**9, shape, random.Random(seed))
    first, after = closed_loop(clients, make)
    started = time.process_time()
    run = simulate(spec, first, seed=seed, next_arrival=after, until_ms=virtual_s * 1000.0)
    cpu = time.process_time() - started
    tokens = sum(r.counters.generated_tokens for r in run.replicas)
    steps = sum(r.counters.steps for r in run.replicas)
    batch = sum(r.counters.batch_size_sum for r in run.replicas)
    return {
        "cpu_s": round(cpu, 3),
        "output_tokens": tokens,
        "tokens_per_cpu_s": round(tokens / cpu),
        "steps": steps,
        "mean_batch": round(batch / steps, 1),
        "us_per_step": round(cpu / steps * 1e6, 1),
        "finished_requests": len(run.completed),
    }


def main() -> None:
    """Measure, print a table and write ``results/virtual_speed.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vllm-h100-7b-tp1")
    parser.add_argument("--clients", type=int, default=256, help="closed-loop clients (default 256)")
    parser.add_argument("--virtual-seconds", type=float, default=600.0)
    parser.add_argument("--prompt-tokens", default="500")
    parser.add_argument("--output-tokens", default="250")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round (not saved)")
    args = parser.parse_args()
    argv = (args.preset, args.clients, args.virtual_seconds, args.prompt_tokens, args.output_tokens, args.seed)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one_round(*argv)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        return
    rounds = [one_round(*argv) for _ in range(args.rounds)]
    best = max(rounds, key=lambda r: r["tokens_per_cpu_s"])
    keys = ("cpu_s", "output_tokens", "tokens_per_cpu_s", "steps", "mean_batch", "us_per_step")
    print_table(
        ["round", "CPU s", "output tokens", "tokens/CPU s", "steps", "mean batch", "µs/step"],
        [(i + 1, *(r[k] for k in keys)) for i, r in enumerate(rounds)],
    )
    print(f"best: {best['tokens_per_cpu_s']:,} output tokens per CPU second (target {TARGET:,})")
    write_results(
        "virtual_speed",
        {
            "machine": machine_info(),
            "commit": git_commit(),
            "parameters": vars(args),
            "rounds": rounds,
            "best_tokens_per_cpu_s": best["tokens_per_cpu_s"],
            "targets_met": {"tokens_per_cpu_s >= 1,000,000": best["tokens_per_cpu_s"] >= TARGET},
        },
    )


if __name__ == "__main__":
    main()

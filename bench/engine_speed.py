"""Benchmark: virtual-time engine speed, in output tokens simulated per CPU second.

A closed loop of ``--concurrency`` clients (prompt ``--prompt`` tokens, ``--output`` tokens
out, ``--requests`` in all) runs through ``simulate`` on a preset's deployment; the CPU time
of the run (``time.process_time``, this process only) divides the output tokens. The target
is ≥ 1,000,000 tokens per CPU second, so an hour of a busy deployment takes seconds.

Usage::

    python bench/engine_speed.py                 # 256 × (500 in, 500 out), 4096 requests, 3 runs
    python bench/engine_speed.py --runs 1 --requests 1024
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import git_commit, machine_info, print_table, write_results

from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.virtual import Arrival, closed_loop, simulate

TARGET_TOKENS_PER_CPU_S = 1_000_000


def one_run(preset: str, concurrency: int, prompt: int, output: int, requests: int, seed: int) -> dict[str, float]:
    """One closed-loop run: output tokens, CPU seconds, virtual seconds and preemptions."""

    def make(k: int, now: float) -> Arrival | None:
        return Arrival(now, prompt, output) if k < requests else None

    first, after = closed_loop(concurrency, make)
    start = time.process_time()
    run = simulate(PRESETS[preset], first, seed=seed, next_arrival=after)
    cpu = time.process_time() - start
    return {
        "output_tokens": run.output_tokens,
        "cpu_s": cpu,
        "tokens_per_cpu_s": run.output_tokens / cpu,
        "virtual_s": run.duration_ms / 1000.0,
        "preemptions": sum(r.counters.preemptions for r in run.replicas),
    }


def main() -> None:
    """Parse the options, run, print a table and write ``bench/results/engine_speed.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vllm-h100-7b-tp1", choices=sorted(PRESETS))
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--prompt", type=int, default=500)
    parser.add_argument("--output", type=int, default=500)
    parser.add_argument("--requests", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [
        one_run(args.preset, args.concurrency, args.prompt, args.output, args.requests, seed)
        for seed in range(args.runs)
    ]
    rows = [
        [
            i,
            r["output_tokens"],
            f"{r['cpu_s']:.2f}",
            f"{r['tokens_per_cpu_s']:,.0f}",
            f"{r['virtual_s']:.1f}",
            r["preemptions"],
        ]
        for i, r in enumerate(runs)
    ]
    print_table(["run", "output tokens", "CPU s", "tokens / CPU s", "virtual s", "preemptions"], rows)
    median = statistics.median(r["tokens_per_cpu_s"] for r in runs)
    print(f"median: {median:,.0f} tokens per CPU second (target {TARGET_TOKENS_PER_CPU_S:,})")
    path = write_results(
        "engine_speed",
        {
            "machine": machine_info(),
            "commit": git_commit(),
            "parameters": vars(args),
            "runs": runs,
            "median_tokens_per_cpu_s": median,
            "targets_met": {"tokens_per_cpu_s": median >= TARGET_TOKENS_PER_CPU_S},
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

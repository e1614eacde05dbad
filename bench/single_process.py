"""``serve --single-process`` (granian's embedded server, one process) against granian's master + one worker.

Issue 22 item 3 asks what granian's supervisor costs a one-worker server. Both ways of the
same checkout are started in interleaved rounds, as ``bench/startup.py`` does: spawn to the
first ``GET /health`` 200 and to the first chat answer, the CPU of the process tree to that
answer, the PSS after ``--idle`` seconds, and the time from SIGTERM to the exit (and its
status). Results: ``bench/results/startup-single-process.json``::

    python bench/single_process.py --rounds 6
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import candidate, cpu_seconds, free_port, machine_info, process_tree, shown, write_results
from startup import _chat_ok, _health_ok, pss_kib

SRC = Path(__file__).resolve().parent.parent / "src"


def _one(extra: list[str], idle_s: float) -> dict[str, Any]:
    """Start one server, time it to its first answer, read its idle PSS, stop it with SIGTERM."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_simulator.cli.main", "serve", "--port", str(port), "--no-latency", *extra],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while not _health_ok(port):
            if proc.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError(f"serve {extra} did not come up")
            time.sleep(0.005)
        startup = time.perf_counter() - started
        if not _chat_ok(port):
            raise RuntimeError("the first chat completion failed")
        first_answer = time.perf_counter() - started
        cpu = cpu_seconds(process_tree(proc.pid))
        time.sleep(idle_s)
        pids = process_tree(proc.pid)
        pss = sum(pss_kib(pid) for pid in pids) / 1024
        stopping = time.perf_counter()
        os.killpg(proc.pid, signal.SIGTERM)
        status = proc.wait(timeout=60)
        stop_s = time.perf_counter() - stopping
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {
        "startup_s": startup,
        "first_answer_s": first_answer,
        "cpu_to_first_answer_s": cpu,
        "pss_mib": pss,
        "processes": len(pids),
        "sigterm_to_exit_s": stop_s,
        "exit_status": status,
    }


def main() -> None:
    """Compare both ways in interleaved rounds; print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idling before PSS is read")
    parser.add_argument("--output", default="startup-single-process", help="results file name under bench/results")
    args = parser.parse_args()
    candidate().compile_bytecode()
    ways: dict[str, list[str]] = {"master + worker": [], "single process": ["--single-process"]}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ways}
    for round_no in range(args.rounds):
        order = list(ways.items()) if round_no % 2 == 0 else list(ways.items())[::-1]
        for name, extra in order:
            runs[name].append(_one(extra, args.idle))
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    keys = ("startup_s", "first_answer_s", "cpu_to_first_answer_s", "pss_mib", "sigterm_to_exit_s")
    summary = {
        name: {f"{k}_median": statistics.median(r[k] for r in rs) for k in keys} | {"runs": rs}
        for name, rs in runs.items()
    }
    for name, entry in summary.items():
        print(f"{name:24s} " + "  ".join(f"{k} {entry[f'{k}_median']:.3f}" for k in keys))
    params = {"rounds": args.rounds, "idle_s": args.idle}
    path = write_results(args.output, {"machine": machine_info(), "parameters": params, "targets": summary})
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()

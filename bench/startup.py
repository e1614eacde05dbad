"""Start-up time and idle memory of ``llm-simulator serve``, A/B against other checkouts.

For each target (this checkout's ``src`` and every ``--baseline``), in interleaved rounds
with the order rotated each round: spawn ``python -m llm_simulator.cli.main serve`` (one
granian worker, latency off) and poll ``GET /health`` every 5 ms on a raw socket until the
first 200; the time from spawn to that answer is the start-up. Right after it, one
non-streamed chat completion is sent: the time from spawn to its 200 is the start-up to the
first answer (it includes whatever a server would load on first use), and its own latency
is the first request's. The CPU time the server's processes spent up to that answer is the
start-up's cost, which a loaded machine does not inflate. Then, after ``--idle`` seconds
with no traffic, the proportional set size (PSS, ``/proc/PID/smaps_rollup``) of every process
of the server's tree (granian's master and its worker) is summed: the memory the server
really costs the machine (shared pages divided among the processes sharing them). Medians
over the rounds are reported, with candidate ÷ baseline ratios of the same rounds' medians.
Results: ``bench/results/startup.json``::

    python bench/startup.py --baseline base=/work/wt-base --rounds 6
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    HOST,
    Checkout,
    add_baseline_flags,
    compiled_checkouts,
    cpu_seconds,
    free_port,
    machine_info,
    print_table,
    process_tree,
    shown,
    write_results,
)

HEALTH = b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
CHAT_BODY = (
    b'{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"Hello there, how are you?"}]}'
)
CHAT = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Authorization: Bearer sk-bench\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(CHAT_BODY), CHAT_BODY)
)
POLL_S = 0.005


def _health_ok(port: int) -> bool:
    """Whether ``GET /health`` answers 200 now (False while nothing listens yet)."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(HEALTH)
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _chat_ok(port: int) -> bool:
    """Whether one non-streamed chat completion answers 200 (read to the end of the answer)."""
    with socket.create_connection((HOST, port), timeout=30.0) as sock:
        sock.sendall(CHAT)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.startswith(b"HTTP/1.1 200")


def pss_kib(pid: int) -> int:
    """Proportional set size of one process in KiB (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _one(checkout: Checkout, log_dir: Path, idle_s: float, extra: list[str]) -> dict[str, Any]:
    """Spawn one server, time it to its first healthy answer, measure its idle PSS, stop it."""
    port = free_port()
    started = time.perf_counter()
    server = checkout.start(checkout.label, port, log_dir, "--no-latency", *extra)
    try:
        while not _health_ok(port):
            if server.proc.poll() is not None or time.perf_counter() - started > 60:
                log = server.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{checkout.label} did not come up:\n{log}")
            time.sleep(POLL_S)
        startup = time.perf_counter() - started
        if not _chat_ok(port):
            raise RuntimeError(f"{checkout.label}: the first chat completion failed")
        first_answer = time.perf_counter() - started
        # CPU the server's processes spent up to here: the start-up's cost without the waits a
        # loaded machine adds to its wall time.
        start_cpu = cpu_seconds(process_tree(server.pid))
        time.sleep(idle_s)
        pids = process_tree(server.pid)
        per_process = [pss_kib(pid) for pid in pids]
    finally:
        server.stop()
    return {
        "startup_s": startup,
        "first_answer_s": first_answer,
        "first_request_s": first_answer - startup,
        "cpu_to_first_answer_s": start_cpu,
        "pss_mib": sum(per_process) / 1024,
        "pss_kib_per_process": per_process,
    }


def main() -> None:
    """Alternate the candidate and the baselines; print and write ``results/startup.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="servers started per target (interleaved)")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idling before PSS is read")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra argument for serve (repeatable)")
    add_baseline_flags(parser)
    parser.add_argument("--output", default="startup", help="results file name under bench/results")
    args = parser.parse_args()

    checkouts = compiled_checkouts(args)
    samples: dict[str, list[dict[str, Any]]] = {c.label: [] for c in checkouts}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for round_no in range(args.rounds):
            shift = round_no % len(checkouts)
            for checkout in checkouts[shift:] + checkouts[:shift]:
                samples[checkout.label].append(_one(checkout, Path(tmp), args.idle, args.serve_arg))
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)

    summary: dict[str, Any] = {}
    rows = []
    first = checkouts[0].label
    for checkout in checkouts:
        runs = samples[checkout.label]
        startup = statistics.median(r["startup_s"] for r in runs)
        answer = statistics.median(r["first_answer_s"] for r in runs)
        request = statistics.median(r["first_request_s"] for r in runs)
        cpu = statistics.median(r["cpu_to_first_answer_s"] for r in runs)
        pss = statistics.median(r["pss_mib"] for r in runs)
        entry = {
            **checkout.describe(),
            "startup_median_s": startup,
            "first_answer_median_s": answer,
            "first_request_median_s": request,
            "cpu_to_first_answer_median_s": cpu,
            "pss_median_mib": pss,
            "runs": runs,
        }
        summary[checkout.label] = entry
        best = min(r["startup_s"] for r in runs)
        timings = (startup, best, answer, request, cpu)
        rows.append([checkout.label, *(f"{value:.3f}" for value in timings), f"{pss:.1f}"])
    for checkout in checkouts[1:]:
        mine, theirs = summary[first], summary[checkout.label]
        mine.setdefault("vs", {})[checkout.label] = {
            "startup_ratio": mine["startup_median_s"] / theirs["startup_median_s"],
            "first_answer_ratio": mine["first_answer_median_s"] / theirs["first_answer_median_s"],
            "cpu_ratio": mine["cpu_to_first_answer_median_s"] / theirs["cpu_to_first_answer_median_s"],
            "pss_ratio": mine["pss_median_mib"] / theirs["pss_median_mib"],
        }
    headers = ["target", "start-up median s", "best s", "first answer s", "first request s", "CPU s", "idle PSS MiB"]
    print_table(headers, rows)
    params = {"rounds": args.rounds, "idle_s": args.idle, "serve_args": ["--no-latency", *args.serve_arg]}
    path = write_results(args.output, {"machine": machine_info(), "parameters": params, "targets": summary})
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()

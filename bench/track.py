"""Per-commit tracking of the server's own CPU cost per request and per token (issue 22 item 5).

Measures, for this checkout and every ``--baseline`` / ``--baseline-src`` checkout, in
subprocesses that import each checkout's ``src``, alternating the checkouts over ``--rounds``
rounds (the order rotated each round):

* ``request_json_cpu_us`` / ``request_stream_cpu_us``: CPU µs per non-streamed and per
  streamed chat completion through the ASGI app, no sockets (``inprocess.py``'s measurement:
  latency off, 40 tokens, the best of ``--batches`` batches);
* ``token_engine_cpu_us`` / ``token_sampled_cpu_us``: CPU µs per SSE frame of ``--streams``
  concurrent 100-token streams, engine-paced and paced by the sampled model, on a scheduler
  that releases every wait on the next loop pass (``engine_stream_cost.py``'s measurement;
  a frame is one token's event, plus each stream's role and finish events);
* with ``--bytecodes``: ``token_sampled_bytecodes``, the Python bytecodes run per sampled
  frame — slow to count, but the count does not depend on the machine's load, so a change
  shows even on a busy box.

Each metric's best and median over the rounds, the candidate ÷ baseline ratios of both
(measured in the same run, so they hold on a loaded box where the absolute numbers do not),
and the machine (CPU model, cores, kernel, Python, granian, load average at start and end)
go into **one JSON line appended to** ``bench/results/history.jsonl`` (``--history`` names
another file). The line also gets the ratio to the newest earlier line from the same kind of
machine (another run: only a hint, the same-run baseline is the measurement). The box is
labelled ``loaded`` when the 1-minute load average at the start or the end exceeds
``LOADED_FRACTION`` × the cores, else ``quiet``; ``--note`` adds a free-text remark.

Usage::

    python bench/track.py                                   # this checkout only, ~1 min
    git worktree add --detach /tmp/base HEAD~1
    python bench/track.py --baseline base=/tmp/base         # and the previous commit, ~2 min
    python bench/track.py --baseline base=/tmp/base --bytecodes --note "after the msgspec parser"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as c
import engine_stream_cost
import inprocess

HISTORY = c.RESULTS_DIR / "history.jsonl"
LOADED_FRACTION = 0.75  # load average above this × cores at the start or end: a loaded box
# Machine fields that must match for an earlier line to be "the same kind of machine".
SAME_MACHINE = ("cpu_model", "nproc", "python")


def stream_args(sampled: bool, bytecodes: bool) -> argparse.Namespace:
    """The options ``engine_stream_cost._child`` reads (OpenAI wire format, writes complete at once)."""
    return argparse.Namespace(send_ms=0.0, bytecodes=bytecodes, sampled=sampled, provider="openai")


def metrics(args: argparse.Namespace) -> dict[str, Callable[[str], float]]:
    """Each tracked metric: a function measuring it for one checkout's ``src`` in a subprocess."""

    def per_frame(sampled: bool, bytecodes: bool = False) -> Callable[[str], float]:
        def measure(src: str) -> float:
            # The first round in the process warms up (imports, caches, the collector).
            runs = engine_stream_cost._child(src, args.streams, 2, stream_args(sampled, bytecodes))
            return runs[-1]

        return measure

    table: dict[str, Callable[[str], float]] = {
        "request_json_cpu_us": lambda src: inprocess._run_child(src, "json", args.requests, args.batches)["cpu"],
        "request_stream_cpu_us": lambda src: inprocess._run_child(src, "stream", args.requests, args.batches)["cpu"],
        "token_engine_cpu_us": per_frame(sampled=False),
        "token_sampled_cpu_us": per_frame(sampled=True),
    }
    if args.bytecodes:
        table["token_sampled_bytecodes"] = per_frame(sampled=True, bytecodes=True)
    return table


def summarize(values: list[float]) -> dict[str, Any]:
    """Best (lowest), median and spread ((max − best) ÷ median, %) of one metric's rounds."""
    best, median = min(values), statistics.median(values)
    return {
        "best": round(best, 3),
        "median": round(median, 3),
        "spread_pct": round((max(values) - best) / median * 100, 1) if median else None,
        "rounds": [round(v, 3) for v in values],
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """``a ÷ b`` rounded, or None when either side is missing or ``b`` is 0."""
    return round(a / b, 3) if a is not None and b else None


def same_run_ratios(targets: dict[str, dict[str, Any]], candidate: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Candidate ÷ each other target, per metric, of the best and of the median (below 1: the candidate is cheaper)."""
    mine = targets[candidate]["metrics"]
    return {
        label: {
            name: {stat: ratio(mine[name][stat], other["metrics"][name][stat]) for stat in ("best", "median")}
            for name in mine
            if name in other["metrics"]
        }
        for label, other in targets.items()
        if label != candidate
    }


def box_label(machine: dict[str, Any], loadavg_end: list[float]) -> str:
    """``loaded`` when the 1-minute load average at the start or the end exceeds LOADED_FRACTION × cores."""
    cores = machine.get("nproc") or 1
    peak = max(machine["loadavg_at_start"][0], loadavg_end[0])
    return "loaded" if peak > LOADED_FRACTION * cores else "quiet"


def previous_record(path: Path, machine: dict[str, Any]) -> dict[str, Any] | None:
    """The newest line of ``path`` taken on the same kind of machine (SAME_MACHINE fields), if any."""
    if not path.is_file():
        return None
    found = None
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if all(record.get("machine", {}).get(key) == machine.get(key) for key in SAME_MACHINE):
            found = record
    return found


def versus_previous(record: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any] | None:
    """This run's candidate ÷ the previous line's candidate, per metric (best values; another run)."""
    if previous is None:
        return None
    mine = record["targets"][record["candidate"]]["metrics"]
    theirs = previous["targets"][previous["candidate"]]["metrics"]
    return {
        "commit": previous["commit"],
        "date": previous["date"],
        "box": previous.get("box"),
        "best": {name: ratio(mine[name]["best"], theirs[name]["best"]) for name in mine if name in theirs},
    }


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` to ``path`` as one compact JSON line (the file is created if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")


def measure(checkouts: list[c.Checkout], args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Every metric of every checkout once per round, the checkouts' order rotated each round."""
    table = metrics(args)
    values: dict[str, dict[str, list[float]]] = {ch.label: {name: [] for name in table} for ch in checkouts}
    for round_no in range(args.rounds):
        shift = round_no % len(checkouts)
        for checkout in checkouts[shift:] + checkouts[:shift]:
            for name, run in table.items():
                values[checkout.label][name].append(run(str(checkout.src)))
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of every checkout (default 3)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per mode and subprocess (default 2000)")
    parser.add_argument("--batches", type=int, default=5, help="timed batches per subprocess, best counts (default 5)")
    parser.add_argument("--streams", type=int, default=200, help="concurrent streams per token run (default 200)")
    parser.add_argument("--bytecodes", action="store_true", help="also count bytecodes per sampled frame (slow)")
    parser.add_argument("--note", default="", help="a remark stored with the line (what changed, the box)")
    parser.add_argument("--history", type=Path, default=HISTORY, help="the JSON-lines file appended to")
    c.add_baseline_flags(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table and append one line to the history."""
    args = parse_args(argv)
    checkouts = [c.candidate(), *c.baselines(args)]
    machine = c.machine_info()
    values = measure(checkouts, args)
    loadavg_end = list(os.getloadavg())
    targets = {
        ch.label: {**ch.describe(), "metrics": {name: summarize(v) for name, v in values[ch.label].items()}}
        for ch in checkouts
    }
    record: dict[str, Any] = {
        "date": machine.pop("date"),
        "commit": machine.pop("git_commit"),
        "box": box_label(machine, loadavg_end),
        "note": args.note,
        "machine": {**machine, "loadavg_at_end": loadavg_end},
        "parameters": {k: getattr(args, k) for k in ("rounds", "requests", "batches", "streams", "bytecodes")},
        "candidate": checkouts[0].label,
        "targets": targets,
        "ratios": same_run_ratios(targets, checkouts[0].label),
    }
    record["vs_previous_line"] = versus_previous(record, previous_record(args.history, machine))
    append_line(args.history, record)
    print_record(record)
    print(f"\nappended one line to {c.shown(args.history)}")
    return 0


def print_record(record: dict[str, Any]) -> None:
    """Best and median per metric and checkout, then the same-run ratios and the hint against the last line."""
    rows = [
        [label, name, m["best"], m["median"], f"{m['spread_pct']}%"]
        for label, target in record["targets"].items()
        for name, m in target["metrics"].items()
    ]
    print(f"\n{record['commit'][:12]} on {record['machine']['cpu_model']} ({record['machine']['nproc']} cores), "
          f"box {record['box']} (load {record['machine']['loadavg_at_start'][0]:.1f})")  # fmt: skip
    c.print_table(["checkout", "metric", "best", "median", "spread"], rows)
    for label, by_metric in record["ratios"].items():
        print(f"\n{record['candidate']} ÷ {label} (same run; below 1: the candidate is cheaper)")
        c.print_table(["metric", "best", "median"], [[n, r["best"], r["median"]] for n, r in by_metric.items()])
    previous = record["vs_previous_line"]
    if previous:
        print(f"\n÷ the previous line ({previous['commit'][:12]}, {previous['date']}, {previous['box']} box; "
              "another run, a hint only)")  # fmt: skip
        c.print_table(["metric", "best"], list(previous["best"].items()))


if __name__ == "__main__":
    sys.exit(main())

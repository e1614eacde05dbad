"""In-process cost of admission (chaos, circuit breaker, rate limits) per request.

Drives the ASGI app without HTTP: the same non-streamed chat request (latency off) N times
per configuration, best of R rounds, in µs per request. The baseline in the same run is the
app with everything off, and (``--baseline-src DIR``) the same request through another
checkout's ``src`` (say the commit before admission existed), run in a subprocess:

    git worktree add /tmp/base <commit> && python bench/admission.py --baseline-src /tmp/base/src
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from typing import Any

from _common import chat_scope, git_commit, machine_info, print_table, write_results

BODY = (
    b'{"model":"gpt-4.1","messages":[{"role":"user","content":"Say something."}],'
    b'"max_tokens":40,"ignore_eos":true,"seed":1}'
)

CONFIGS: dict[str, dict[str, Any]] = {
    "everything off": {},
    "chaos on, rule not matching": {
        "chaos.enabled": True,
        "chaos.rules": [{"error_type": "server_error", "models": ["claude*"]}],
    },
    "chaos on, latency-only rule firing": {"chaos.enabled": True, "chaos.rules": [{"latency_multiplier": 1.0001}]},
    "circuit breaker": {"chaos.circuit_breaker": {"enabled": True}},
    "rate limits (rpm + tpm)": {
        "rate_limits.enabled": True,
        "rate_limits.tiers": [{"requests_per_minute": 10**9, "tokens_per_minute": 10**12}],
    },
}


async def _measure(flags: dict[str, Any], requests: int, rounds: int) -> float:
    """Best-of-``rounds`` µs per request for ``requests`` sequential requests."""
    from llm_simulator.config import load_config
    from llm_simulator.server.app import SimulatorApp

    app = SimulatorApp(load_config(flags={"latency.enabled": False, **flags}))
    # As the server's app factory does: the long-lived heap leaves the collector's view.
    gc.collect()
    gc.freeze()
    scope = chat_scope()
    message = {"type": "http.request", "body": BODY, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(_: dict[str, Any]) -> None:
        return None

    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            await app(scope, receive, send)  # type: ignore[arg-type]
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


def _child(flags_json: str, requests: int, rounds: int) -> None:
    print(asyncio.run(_measure(json.loads(flags_json), requests, rounds)))


def main() -> None:
    """Run every configuration (and the baseline checkout) and write ``results/admission.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-src", help="another checkout's src directory to measure the same request with")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.requests, args.rounds)
        return

    def run(flags: dict[str, Any], src: str | None = None) -> float:
        env_path = [src] if src else []
        argv = [
            "admission.py",
            "--child",
            json.dumps(flags),
            "--requests",
            str(args.requests),
            "--rounds",
            str(args.rounds),
        ]
        code = f"import sys; sys.path[:0] = {env_path!r}; sys.argv = {argv!r}; import admission; admission.main()"
        out = subprocess.run([sys.executable, "-c", code], cwd=sys.path[0], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    results: dict[str, float] = {}
    if args.baseline_src:
        results["baseline checkout, everything off"] = run({}, args.baseline_src)
    for name, flags in CONFIGS.items():
        results[name] = run(flags)
    base = results["everything off"]
    rows = [(name, f"{us:.1f}", f"{us - base:+.1f}") for name, us in results.items()]
    print_table(["configuration", "µs/request", "vs everything off"], rows)
    write_results(
        "admission",
        {
            "machine": machine_info(),
            "commit": git_commit(),
            "parameters": {"requests": args.requests, "rounds": args.rounds, "baseline_src": args.baseline_src},
            "us_per_request": results,
        },
    )


if __name__ == "__main__":
    main()

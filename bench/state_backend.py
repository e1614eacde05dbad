"""Cost of the Redis state backend: per-request overhead in process, and fleet throughput.

In one run, against one throwaway ``redis-server`` on a free 127.0.0.1 port:

1. **Overhead in process.** The ASGI app driven without HTTP (as ``admission.py`` does):
   the same non-streamed chat request (latency off) N times, best of R rounds, µs per
   request, for rate limits off, rate limits on with the memory backend and rate limits on
   with Redis. The difference is what one Lua ``EVALSHA`` round trip (plus the settlement
   of the output estimate) adds to each request.
2. **Throughput over HTTP.** ``wrk`` against four set-ups, rate limits on (a tier too large
   to refuse anything): one ``serve --workers 2`` with memory, the same with Redis, two
   replicas (two ``serve`` processes on their own ports) with memory, and two with Redis.
   Each set-up is driven by two ``wrk -t1`` processes at once (one per replica, or both at
   the one port), rounds interleaved so drift on a shared box hits all alike; req/s are
   medians over rounds, and the Redis/memory ratios are medians of per-round ratios.

Writes ``bench/results/state_backend.json``. Needs ``redis-server`` (``scripts/system-packages.sh``),
``wrk`` and the ``redis`` extra. ``--quick``: 1 round × 3 s, fewer in-process requests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

BODY = b'{"model":"gpt-4.1","messages":[{"role":"user","content":"Say something."}],"max_tokens":40,"seed":1}'
TIER = {"requests_per_minute": 10**9, "tokens_per_minute": 10**12}
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  io.write(string.format('\\nWRK_JSON {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, summary.errors.status, latency:percentile(99)))
end
"""


def start_redis(workdir: Path) -> tuple[c.Server, str]:
    """A throwaway redis-server (no persistence) and its URL."""
    port = c.free_port()
    argv = [c.tool_path("redis-server"), "--port", str(port), "--bind", c.HOST, "--save", "", "--appendonly", "no"]
    server = c.start_process("redis", [*argv, "--dir", str(workdir)], port, workdir)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = subprocess.run(
            [c.tool_path("redis-cli"), "-p", str(port), "ping"], capture_output=True, text=True, check=False
        )
        if probe.stdout.strip() == "PONG":
            return server, f"redis://{c.HOST}:{port}/0"
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("redis-server did not start")


# -- 1. in process ------------------------------------------------------------------------------


async def _per_request_us(flags: dict[str, Any], requests: int, rounds: int) -> tuple[float, float]:
    """Best-of-``rounds`` wall and CPU µs per request for ``requests`` sequential requests.

    Wall time includes waiting for Redis's answer (its process scheduled on the same
    cores); CPU time is this process's own work.
    """
    from llm_simulator.config import load_config
    from llm_simulator.server.app import SimulatorApp

    app = SimulatorApp(load_config(flags={"latency.enabled": False, **flags}))
    gc.collect()
    gc.freeze()
    scope = c.chat_scope()
    message = {"type": "http.request", "body": BODY, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(event: dict[str, Any]) -> None:
        if event["type"] == "http.response.start":
            statuses.append(event["status"])

    best = best_cpu = float("inf")
    try:
        for _ in range(rounds):
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(requests):
                await app(scope, receive, send)  # type: ignore[arg-type]
            best = min(best, (time.perf_counter() - started) / requests * 1e6)
            best_cpu = min(best_cpu, (time.process_time() - cpu) / requests * 1e6)
    finally:
        await app.sim.state.aclose()
    if set(statuses) != {200}:
        raise RuntimeError(f"unexpected statuses in process: {sorted(set(statuses))}")
    return best, best_cpu


def in_process(redis_url: str, requests: int, rounds: int) -> dict[str, dict[str, float]]:
    """Wall and CPU µs per request: rate limits off, on in memory, on in Redis."""
    limits = {"rate_limits.enabled": True, "rate_limits.tiers": [TIER]}
    configs = {
        "rate limits off": {},
        "rate limits on, memory": limits,
        "rate limits on, redis": {**limits, "state.url": redis_url},
    }
    out = {}
    for name, flags in configs.items():
        wall, cpu = asyncio.run(_per_request_us(flags, requests, rounds))
        out[name] = {"wall_us": round(wall, 1), "cpu_us": round(cpu, 1)}
    return out


# -- 2. over HTTP -------------------------------------------------------------------------------


def _config_file(workdir: Path, redis_url: str | None) -> Path:
    config: dict[str, Any] = {"latency": {"enabled": False}, "rate_limits": {"enabled": True, "tiers": [TIER]}}
    if redis_url is not None:
        config["state"] = {"url": redis_url}
    path = workdir / f"config-{'redis' if redis_url else 'memory'}.json"
    path.write_text(json.dumps(config))
    return path


def start_setups(workdir: Path, redis_url: str) -> dict[str, list[c.Server]]:
    """The four set-ups, every process started and answering."""
    setups: dict[str, list[c.Server]] = {}
    for backend, url in (("memory", None), ("redis", redis_url)):
        config = str(_config_file(workdir, url))
        port = c.free_port()
        argv = c.simulator_argv(port, "--config", config, "--workers", "2")
        setups[f"2 workers, {backend}"] = [c.start_process(f"workers-{backend}", argv, port, workdir)]
        replicas = []
        for i in range(2):
            port = c.free_port()
            argv = c.simulator_argv(port, "--config", config)
            replicas.append(c.start_process(f"replica{i}-{backend}", argv, port, workdir))
        setups[f"2 replicas, {backend}"] = replicas
    for servers in setups.values():
        for server in servers:
            c.wait_http(server, "/health", timeout=60)
    return setups


def drive(servers: list[c.Server], lua: Path, seconds: int, connections: int) -> dict[str, float]:
    """Two ``wrk -t1`` at once (one per server, or both at the one server); summed req/s."""
    ports = [s.port for s in servers] * (2 // len(servers))

    def one(port: int) -> dict[str, Any]:
        argv = [c.tool_path("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(lua)]
        out = subprocess.run(
            [*argv, f"http://{c.HOST}:{port}/v1/chat/completions"],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
        parsed: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
        return parsed

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(one, ports))
    non2xx = sum(r["non2xx"] for r in runs)
    if non2xx:
        raise RuntimeError(f"{non2xx} non-2xx answers: the comparison would be unfair")
    return {
        "req_per_s": round(sum(r["requests"] / (r["duration_us"] / 1e6) for r in runs), 1),
        "p99_ms": max(r["p99_us"] for r in runs) / 1000,
    }


def over_http(workdir: Path, redis_url: str, rounds: int, seconds: int, connections: int) -> dict[str, Any]:
    """Interleaved rounds over the four set-ups; medians and Redis/memory ratios."""
    lua = workdir / "post.lua"
    lua.write_text(LUA % BODY.decode())
    setups = start_setups(workdir, redis_url)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in setups}
    try:
        names = list(setups)
        for round_no in range(rounds):
            for name in names[round_no % len(names) :] + names[: round_no % len(names)]:
                drive(setups[name], lua, 1, connections)  # warm-up
                runs[name].append(drive(setups[name], lua, seconds, connections))
    finally:
        for servers in setups.values():
            for server in servers:
                server.stop()
    summary = {
        name: {
            "req_per_s": statistics.median(r["req_per_s"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
        }
        for name, results in runs.items()
    }
    ratios = {
        shape: round(
            statistics.median(
                redis["req_per_s"] / memory["req_per_s"]
                for redis, memory in zip(runs[f"{shape}, redis"], runs[f"{shape}, memory"], strict=True)
            ),
            3,
        )
        for shape in ("2 workers", "2 replicas")
    }
    return {"summary": summary, "redis_over_memory": ratios, "runs": runs}


def main() -> None:
    """Run both parts and write ``results/state_backend.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000, help="in-process requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16, help="connections per wrk process")
    parser.add_argument("--quick", action="store_true", help="1 round × 3 s, 1000 in-process requests")
    parser.add_argument("--output", default="state_backend")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds, args.duration = 1000, 1, 3
    c.ensure_tools("wrk", "redis-server")  # redis-cli comes with it (redis-tools)
    workdir = Path(tempfile.mkdtemp(prefix="bench-state-"))
    redis, url = start_redis(workdir)
    try:
        process = in_process(url, args.requests, max(3, args.rounds))
        c.print_table(
            ["in process", "wall µs/request", "CPU µs/request"],
            [(name, v["wall_us"], v["cpu_us"]) for name, v in process.items()],
        )
        http = over_http(workdir, url, args.rounds, args.duration, args.connections)
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    c.print_table(
        ["over HTTP", "req/s", "p99 ms"], [(n, s["req_per_s"], s["p99_ms"]) for n, s in http["summary"].items()]
    )
    print("redis / memory throughput:", http["redis_over_memory"])
    redis_cost, memory_cost = process["rate limits on, redis"], process["rate limits on, memory"]
    overhead = {key: round(redis_cost[key] - memory_cost[key], 1) for key in ("wall_us", "cpu_us")}
    print(f"redis overhead per request in process: {overhead['wall_us']} µs wall, {overhead['cpu_us']} µs CPU")
    payload = {
        "benchmark": "state_backend",
        "machine": c.machine_info(),
        "commit": c.git_commit(),
        "parameters": vars(args),
        "in_process_us_per_request": process,
        "redis_overhead_per_request": overhead,
        "http": http,
    }
    print("wrote", c.shown(c.write_results(args.output, payload)))


if __name__ == "__main__":
    main()

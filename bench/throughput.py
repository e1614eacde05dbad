"""Benchmark (a): non-streamed chat-completion throughput against an nginx baseline.

What it does, in one run:

1. starts ``llm-simulator serve --no-latency`` (granian, 1 worker) on a free 127.0.0.1 port;
2. asks it for one response and writes a JSON file of *exactly the same byte size* (a real
   response body) into a temporary nginx root;
3. starts nginx (``daemon off``, 1 worker, temporary config and prefix) serving that file;
4. optionally starts the simulator under uvicorn as a second comparison point;
5. drives each target with ``wrk`` (a small Lua script POSTs the same JSON request body to
   every target; nginx answers POSTs to the static file via ``error_page 405 =200``),
   interleaving targets for ``--rounds`` rounds so slow drift on a shared box hits all of
   them alike, after a short warm-up per target;
6. reports req/s and latency p50/p99 (medians over rounds), the simulator/nginx ratio, and
   writes ``bench/results/throughput.json``.

The load generator shares the machine with the server (2 cores in the reference runs), so
``wrk -t1`` is the default: one core for wrk, the rest for the server under test.

Every run is bounded: wrk stops after ``--duration`` seconds (and is killed if it overruns),
and every server started here is stopped on exit.

Usage::

    python bench/throughput.py            # 3 rounds × 10 s per target
    python bench/throughput.py --quick    # 1 round × 3 s, no uvicorn
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

ENDPOINT = "/v1/chat/completions"
STATIC_PATH = "/chat.json"

# wrk Lua: POST a fixed body; at the end print one JSON line with the summary we need.
LUA_TEMPLATE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = [==[{body}]==]

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nWRK_JSON {{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

NGINX_CONF = """
daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      root {prefix}/www;
      default_type application/json;
      # The static module refuses POST (405); serve the file anyway, as a GET would.
      error_page 405 =200 $uri;
    }}
  }}
}}
"""


@dataclass
class Target:
    """One server under test."""

    name: str
    port: int
    path: str
    pid: int


@dataclass
class WrkResult:
    """One wrk run, converted to friendly units."""

    target: str
    round: int
    requests: int
    duration_s: float
    req_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    errors: dict[str, int]
    server_cpu_pct: float = 0.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1 round × 3 s, no uvicorn")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per target and round (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--max-tokens", type=int, default=40, help="completion tokens per response (default 40)")
    parser.add_argument("--nginx-workers", type=int, default=1, help="nginx worker processes (default 1)")
    parser.add_argument("--no-uvicorn", action="store_true", help="skip the uvicorn comparison")
    parser.add_argument(
        "--baseline-src",
        help="another checkout's src directory (the previous version) to measure in the same run",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds, args.no_uvicorn = 3, 1, 1, True
    return args


def request_body(max_tokens: int) -> bytes:
    """The request every wrk connection sends: fixed seed → same-sized answers."""
    payload = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Write a short paragraph about load testing."},
        ],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "seed": 42,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def sample_response(port: int, body: bytes) -> bytes:
    """One simulator response body; checks that repeated answers have the same size."""
    first = c.http_post(port, ENDPOINT, body)
    second = c.http_post(port, ENDPOINT, body)
    if len(first) != len(second):
        print(f"warning: response size varies ({len(first)} vs {len(second)} bytes)", file=sys.stderr)
    return first


def start_nginx(workdir: Path, content: bytes, workers: int) -> c.Server:
    """nginx in the foreground with a throwaway prefix serving ``content`` at STATIC_PATH."""
    prefix = workdir / "nginx"
    (prefix / "www").mkdir(parents=True)
    (prefix / "www" / STATIC_PATH.lstrip("/")).write_bytes(content)
    port = c.free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, prefix=prefix, port=port))
    argv = [c.tool_path("nginx"), "-p", str(prefix), "-c", str(conf)]
    return c.start_process("nginx", argv, port, workdir)


def run_wrk(target: Target, lua: Path, args: argparse.Namespace, seconds: int, round_no: int) -> WrkResult:
    """One bounded wrk run against ``target``."""
    argv = [
        c.tool_path("wrk"),
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(lua),
        f"http://{c.HOST}:{target.port}{target.path}",
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    raw: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    duration_s = raw["duration_us"] / 1e6
    return WrkResult(
        target=target.name,
        round=round_no,
        requests=raw["requests"],
        duration_s=round(duration_s, 3),
        req_per_s=round(raw["requests"] / duration_s, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
        errors={k.removeprefix("err_"): v for k, v in raw.items() if k.startswith("err_")},
    )


def summarize(runs: list[WrkResult]) -> dict[str, Any]:
    """Median of each metric over the rounds of one target, plus total errors."""
    return {
        "req_per_s": round(statistics.median(r.req_per_s for r in runs), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 3),
        "p90_ms": round(statistics.median(r.p90_ms for r in runs), 3),
        "p99_ms": round(statistics.median(r.p99_ms for r in runs), 3),
        "server_cpu_pct": round(statistics.median(r.server_cpu_pct for r in runs), 1),
        "errors": sum(sum(r.errors.values()) for r in runs),
        "rounds": len(runs),
    }


def measure(targets: list[Target], lua: Path, args: argparse.Namespace) -> list[WrkResult]:
    """Interleaved rounds: every target once per round, each after its own warm-up."""
    results: list[WrkResult] = []
    for round_no in range(1, args.rounds + 1):
        for target in targets:
            if args.warmup > 0:
                run_wrk(target, lua, args, args.warmup, 0)
            tree = c.process_tree(target.pid)
            cpu0 = c.cpu_seconds(tree)
            result = run_wrk(target, lua, args, args.duration, round_no)
            result.server_cpu_pct = round((c.cpu_seconds(tree) - cpu0) / result.duration_s * 100, 1)
            print(
                f"round {round_no} {target.name:>17}: {result.req_per_s:>9,.0f} req/s  "
                f"p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms  server CPU {result.server_cpu_pct}%  "
                f"errors {sum(result.errors.values())}",
                flush=True,
            )
            results.append(result)
    return results


def verify_target(target: Target, body: bytes, expected_size: int) -> int:
    """Size of the answer ``target`` gives to the benchmark request (must match)."""
    size = len(c.http_post(target.port, target.path, body))
    if size != expected_size:
        print(f"warning: {target.name} answers {size} bytes, expected {expected_size}", file=sys.stderr)
    return size


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON results."""
    args = parse_args(argv)
    c.ensure_tools("wrk", "nginx")
    c.raise_fd_limit()
    info = c.machine_info()
    body = request_body(args.max_tokens)
    with tempfile.TemporaryDirectory(prefix="llmsim-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # nginx workers run unprivileged and must read the root
        lua = workdir / "post.lua"
        lua.write_text(LUA_TEMPLATE.format(body=body.decode()))
        port = c.free_port()
        granian = c.start_process("simulator-granian", c.simulator_argv(port, "--no-latency"), port, workdir)
        servers = [granian]
        try:
            c.wait_http(granian, "/health")
            sample = sample_response(granian.port, body)
            nginx = start_nginx(workdir, sample, args.nginx_workers)
            servers.append(nginx)
            c.wait_http(nginx, STATIC_PATH)
            targets = [
                Target("simulator-granian", granian.port, ENDPOINT, granian.pid),
                Target("nginx-static", nginx.port, STATIC_PATH, nginx.pid),
            ]
            if args.baseline_src:
                port = c.free_port()
                argv = c.baseline_argv(port, "--no-latency")
                baseline = c.start_process("simulator-baseline", argv, port, workdir, c.baseline_env(args.baseline_src))
                servers.append(baseline)
                c.wait_http(baseline, "/health")
                targets.append(Target("simulator-baseline", baseline.port, ENDPOINT, baseline.pid))
            if not args.no_uvicorn:
                port = c.free_port()
                argv = c.simulator_argv(port, "--no-latency", server="uvicorn")
                uvicorn = c.start_process("simulator-uvicorn", argv, port, workdir)
                servers.append(uvicorn)
                c.wait_http(uvicorn, "/health")
                targets.append(Target("simulator-uvicorn", uvicorn.port, ENDPOINT, uvicorn.pid))
            sizes = {t.name: verify_target(t, body, len(sample)) for t in targets}
            runs = measure(targets, lua, args)
        finally:
            for server in reversed(servers):
                server.stop()

    summary = {t.name: summarize([r for r in runs if r.target == t.name]) for t in targets}
    nginx_rps = summary["nginx-static"]["req_per_s"]
    for row in summary.values():
        row["ratio_vs_nginx"] = round(row["req_per_s"] / nginx_rps, 3) if nginx_rps else None
    sim = summary["simulator-granian"]
    if "simulator-baseline" in summary:
        base_rps = summary["simulator-baseline"]["req_per_s"]
        sim["ratio_vs_baseline"] = round(sim["req_per_s"] / base_rps, 3) if base_rps else None
    targets_check = {
        "req_per_s >= 15000": sim["req_per_s"] >= 15000,
        "ratio_vs_nginx >= 0.25": (sim["ratio_vs_nginx"] or 0) >= 0.25,
        "p99_ms < 10": sim["p99_ms"] < 10,
    }
    payload = {
        "benchmark": "throughput",
        "machine": info,
        "tools": {"wrk": c.tool_version(["wrk", "-v"]), "nginx": c.tool_version([c.tool_path("nginx"), "-v"])},
        "parameters": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "wrk_threads": args.threads,
            "wrk_connections": args.connections,
            "max_tokens": args.max_tokens,
            "nginx_workers": args.nginx_workers,
            "simulator_workers": 1,
            "request_body_bytes": len(body),
            "response_body_bytes": sizes,
            "quick": args.quick,
            "baseline": {"src": args.baseline_src, "commit": c.git_commit_of(args.baseline_src)}
            if args.baseline_src
            else None,
        },
        "summary": summary,
        "targets_met": targets_check,
        "runs": [asdict(r) for r in runs],
    }
    path = c.write_results("throughput", payload)
    print_summary(summary, targets_check)
    print(f"\nresults written to {c.shown(path)}")
    return 0


def print_summary(summary: dict[str, dict[str, Any]], checks: dict[str, bool]) -> None:
    """The human-readable table."""
    rows = [
        [name, s["req_per_s"], s["p50_ms"], s["p99_ms"], s["ratio_vs_nginx"], s["server_cpu_pct"], s["errors"]]
        for name, s in summary.items()
    ]
    print()
    c.print_table(["target", "req/s", "p50 ms", "p99 ms", "× nginx", "srv CPU%", "errors"], rows)
    print()
    for name, ok in checks.items():
        print(f"  {'MET ' if ok else 'MISS'}  simulator-granian {name}")


if __name__ == "__main__":
    sys.exit(main())

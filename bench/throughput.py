"""Benchmark (a): non-streamed chat-completion throughput against an nginx baseline.

What it does, in one run:

1. starts ``llm-simulator serve --no-latency`` (granian, 1 worker) on a free 127.0.0.1 port;
2. asks it for one response and writes a JSON file of *exactly the same byte size* (a real
   response body) into a temporary nginx root;
3. starts nginx (``daemon off``, 1 worker, temporary config and prefix) serving that file;
4. optionally starts more targets answering the same request with the same number of bytes:
   the simulator from other checkouts' ``src`` (``--baseline-src DIR`` / ``--baseline
   LABEL=DIR``, repeatable: same interpreter, flags and worker count), the peer mock aimock
   (``--aimock``, installed on demand with npm, see ``_aimock.py``) and the simulator under
   uvicorn;
5. drives each target with ``wrk`` (a small Lua script POSTs the same JSON request body to
   every target; nginx answers POSTs to the static file via ``error_page 405 =200``),
   interleaving targets for ``--rounds`` rounds (the order rotated by one each round) so
   slow drift on a shared box hits all of them alike, after a short warm-up per target;
6. reports req/s, latency p50/p99 and server CPU µs per request (medians over rounds), every
   target's ratio to nginx, the candidate's ratios to every baseline and to aimock (medians
   of the per-round ratios), and writes ``bench/results/throughput.json`` with the
   targets compared (label, kind, src, commit or version).

The load generator shares the machine with the server (2 cores in the reference runs), so
``wrk -t1`` is the default: one core for wrk, the rest for the server under test.

``--workers 1 2`` (scaling with cores, issue 22 item 4) measures the simulator with each
``--workers N`` against nginx with N worker processes, in the same interleaved rounds (the
targets of N ≠ 1 are named ``…-wN``; baselines run at every N, aimock and uvicorn once), and
reports per N the req/s, the per-worker efficiency (req/s ÷ N, and req/s ÷ (N × the
one-worker req/s)) and the same-round ratio to nginx at the same N. On a box with as many
cores as workers the load generator competes with the workers for them: give wrk as many
threads as it needs to keep N workers busy (``--threads``) and read the result as the
scaling of the whole box, client included, not of the server alone.

Every run is bounded: wrk stops after ``--duration`` seconds (and is killed if it overruns),
and every server started here is stopped on exit.

Usage::

    python bench/throughput.py            # 3 rounds × 10 s per target
    python bench/throughput.py --quick    # 1 round × 3 s, no uvicorn
    python bench/throughput.py --baseline base=/work/wt-base --aimock   # A/B + the peer
    python bench/throughput.py --workers 1 2 --threads 2 --no-uvicorn  # scaling with cores
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _aimock
import _common as c

ENDPOINT = "/v1/chat/completions"
STATIC_PATH = "/chat.json"
CANDIDATE = "simulator-granian"
NGINX = "nginx-static"
FLOOR = "granian-floor"  # granian on a bare ASGI app answering the same bytes
USER_MESSAGE = "Write a short paragraph about load testing."

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
    kind: str = "simulator"  # simulator | nginx | aimock | floor
    about: dict[str, str] = field(default_factory=dict)  # src/commit or version
    workers: int = 1  # server worker processes (aimock: one node process)


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
    server_cpu_us_per_req: float = 0.0


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
    parser.add_argument("--unseeded", action="store_true", help="send the request without its seed (fresh text each)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        metavar="N",
        help="simulator worker counts to measure, each against nginx with as many workers (default 1)",
    )
    parser.add_argument(
        "--nginx-workers", type=int, default=None, help="nginx worker processes (default: the simulator's count)"
    )
    parser.add_argument("--no-uvicorn", action="store_true", help="skip the uvicorn comparison")
    c.add_baseline_flags(parser)
    parser.add_argument("--aimock", action="store_true", help="add the peer mock aimock (npm, installed on demand)")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="add granian answering the same bytes from a bare ASGI app (_json_floor.py)",
    )
    parser.add_argument("--aimock-version", default=_aimock.DEFAULT_VERSION, help="aimock's version (%(default)s)")
    parser.add_argument("--output", default="throughput", help="results file (a path or a name in results/)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds, args.no_uvicorn = 3, 1, 1, True
    if min(args.workers) < 1 or len(set(args.workers)) != len(args.workers):
        parser.error("--workers: distinct counts of at least 1")
    if args.nginx_workers is not None and len(args.workers) > 1:
        parser.error("--nginx-workers: only with one --workers count (nginx gets N workers by default)")
    return args


def named(base: str, workers: int) -> str:
    """A target's name at a worker count: the plain name for one worker, ``<base>-w<N>`` otherwise."""
    return base if workers == 1 else f"{base}-w{workers}"


def request_body(max_tokens: int, unseeded: bool = False) -> bytes:
    """The request every wrk connection sends: fixed seed → same-sized answers (``unseeded``: no seed)."""
    payload: dict[str, object] = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": USER_MESSAGE},
        ],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "seed": 42,
    }
    if unseeded:  # fresh text for every request, as most load tests send (sizes then vary a little)
        del payload["seed"]
    return json.dumps(payload, separators=(",", ":")).encode()


def sample_response(port: int, body: bytes) -> bytes:
    """One simulator response body; checks that repeated answers have the same size."""
    first = c.http_post(port, ENDPOINT, body)
    second = c.http_post(port, ENDPOINT, body)
    if len(first) != len(second):
        print(f"warning: response size varies ({len(first)} vs {len(second)} bytes)", file=sys.stderr)
    return first


def start_nginx(workdir: Path, content: bytes, workers: int) -> c.Server:
    """nginx in the foreground with a throwaway prefix (``workdir/nginx``) serving ``content`` at STATIC_PATH."""
    prefix = workdir / "nginx"
    (prefix / "www").mkdir(parents=True)
    (prefix / "www" / STATIC_PATH.lstrip("/")).write_bytes(content)
    port = c.free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, prefix=prefix, port=port))
    argv = [c.tool_path("nginx"), "-p", str(prefix), "-c", str(conf)]
    return c.start_process(workdir.name, argv, port, workdir)


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
        "server_cpu_us_per_req": round(statistics.median(r.server_cpu_us_per_req for r in runs), 1),
        "errors": sum(sum(r.errors.values()) for r in runs),
        "rounds": len(runs),
    }


# The metrics whose candidate ÷ other ratio is reported.
RATIO_METRICS = ("req_per_s", "server_cpu_us_per_req", "p50_ms", "p99_ms")


def paired_ratios(runs: list[WrkResult], candidate: str, other: str) -> dict[str, float | None]:
    """Candidate ÷ other for each metric: the median over rounds of the same-round ratios.

    Pairing by round cancels drift that hits both targets of a round alike (the point of
    interleaving); with one round it is the plain ratio.
    """
    by_round = {(r.target, r.round): r for r in runs}
    rounds = sorted({r.round for r in runs if r.target == candidate})
    ratios: dict[str, float | None] = {}
    for metric in RATIO_METRICS:
        pairs = [
            getattr(by_round[(candidate, n)], metric) / getattr(by_round[(other, n)], metric)
            for n in rounds
            if (other, n) in by_round and getattr(by_round[(other, n)], metric)
        ]
        ratios[metric] = round(statistics.median(pairs), 3) if pairs else None
    return ratios


def own_cpu(runs: list[WrkResult], target: str, floor: str) -> dict[int, float]:
    """``target``'s CPU per request above the granian floor's, by round.

    The floor is granian serving the same bytes from a bare ASGI app; what a server spends
    beyond it is the server's own work per request (issue 22 defines "our own Python" this
    way). Subtracting within a round cancels drift that hits both alike; the floor's own
    number moves by ± 20 % between rounds on a shared box, which is why it is paired.
    """
    floors = {r.round: r.server_cpu_us_per_req for r in runs if r.target == floor}
    return {
        r.round: r.server_cpu_us_per_req - floors[r.round] for r in runs if r.target == target and r.round in floors
    }


def own_cpu_ratio(runs: list[WrkResult], candidate: str, other: str, floor: str) -> float | None:
    """Candidate ÷ other of the CPU per request above the floor: the median of same-round ratios."""
    ours, theirs = own_cpu(runs, candidate, floor), own_cpu(runs, other, floor)
    pairs = [mine / theirs[n] for n, mine in ours.items() if theirs.get(n, 0) > 0]
    return round(statistics.median(pairs), 3) if pairs else None


def measure(targets: list[Target], lua: Path, args: argparse.Namespace) -> list[WrkResult]:
    """Interleaved rounds: every target once per round, each after its own warm-up.

    The order is rotated by one each round, so no target always runs first (after an idle
    spell) or always follows the same neighbour.
    """
    results: list[WrkResult] = []
    for round_no in range(1, args.rounds + 1):
        shift = (round_no - 1) % len(targets)
        for target in targets[shift:] + targets[:shift]:
            if args.warmup > 0:
                run_wrk(target, lua, args, args.warmup, 0)
            tree = c.process_tree(target.pid)
            cpu0 = c.cpu_seconds(tree)
            result = run_wrk(target, lua, args, args.duration, round_no)
            cpu = c.cpu_seconds(tree) - cpu0
            result.server_cpu_pct = round(cpu / result.duration_s * 100, 1)
            result.server_cpu_us_per_req = round(cpu / result.requests * 1e6, 1) if result.requests else 0.0
            print(
                f"round {round_no} {target.name:>17}: {result.req_per_s:>9,.0f} req/s  "
                f"p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms  server CPU {result.server_cpu_pct}% "
                f"({result.server_cpu_us_per_req:.0f} µs/req)  errors {sum(result.errors.values())}",
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


def answer_text(sample: bytes) -> str:
    """The assistant text of a chat-completion body."""
    text: str = json.loads(sample)["choices"][0]["message"]["content"]
    return text


class Launcher:
    """Starts the targets of one run; remembers every server so all are stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.servers: list[c.Server] = []

    def add(self, start: Callable[[], c.Server], ready: str) -> c.Server:
        """Start one server, keep it for ``stop_all`` and wait until it answers ``ready``."""
        server = start()
        self.servers.append(server)
        c.wait_http(server, ready)
        return server

    def simulator(self, checkout: c.Checkout, name: str, server: str = "granian", workers: int = 1) -> Target:
        """A simulator target run from ``checkout`` with latency off and ``workers`` worker processes."""
        port = c.free_port()
        # One worker is the default of every version: the flag is left out, as older runs did.
        extra = ("--no-latency",) if workers == 1 else ("--no-latency", "--workers", str(workers))
        started = self.add(lambda: checkout.start(name, port, self.workdir, *extra, server=server), "/health")
        about = {**checkout.describe(), "server": server}
        return Target(name, started.port, ENDPOINT, started.pid, "simulator", about, workers)

    def nginx(self, sample: bytes, pair: int, workers: int) -> Target:
        """nginx with ``workers`` worker processes serving ``sample``: the reference for ``pair`` simulator workers."""
        name = named(NGINX, pair)
        started = self.add(lambda: start_nginx(self.workdir / name, sample, workers), STATIC_PATH)
        return Target(name, started.port, STATIC_PATH, started.pid, "nginx", {"nginx_workers": str(workers)}, pair)

    def floor(self, sample: bytes) -> Target:
        """granian (the simulator's flags, one worker) answering ``sample`` from ``_json_floor.app``."""
        port = c.free_port()
        answer = self.workdir / "floor-answer.json"
        answer.write_bytes(sample)
        env = {"FLOOR_BODY_FILE": str(answer)}
        started = self.add(lambda: c.start_bare_app(FLOOR, "_json_floor:app", port, self.workdir, env=env), "/health")
        return Target(FLOOR, started.port, ENDPOINT, started.pid, "floor", {"app": "bench/_json_floor.py"})

    def stop_all(self) -> None:
        """Stop every server started, newest first."""
        for server in reversed(self.servers):
            server.stop()


def aimock_target(launcher: Launcher, args: argparse.Namespace, body: bytes, sample: bytes) -> Target | None:
    """The aimock target, or None (with the reason printed) when it cannot run here."""
    try:
        cli = _aimock.install(args.aimock_version)
        server = _aimock.start_sized(cli, launcher.workdir, USER_MESSAGE, answer_text(sample), body, len(sample))
    except _aimock.Unavailable as exc:
        print(f"skipping aimock: {exc}", file=sys.stderr)
        return None
    launcher.servers.append(server)
    about = {"package": _aimock.PACKAGE, "version": _aimock.version_of(cli)}
    return Target("aimock", server.port, ENDPOINT, server.pid, "aimock", about)


def start_targets(launcher: Launcher, args: argparse.Namespace, body: bytes) -> tuple[list[Target], bytes]:
    """Every target of the run, in measuring order, and the candidate's sample answer.

    Per worker count N: the candidate and every baseline with ``--workers N`` and nginx with
    N workers (or ``--nginx-workers``); then aimock and uvicorn once, at the first N.
    """
    first = args.workers[0]
    this = launcher.simulator(c.candidate(), named(CANDIDATE, first), workers=first)
    sample = sample_response(this.port, body)
    targets: list[Target] = []
    for workers in args.workers:
        if workers != first:
            this = launcher.simulator(c.candidate(), named(CANDIDATE, workers), workers=workers)
        targets += [this, launcher.nginx(sample, workers, args.nginx_workers or workers)]
        targets += [launcher.simulator(b, named(b.label, workers), workers=workers) for b in args.checkouts]
    if args.aimock and (peer := aimock_target(launcher, args, body, sample)) is not None:
        targets.append(peer)
    if args.floor:
        targets.append(launcher.floor(sample))
    if not args.no_uvicorn:
        targets.append(launcher.simulator(c.candidate(), named("simulator-uvicorn", first), "uvicorn", first))
    return targets, sample


def build_summary(targets: list[Target], runs: list[WrkResult], first: int) -> dict[str, dict[str, Any]]:
    """Per-target medians, each target's ratio to nginx and the candidate's ratios to the rest.

    A target's nginx is the one with its worker count (the first count's for aimock and any
    count without one); the candidate of the first worker count is compared with every
    simulator and aimock target of that count.
    """
    summary = {t.name: summarize([r for r in runs if r.target == t.name]) for t in targets}
    nginx_by_workers = {t.workers: t.name for t in targets if t.kind == "nginx"}
    for t in targets:
        nginx_rps = summary[nginx_by_workers.get(t.workers, nginx_by_workers[first])]["req_per_s"]
        row = summary[t.name]
        row["workers"] = t.workers
        row["ratio_vs_nginx"] = round(row["req_per_s"] / nginx_rps, 3) if nginx_rps else None
    candidate = named(CANDIDATE, first)
    others = [
        t.name
        for t in targets
        if t.kind in ("simulator", "aimock", "floor") and t.name != candidate and t.workers == first
    ]
    summary[candidate]["vs"] = {name: paired_ratios(runs, candidate, name) for name in others}
    floor = next((t.name for t in targets if t.kind == "floor"), None)
    if floor is not None:
        for t in targets:
            # aimock is not served by granian: the floor says nothing of its own work.
            above = own_cpu(runs, t.name, floor) if t.kind == "simulator" else {}
            if above:
                summary[t.name]["own_cpu_us_per_req"] = round(statistics.median(above.values()), 1)
        for name in others:
            if "own_cpu_us_per_req" in summary[name]:
                summary[candidate]["vs"][name]["own_cpu_us_per_req"] = own_cpu_ratio(runs, candidate, name, floor)
    return summary


def scaling(summary: dict[str, dict[str, Any]], runs: list[WrkResult], workers: list[int]) -> list[dict[str, Any]]:
    """Per worker count N: the candidate's and nginx's req/s, per worker, and against one worker and nginx.

    ``per_worker_efficiency`` is req/s(N) ÷ (N × req/s(1)) — 1.0 is perfect scaling — when
    one worker was measured in the same run; ``ratio_vs_nginx`` is the median of the
    same-round ratios to nginx with N workers.
    """
    rows = []
    for n in workers:
        sim, nginx = summary[named(CANDIDATE, n)], summary[named(NGINX, n)]
        row: dict[str, Any] = {
            "workers": n,
            "req_per_s": sim["req_per_s"],
            "req_per_s_per_worker": round(sim["req_per_s"] / n, 1),
            "server_cpu_pct": sim["server_cpu_pct"],
            "server_cpu_us_per_req": sim["server_cpu_us_per_req"],
            "nginx_req_per_s": nginx["req_per_s"],
            "nginx_req_per_s_per_worker": round(nginx["req_per_s"] / n, 1),
            "nginx_server_cpu_pct": nginx["server_cpu_pct"],
            "ratio_vs_nginx": paired_ratios(runs, named(CANDIDATE, n), named(NGINX, n))["req_per_s"],
        }
        if 1 in workers:
            row["per_worker_efficiency"] = _efficiency(sim["req_per_s"], summary[CANDIDATE]["req_per_s"], n)
            row["nginx_per_worker_efficiency"] = _efficiency(nginx["req_per_s"], summary[NGINX]["req_per_s"], n)
        rows.append(row)
    return rows


def _efficiency(rps: float, one_worker_rps: float, workers: int) -> float | None:
    """req/s with ``workers`` workers ÷ ``workers`` × the one-worker req/s (1.0: linear scaling)."""
    return round(rps / (workers * one_worker_rps), 3) if one_worker_rps else None


def check_targets(summary: dict[str, dict[str, Any]], first: int) -> dict[str, bool]:
    """The design targets for the candidate (issue 22's peer target when aimock ran)."""
    sim = summary[named(CANDIDATE, first)]
    checks = {
        "req_per_s >= 15000": sim["req_per_s"] >= 15000,
        "ratio_vs_nginx >= 0.25": (sim["ratio_vs_nginx"] or 0) >= 0.25,
        "p99_ms < 10": sim["p99_ms"] < 10,
    }
    if "aimock" in sim["vs"]:
        checks["req_per_s >= 1.25 x aimock"] = (sim["vs"]["aimock"]["req_per_s"] or 0) >= 1.25
    return checks


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON results."""
    args = parse_args(argv)
    args.checkouts = c.baselines(args)
    c.ensure_tools("wrk", "nginx")
    c.raise_fd_limit()
    info = c.machine_info()
    body = request_body(args.max_tokens, args.unseeded)
    with tempfile.TemporaryDirectory(prefix="llmsim-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # nginx workers run unprivileged and must read the root
        lua = workdir / "post.lua"
        lua.write_text(LUA_TEMPLATE.format(body=body.decode()))
        launcher = Launcher(workdir)
        try:
            targets, sample = start_targets(launcher, args, body)
            sizes = {t.name: verify_target(t, body, len(sample)) for t in targets}
            runs = measure(targets, lua, args)
        finally:
            launcher.stop_all()

    first = args.workers[0]
    summary = build_summary(targets, runs, first)
    checks = check_targets(summary, first)
    scale = scaling(summary, runs, args.workers) if len(args.workers) > 1 or first != 1 else None
    payload = {
        "benchmark": "throughput",
        "machine": info,
        "tools": {"wrk": c.tool_version(["wrk", "-v"]), "nginx": c.tool_version([c.tool_path("nginx"), "-v"])},
        "targets": [{"name": t.name, "kind": t.kind, "workers": t.workers, **t.about} for t in targets],
        "parameters": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "order": "rotated by one target each round",
            "wrk_threads": args.threads,
            "wrk_connections": args.connections,
            "max_tokens": args.max_tokens,
            "unseeded": args.unseeded,
            "nginx_workers": args.nginx_workers or "same as the simulator",
            "simulator_workers": args.workers if scale else 1,
            "request_body_bytes": len(body),
            "response_body_bytes": sizes,
            "quick": args.quick,
        },
        "summary": summary,
        **({"scaling": scale} if scale else {}),
        "targets_met": checks,
        "runs": [asdict(r) for r in runs],
    }
    path = c.write_results(args.output, payload)
    print_summary(summary, checks, named(CANDIDATE, first))
    if scale:
        print_scaling(scale, args.threads)
    print(f"\nresults written to {c.shown(path)}")
    return 0


def print_summary(summary: dict[str, dict[str, Any]], checks: dict[str, bool], candidate: str) -> None:
    """The human-readable tables: every target, then the candidate's ratios to the others."""
    rows = [
        [name, s["req_per_s"], s["p50_ms"], s["p99_ms"], s["ratio_vs_nginx"], s["server_cpu_pct"],
         s["server_cpu_us_per_req"], s["errors"]]
        for name, s in summary.items()
    ]  # fmt: skip
    print()
    c.print_table(["target", "req/s", "p50 ms", "p99 ms", "× nginx", "srv CPU%", "µs/req", "errors"], rows)
    versus = summary[candidate]["vs"]
    if versus:
        print(f"\n{candidate} ÷ other (median of same-round ratios; req/s > 1 and the rest < 1 favour the candidate)")
        ratio_rows = [[name, *(r[m] if r[m] is not None else "-" for m in RATIO_METRICS)] for name, r in versus.items()]
        c.print_table(["other", "req/s", "CPU µs/req", "p50", "p99"], ratio_rows)
    own = {name: s["own_cpu_us_per_req"] for name, s in summary.items() if "own_cpu_us_per_req" in s}
    if own:
        print("\nCPU per request above the granian floor (median of same-round differences), and the")
        print(f"{candidate} ÷ other of it (median of same-round ratios)")
        own_rows = [[name, value, versus.get(name, {}).get("own_cpu_us_per_req", "-")] for name, value in own.items()]
        c.print_table(["target", "own µs/req", f"{candidate} ÷ it"], own_rows)
    print()
    for name, ok in checks.items():
        print(f"  {'MET ' if ok else 'MISS'}  {candidate} {name}")


def print_scaling(rows: list[dict[str, Any]], threads: int) -> None:
    """The scaling table: the candidate and nginx per worker count."""
    print(f"\nscaling with workers (wrk -t{threads} on the same cores; efficiency = req/s ÷ (N × one-worker req/s))")
    table = [
        [r["workers"], r["req_per_s"], r["req_per_s_per_worker"], r.get("per_worker_efficiency", "-"),
         r["server_cpu_pct"], r["nginx_req_per_s"], r["nginx_req_per_s_per_worker"],
         r.get("nginx_per_worker_efficiency", "-"), r["ratio_vs_nginx"]]
        for r in rows
    ]  # fmt: skip
    c.print_table(
        ["N", "req/s", "req/s/N", "eff.", "srv CPU%", "nginx req/s", "nginx /N", "nginx eff.", "× nginx"], table
    )


if __name__ == "__main__":
    sys.exit(main())

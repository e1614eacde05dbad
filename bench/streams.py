"""Benchmark (b): timing accuracy of N concurrent SSE streams at a fixed inter-token latency.

The simulator is started (granian, 1 worker) with a config that adds a model ``bench-model``
whose latency profile is fixed: TTFT 20 ms, ITL 20 ms. For each N (100, 500, 1000) a lean
asyncio client opens N streams — one TCP connection per stream, HTTP/1.1, raw
``asyncio.Protocol`` (no HTTP library) — each asking for exactly 100 tokens
(``ignore_eos`` + ``max_tokens``). Stream starts are **staggered evenly over ``--stagger``
seconds (1 s by default)** so N connects do not hit the accept queue in the same
millisecond; a real client fleet ramps too, and the metric of interest is steady-state
pacing, not a connect storm.

The client records, per stream, when the request was written and the arrival time of every
content chunk (an SSE ``data:`` event whose delta carries ``content``; the role-only first
chunk, the finish chunk and ``[DONE]`` are not tokens). From those it reports:

* total tokens/s (all content tokens ÷ first request sent → last token received);
* mean ITL and the p99 of |ITL − target| over every consecutive pair of tokens;
* TTFT p50/p99 (request written → first content token);
* end lateness p99: last token's arrival − its ideal due time (send + TTFT + 99 × ITL);
* server CPU % (the process we started plus its children — granian's worker) and client CPU %
  (this process), from ``/proc/<pid>/stat`` utime + stime / ``getrusage``, over the run;
* the simulator's own ``emit_error`` histogram from ``GET /admin/stats`` (reset before each
  run): how late it *released* each token relative to its schedule, as the server sees it;
* the server's own TTFT p99 (``/admin/stats``, the bench model's row: from the request's
  arrival in the app to its first token's release): the client's TTFT minus it is the time
  before the app saw the request (connect, accept, granian's parse and hand-over);
* handshakes the kernel dropped at a full accept queue during the run (``listen_drops``,
  machine-wide ``TcpExt: ListenDrops``): the client retries them after 1, 3, 7 s…, so a
  server that accepts too slowly shows seconds of TTFT without any connect error.

Transport chunking is stripped by splitting the raw byte stream on the SSE event separator
(``\\n\\n``) and looking for ``data:`` inside each piece. The server writes each token's
event as it is due; events ready together (a stream's role chunk and first token, a late
engine stream's catch-up) share one HTTP chunk and are recorded with one arrival time, as
they would be if the socket had joined them.

Every stream has a deadline and the whole run is bounded; the server is always stopped.

``--provider anthropic|gemini`` streams the same tokens in Anthropic's named-event SSE or
Gemini's ``alt=sse`` format instead of OpenAI's (token events are recognised by
``text_delta`` / a ``parts`` text; Anthropic and Gemini streams are exactly ``--tokens``
long because the bench config fixes the natural output length far above it), so the
three wire formats can be compared on the same timing engine.

``--baseline LABEL=DIR`` / ``--baseline-src DIR`` (repeatable) start the simulator from other
checkouts' ``src`` as well (same interpreter, flags and config; older checkouts get the
config in the spelling they read) and measure them in the same runs: run k of each N
measures every target once, in an order rotated by k. The summary adds each baseline's
rows and the candidate ÷ baseline ratios per N (tok/s, server CPU µs per token, p99
|ITL error|, TTFT p99, end lateness p99).

``--aimock`` adds the peer mock aimock (npm ``@copilotkit/aimock``, installed on demand, see
``_aimock.py``) to the same interleaved runs: one fixture answers the bench prompt with
``--tokens`` text chunks paced by its ``streamingProfile`` (first text chunk at TTFT, then one
per ITL; aimock sleeps ITL after each write, so its lateness accumulates where the
simulator's absolute schedule does not). Its CPU is the node process's; it has no
``/admin/stats``, so its emit-error columns are empty. OpenAI wire format only.

Usage::

    python bench/streams.py            # N = 100, 500, 1000; 3 runs each
    python bench/streams.py --quick    # N = 100, 1000; 1 run each
    python bench/streams.py --quick --provider anthropic   # results in streams-anthropic.json
    python bench/streams.py --baseline base=/tmp/base      # A/B against another checkout
    python bench/streams.py --aimock --streams 200 1000    # against the peer mock, same runs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _aimock
import _common as c

MODEL = "bench-model"
PROFILE = "bench_fixed"
PROMPT = "Stream me a hundred tokens, please."


@dataclass(frozen=True)
class Wire:
    """How one provider's stream is requested and read: path, body, event separator, markers."""

    path: str
    body: Callable[[int], dict[str, Any]]
    separator: bytes
    content: bytes  # present in an event that carries a token
    done: bytes  # present in the event that ends the stream


WIRES: dict[str, Wire] = {
    "openai": Wire(
        "/v1/chat/completions",
        lambda tokens: {
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": True,
            "max_tokens": tokens,
            "ignore_eos": True,
        },
        b"\n\n",
        b'"delta":{"content":"',
        b"data: [DONE]",
    ),
    "anthropic": Wire(
        "/v1/messages",
        lambda tokens: {
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": True,
            "max_tokens": tokens,
        },
        b"\n\n",
        b'"type":"text_delta"',
        b"event: message_stop",
    ),
    "gemini": Wire(
        f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse",
        lambda tokens: {
            "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
            "generationConfig": {"maxOutputTokens": tokens},
        },
        b"\n\n",
        b'"parts":[{"text":',
        b'"finishReason"',  # the last chunk carries the last token too
    ),
}
END_OF_BODY = b"0\r\n\r\n"
STREAM_SLACK_S = 20.0  # per-stream deadline beyond its ideal duration

CONFIG_TEMPLATE = """\
latency:
  default_profile: {profile}
  profiles:
    {profile}:
      ttft: {{type: fixed, value_ms: {ttft}}}
      itl: {{type: fixed, value_ms: {itl}}}
generation:
  # Far above --tokens, so every provider's stream is exactly max tokens long
  # (Anthropic and Gemini have no ignore_eos).
  output_tokens: {{type: fixed, value_tokens: 100000}}
models:
  add:
    - {{id: {model}, provider: openai, kind: chat, latency_profile: {profile}, max_output_tokens: 4096}}
"""

# --engine: the same model served by one load-aware engine replica whose every step takes
# exactly ITL ms (no noise, no per-token or per-sequence cost), so the target is unchanged
# and the benchmark measures the step loop's pacing of N streams through one timer.
ENGINE_TEMPLATE = """\
engine:
  deployments:
    bench:
      models: [{model}]
      kv_blocks: 1000000
      max_num_seqs: 4096
      max_num_batched_tokens: 1000000
      max_waiting: 100000
      prefix_caching: false
      step: {{step_ms: {itl}, weights_ms: 0, prefill_ms_per_token: 0, kv_ms_per_token: 0, seq_ms: 0,
              overlap: 0, jitter_sigma: 0, front_ms: {front}}}
"""


# -- Client ----------------------------------------------------------------------------------


@dataclass
class StreamRecord:
    """What one stream saw."""

    scheduled: float = 0.0
    sent: float = 0.0
    arrivals: list[float] = field(default_factory=list)
    status_ok: bool = False
    done: bool = False
    error: str | None = None


class SSEClient(asyncio.Protocol):
    """One streamed chat completion over its own connection; timestamps content chunks."""

    def __init__(self, request: bytes, record: StreamRecord, finished: asyncio.Future[None], wire: Wire) -> None:
        self._request = request
        self._wire = wire
        self._record = record
        self._finished = finished
        self._buffer = b""
        self._headers_done = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the request as soon as the connection is up."""
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport.write(self._request)
        self._record.sent = time.monotonic()

    def data_received(self, data: bytes) -> None:
        """Timestamp every content event in ``data`` with its arrival time."""
        now = time.monotonic()
        buffer = self._buffer + data
        if not self._headers_done:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            status_line = buffer[: buffer.find(b"\r\n")]
            if b" 200 " not in status_line:
                self._fail(status_line.decode("latin-1", "replace"))
                return
            self._record.status_ok = True
            self._headers_done = True
            buffer = buffer[end + 4 :]
        wire = self._wire
        events = buffer.split(wire.separator)
        self._buffer = events.pop()
        record = self._record
        for event in events:
            if wire.content in event:
                record.arrivals.append(now)
            if wire.done in event:
                record.done = True
        if record.done and self._buffer.endswith(END_OF_BODY):
            self._finish()

    def connection_lost(self, exc: Exception | None) -> None:
        """The server closed (or the connection broke)."""
        if not self._record.done and self._record.error is None:
            self._record.error = f"connection lost: {exc!r}"
        self._finish()

    def _fail(self, message: str) -> None:
        self._record.error = message
        self._finish()

    def _finish(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if not self._finished.done():
            self._finished.set_result(None)


def build_request(port: int, tokens: int, wire: Wire) -> bytes:
    """The raw HTTP/1.1 request of one stream."""
    body = json.dumps(wire.body(tokens), separators=(",", ":")).encode()
    head = (
        f"POST {wire.path} HTTP/1.1\r\nHost: {c.HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def one_stream(port: int, request: bytes, record: StreamRecord, deadline_s: float, wire: Wire) -> None:
    """Wait for the scheduled start, then run one stream to completion or its deadline."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, record.scheduled - time.monotonic()))
    finished: asyncio.Future[None] = loop.create_future()
    try:
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: SSEClient(request, record, finished, wire), c.HOST, port), timeout=10
        )
    except (OSError, TimeoutError) as exc:
        record.error = f"connect: {exc!r}"
        return
    try:
        await asyncio.wait_for(finished, timeout=deadline_s)
    except TimeoutError:
        record.error = "deadline exceeded"
    finally:
        transport.close()


async def run_streams(
    port: int, n: int, tokens: int, stagger_s: float, ideal_s: float, wire: Wire
) -> list[StreamRecord]:
    """Start ``n`` streams evenly spread over ``stagger_s`` seconds; wait for all of them."""
    request = build_request(port, tokens, wire)
    start = time.monotonic() + 0.05
    records = [StreamRecord(scheduled=start + stagger_s * i / n) for i in range(n)]
    deadline = ideal_s + STREAM_SLACK_S
    tasks = [asyncio.create_task(one_stream(port, request, r, deadline, wire)) for r in records]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=stagger_s + deadline + 15)
    return records


# -- Analysis --------------------------------------------------------------------------------


def analyze(records: list[StreamRecord], tokens: int, ttft_ms: float, itl_ms: float) -> dict[str, Any]:
    """Pooled timing statistics of one or more runs."""
    itls = [
        (b - a) * 1000
        for r in records
        for a, b in zip(r.arrivals, r.arrivals[1:], strict=False)  # consecutive pairs
    ]
    ttfts = [(r.arrivals[0] - r.sent) * 1000 for r in records if r.arrivals]
    ideal_end_s = (ttft_ms + itl_ms * (tokens - 1)) / 1000
    end_late = [(r.arrivals[-1] - r.sent - ideal_end_s) * 1000 for r in records if len(r.arrivals) == tokens]
    abs_err = [abs(x - itl_ms) for x in itls]
    total_tokens = sum(len(r.arrivals) for r in records)
    complete = sum(1 for r in records if len(r.arrivals) == tokens and r.error is None)
    return {
        "streams": len(records),
        "complete_streams": complete,
        "errors": sorted({r.error for r in records if r.error})[:5],
        "error_count": sum(1 for r in records if r.error),
        "tokens": total_tokens,
        "itl_mean_ms": _r(statistics.fmean(itls)) if itls else None,
        "itl_mean_error_pct": _r((statistics.fmean(itls) - itl_ms) / itl_ms * 100) if itls else None,
        "itl_p50_ms": _r(c.percentile(itls, 50)),
        "itl_p99_ms": _r(c.percentile(itls, 99)),
        "itl_max_ms": _r(max(itls)) if itls else None,
        "itl_abs_error_p50_ms": _r(c.percentile(abs_err, 50)),
        "itl_abs_error_p99_ms": _r(c.percentile(abs_err, 99)),
        "ttft_p50_ms": _r(c.percentile(ttfts, 50)),
        "ttft_p99_ms": _r(c.percentile(ttfts, 99)),
        "ttft_max_ms": _r(max(ttfts)) if ttfts else None,
        "end_lateness_p50_ms": _r(c.percentile(end_late, 50)),
        "end_lateness_p99_ms": _r(c.percentile(end_late, 99)),
        "itl_mean_by_arrival_quarter_ms": mean_itl_by_arrival_quarter(records, tokens),
    }


def mean_itl_by_arrival_quarter(records: list[StreamRecord], tokens: int) -> list[float | None]:
    """Mean ITL (first to last token ÷ gaps) of the complete streams in each quarter of the arrivals.

    Shows where a mean ITL error comes from: a stream whose tokens are written later at its
    start than at its end (the load falling under it, as the ramp's first streams finish)
    has a short mean ITL, and the quarters that lived through the fall show it.
    """
    complete = sorted(
        (r for r in records if len(r.arrivals) == tokens and r.error is None and tokens > 1), key=lambda r: r.sent
    )
    count = len(complete)
    if count < 4:
        return [None] * 4
    quarters = [complete[k * count // 4 : (k + 1) * count // 4] for k in range(4)]
    return [_r(statistics.fmean((r.arrivals[-1] - r.arrivals[0]) / (tokens - 1) * 1000 for r in q)) for q in quarters]


def _r(value: float) -> float:
    return round(value, 3)


def wall_span(records: list[StreamRecord]) -> float:
    """Seconds from the first request written to the last token received."""
    sent = [r.sent for r in records if r.sent]
    last = [r.arrivals[-1] for r in records if r.arrivals]
    return max(last) - min(sent) if sent and last else float("nan")


# -- Runs ------------------------------------------------------------------------------------


def measure_once(server: c.Server, n: int, args: argparse.Namespace) -> tuple[list[StreamRecord], dict[str, Any]]:
    """One run of ``n`` streams, with CPU accounting and the server's own emit error (a simulator's)."""
    has_stats = server.name not in (AIMOCK, FLOOR)  # the peer and the floor have no /admin/stats
    before = None
    if has_stats:
        c.http_json(server.port, "/admin/stats/reset", method="POST")
        before = c.http_json(server.port, "/admin/stats")["emit_error"]
    tree = c.process_tree(server.pid)
    ideal_s = (args.ttft_ms + args.itl_ms * (args.tokens - 1)) / 1000
    drops0 = c.listen_drops()
    server_cpu0, client_cpu0, wall0 = c.cpu_seconds(tree), c.self_cpu_seconds(), time.monotonic()
    wire = WIRES[args.provider]
    records = asyncio.run(run_streams(server.port, n, args.tokens, args.stagger, ideal_s, wire), debug=False)
    wall = time.monotonic() - wall0
    server_cpu = c.cpu_seconds(tree) - server_cpu0
    client_cpu = c.self_cpu_seconds() - client_cpu0
    drops1 = c.listen_drops()
    stats = c.http_json(server.port, "/admin/stats") if has_stats else None
    after = stats["emit_error"] if stats is not None else None
    tokens = sum(len(r.arrivals) for r in records)
    run = {
        "wall_s": _r(wall),
        "tokens_per_s": _r(tokens / wall_span(records)),
        "server_cpu_pct": round(server_cpu / wall * 100, 1),
        "client_cpu_pct": round(client_cpu / wall * 100, 1),
        # Server CPU per token received: the cost of releasing one token (issue 22's metric).
        "server_cpu_us_per_token": _r(server_cpu / tokens * 1e6) if tokens else None,
        # Handshakes dropped at a full accept queue during the run (machine-wide): the client
        # retries them seconds later, which shows as TTFT, not as a connect error.
        "listen_drops": drops1 - drops0 if drops0 is not None and drops1 is not None else None,
        "emit_error_before": before,
        "emit_error_after": after,
        # The server's own TTFT (its arrival in the app to the first token's release): the
        # client's TTFT minus this is the time before the app saw the request (connect,
        # accept, granian's parse and hand-over to the event loop).
        "server_ttft_ms": server_ttft(stats),
        **analyze(records, args.tokens, args.ttft_ms, args.itl_ms),
    }
    return records, run


def server_ttft(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """The bench model's TTFT summary (ms) from a simulator's ``/admin/stats``, if it has one."""
    rows = stats.get("models", []) if stats is not None else []
    return next((row.get("ttft_ms") for row in rows if row.get("model") == MODEL), None)


def measure_n(servers: dict[str, c.Server], n: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """``args.runs`` runs of ``n`` streams per target, interleaved; one result per target.

    Run k measures every target once, the order rotated by k, so drift on a shared box hits
    every target alike. Each result holds the statistics pooled over the target's runs and
    each run's own.
    """
    names = list(servers)
    pooled: dict[str, list[StreamRecord]] = {name: [] for name in names}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for k in range(args.runs):
        shift = k % len(names)
        for name in names[shift:] + names[:shift]:
            records, run = measure_once(servers[name], n, args)
            pooled[name].extend(records)
            runs[name].append(run)
            print(
                f"N={n:>5} run {k + 1} {name:>16}: {run['tokens_per_s']:>8,.0f} tok/s  "
                f"ITL mean {run['itl_mean_ms']} ms  "
                f"|err| p99 {run['itl_abs_error_p99_ms']} ms  TTFT p99 {run['ttft_p99_ms']} ms  "
                f"(in the app: {(run['server_ttft_ms'] or {}).get('p99')} ms)  "
                f"server CPU {run['server_cpu_pct']}% ({run['server_cpu_us_per_token']} µs/token)  "
                f"client CPU {run['client_cpu_pct']}%  errors {run['error_count']}  "
                f"accept-queue drops {run['listen_drops']}",
                flush=True,
            )
            time.sleep(args.pause)
    return [{"target": name, "n": n, "summary": pooled_summary(pooled[name], runs[name], args), "runs": runs[name]}
            for name in names]  # fmt: skip


def pooled_summary(records: list[StreamRecord], runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Statistics over all streams of the runs, the runs' mean rates and the worst emit error."""
    summary = analyze(records, args.tokens, args.ttft_ms, args.itl_ms)
    for key in ("tokens_per_s", "server_cpu_pct", "client_cpu_pct", "server_cpu_us_per_token"):
        values = [r[key] for r in runs if r[key] is not None]
        summary[key] = _r(statistics.fmean(values)) if values else None
    drops = [r["listen_drops"] for r in runs if r.get("listen_drops") is not None]
    summary["listen_drops"] = sum(drops) if drops else None
    lates = [r["emit_error_after"]["late"] for r in runs if r["emit_error_after"] is not None]
    summary["emit_error_late_p99_ms_max_over_runs"] = max(late["p99"] for late in lates) if lates else None
    summary["emit_error_late_mean_ms"] = _r(statistics.fmean(late["mean"] for late in lates)) if lates else None
    ttfts = [r["server_ttft_ms"] for r in runs if r.get("server_ttft_ms")]
    summary["server_ttft_p99_ms_max_over_runs"] = max(t["p99"] for t in ttfts) if ttfts else None
    return summary


# The metrics whose candidate ÷ baseline ratio is reported per N.
RATIO_METRICS = (
    "tokens_per_s",
    "server_cpu_us_per_token",
    "itl_abs_error_p99_ms",
    "ttft_p99_ms",
    "end_lateness_p99_ms",
)


def compare(results: list[dict[str, Any]], candidate: str) -> dict[str, list[dict[str, Any]]]:
    """Candidate ÷ each baseline, per N, on the pooled summaries (None where a side is 0/None)."""
    by_key = {(r["target"], r["n"]): r["summary"] for r in results}
    others = sorted({r["target"] for r in results} - {candidate}, key=[r["target"] for r in results].index)
    table: dict[str, list[dict[str, Any]]] = {}
    for other in others:
        rows = []
        for n in sorted({r["n"] for r in results}):
            mine, theirs = by_key[(candidate, n)], by_key[(other, n)]
            rows.append({"n": n, **{m: _ratio(mine[m], theirs[m]) for m in RATIO_METRICS}})
        table[other] = rows
    return table


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def bench_config(checkout: c.Checkout, workdir: Path, text: str) -> Path:
    """The bench config written so that ``checkout`` accepts it (``config validate`` decides).

    Checkouts before the token-named output lengths (``value_tokens``) read the older
    ``value_ms`` spelling; the current one reads both, so the new spelling is tried first.
    """
    path = workdir / f"bench-{checkout.label}.yaml"
    problem = ""
    for variant in (text, text.replace("value_tokens:", "value_ms:")):
        path.write_text(variant)
        out = checkout.cli("config", "validate", str(path))
        if out.returncode == 0:
            return path
        problem = (out.stderr or out.stdout).strip()[-800:]
    sys.exit(f"{checkout.label} ({checkout.src}) rejects the bench config (--engine needs a checkout with the "
             f"load-aware engine):\n{problem}")  # fmt: skip


def check_targets(result: dict[str, Any], itl_ms: float) -> dict[str, bool]:
    """The design targets, evaluated at the largest N."""
    s = result["summary"]
    mean_error = s["itl_mean_error_pct"]
    return {
        f"N={result['n']}: mean ITL within 0.5% of {itl_ms:g} ms": mean_error is not None and abs(mean_error) <= 0.5,
        f"N={result['n']}: p99 |ITL error| <= 12 ms": s["itl_abs_error_p99_ms"] <= 12,
        f"N={result['n']}: TTFT p99 <= 100 ms": s["ttft_p99_ms"] <= 100,
        f"N={result['n']}: all streams complete": s["complete_streams"] == s["streams"],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="N = 100 and 1000, one run each")
    parser.add_argument("--streams", type=int, nargs="+", default=[100, 500, 1000], help="values of N")
    parser.add_argument("--runs", type=int, default=3, help="runs per N (pooled; default 3)")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per stream (default 100)")
    parser.add_argument("--itl-ms", type=float, default=20.0, help="fixed inter-token latency (default 20)")
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="fixed time to first token (default 20)")
    parser.add_argument("--stagger", type=float, default=1.0, help="spread stream starts over this many s")
    parser.add_argument("--pause", type=float, default=1.0, help="idle seconds between runs")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--engine", action="store_true", help="pace through one load-aware engine replica")
    parser.add_argument("--output", default=None, help="results file (default results/streams[-engine].json)")
    parser.add_argument("--provider", choices=sorted(WIRES), default="openai", help="wire format to stream")
    parser.add_argument("--no-uvloop", action="store_true", help="client on the default asyncio loop")
    c.add_baseline_flags(parser)
    parser.add_argument("--aimock", action="store_true", help="add the peer mock aimock (npm, installed on demand)")
    parser.add_argument("--aimock-version", default=_aimock.DEFAULT_VERSION, help="aimock's version (%(default)s)")
    parser.add_argument(
        "--floor", action="store_true", help="add granian on a bare paced-SSE app (bench/_stream_floor.py)"
    )
    args = parser.parse_args(argv)
    if args.floor and args.provider != "openai":
        parser.error("--floor streams the OpenAI wire format only")
    if args.aimock and args.provider != "openai":
        parser.error("--aimock streams the OpenAI wire format only")
    if args.quick:
        args.streams, args.runs = [100, 1000], 1
    return args


def use_uvloop(disabled: bool) -> str:
    """Install uvloop's event loop policy for the client when available."""
    if disabled:
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def start_servers(
    checkouts: list[c.Checkout], args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack
) -> tuple[dict[str, c.Server], dict[str, dict[str, str]]]:
    """One server per checkout (each with its own copy of the bench config) and aimock, warmed up.

    Returns the servers by target name and what the results file records about each.
    """
    text = CONFIG_TEMPLATE.format(profile=PROFILE, ttft=args.ttft_ms, itl=args.itl_ms, model=MODEL)
    if args.engine:
        # TTFT = front end + one prefill step of ITL ms.
        front = max(0.0, args.ttft_ms - args.itl_ms)
        text += ENGINE_TEMPLATE.format(model=MODEL, itl=args.itl_ms, front=front)
    servers: dict[str, c.Server] = {}
    about: dict[str, dict[str, str]] = {}
    for checkout in checkouts:
        name = f"simulator-{args.server}" if checkout.label == "simulator" else checkout.label
        config = bench_config(checkout, workdir, text)
        port = c.free_port()
        started = checkout.start(name, port, workdir, "--config", str(config), server=args.server)
        servers[name] = stack.enter_context(c.running(started, "/health"))
        about[name] = {**checkout.describe(), "server": args.server}
    if args.aimock and (peer := start_aimock(args, workdir)) is not None:
        servers[AIMOCK], about[AIMOCK] = stack.enter_context(c.running(peer[0], "/health")), peer[1]
    if args.floor:
        servers[FLOOR], about[FLOOR] = (
            stack.enter_context(c.running(start_floor(args, workdir), "/health")),
            {
                "app": "bench/_stream_floor.py",
                "pacing": "absolute schedule, 2 ms windows, written from the timer callback"
                + ("; tokens on a shared ITL grid (one burst per step, as an engine)" if args.engine else ""),
            },
        )
    for server in servers.values():
        with contextlib.suppress(Exception):  # warm-up: imports, tokenizer, first connections
            asyncio.run(run_streams(server.port, 20, 10, 0.1, 1.0, WIRES[args.provider]))
    return servers, about


AIMOCK = "aimock"
FLOOR = "granian-floor"


def start_floor(args: argparse.Namespace, workdir: Path) -> c.Server:
    """granian (the simulator's flags) serving ``_stream_floor.app`` at the bench's TTFT and ITL."""
    env = {"FLOOR_TTFT_MS": str(args.ttft_ms), "FLOOR_ITL_MS": str(args.itl_ms)}
    env["FLOOR_GRID"] = "1" if args.engine else "0"
    return c.start_bare_app(FLOOR, "_stream_floor:app", c.free_port(), workdir, env=env)


def start_aimock(args: argparse.Namespace, workdir: Path) -> tuple[c.Server, dict[str, str]] | None:
    """aimock streaming the bench prompt's answer at the bench's TTFT and ITL, or None (reason on stderr)."""
    try:
        cli = _aimock.install(args.aimock_version)
        server = _aimock.start_streaming(cli, workdir, PROMPT, args.tokens, args.ttft_ms, args.itl_ms)
    except _aimock.Unavailable as exc:
        print(f"skipping aimock: {exc}", file=sys.stderr)
        return None
    server.name = AIMOCK
    pacing = "streamingProfile: ttft then 1000/tps ms before each chunk, from the previous write"
    return server, {"package": _aimock.PACKAGE, "version": _aimock.version_of(cli), "pacing": pacing}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON results."""
    args = parse_args(argv)
    checkouts = [c.candidate(), *c.baselines(args)]
    fd_limit = c.raise_fd_limit()
    if fd_limit < 2 * max(args.streams) + 64:
        sys.exit(f"open-files limit {fd_limit} is too low for {max(args.streams)} streams; raise `ulimit -n`")
    client_loop = use_uvloop(args.no_uvloop)
    info = c.machine_info()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="llmsim-bench-") as tmp, contextlib.ExitStack() as stack:
        servers, about = start_servers(checkouts, args, Path(tmp), stack)
        for n in args.streams:
            results.extend(measure_n(servers, n, args))
    candidate = next(iter(servers))
    largest = max((r for r in results if r["target"] == candidate), key=lambda r: r["n"])
    checks = check_targets(largest, args.itl_ms)
    comparison = compare(results, candidate)
    payload = {
        "benchmark": "streams",
        "machine": info,
        "targets": [{"name": name, **about[name]} for name in servers],
        "parameters": {
            "server": args.server,
            "provider": args.provider,
            "timing": "engine" if args.engine else "sampled",
            "simulator_workers": 1,
            "streams": args.streams,
            "runs_per_n": args.runs,
            "order": "targets interleaved per run, rotated by one each run",
            "tokens_per_stream": args.tokens,
            "ttft_ms": args.ttft_ms,
            "itl_ms": args.itl_ms,
            "stagger_s": args.stagger,
            "client_loop": client_loop,
            "connection_per_stream": True,
            "quick": args.quick,
        },
        "results": results,
        "comparison": comparison,
        "targets_met": checks,
    }
    name = "streams" if args.provider == "openai" else f"streams-{args.provider}"
    path = c.write_results(args.output or (name + "-engine" if args.engine else name), payload)
    print_summary(results, checks, args.itl_ms)
    print_comparison(candidate, comparison)
    print(f"\nresults written to {c.shown(path)}")
    return 0


def print_summary(results: list[dict[str, Any]], checks: dict[str, bool], itl_ms: float) -> None:
    """The human-readable table."""
    headers = [
        "target",
        "N",
        "tok/s",
        "ITL mean",
        "err %",
        f"p99 |ITL-{itl_ms:g}|",
        "TTFT p99",
        "end late p99",
        "emit p99",
        "srv CPU%",
        "µs/token",
        "cli CPU%",
        "errors",
    ]
    rows = []
    for result in results:
        s = result["summary"]
        rows.append(
            [
                result["target"],
                result["n"],
                s["tokens_per_s"],
                s["itl_mean_ms"],
                s["itl_mean_error_pct"],
                s["itl_abs_error_p99_ms"],
                s["ttft_p99_ms"],
                s["end_lateness_p99_ms"],
                s["emit_error_late_p99_ms_max_over_runs"],
                s["server_cpu_pct"],
                s["server_cpu_us_per_token"],
                s["client_cpu_pct"],
                s["error_count"],
            ]
        )
    print()
    c.print_table(headers, rows)
    print("  (times in ms; 'emit p99' is the simulator's own late-release p99 from /admin/stats)")
    print()
    for name, ok in checks.items():
        print(f"  {'MET ' if ok else 'MISS'}  {name}")


def print_comparison(candidate: str, comparison: dict[str, list[dict[str, Any]]]) -> None:
    """Candidate ÷ baseline per N (tok/s > 1 and the rest < 1 favour the candidate)."""
    if not comparison:
        return
    print(f"\n{candidate} ÷ baseline (pooled statistics; tok/s > 1 and the rest < 1 favour the candidate)")
    rows = [
        [other, row["n"], *(row[m] if row[m] is not None else "-" for m in RATIO_METRICS)]
        for other, table in comparison.items()
        for row in table
    ]
    c.print_table(["baseline", "N", "tok/s", "CPU µs/token", "p99 |ITL err|", "TTFT p99", "end late p99"], rows)


if __name__ == "__main__":
    sys.exit(main())

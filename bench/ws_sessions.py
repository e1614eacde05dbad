"""Benchmark: timing accuracy of N concurrent WebSocket sessions (OpenAI Realtime, Gemini Live) at a fixed pace.

The WebSocket counterpart of ``streams.py`` (same config: model ``bench-model`` with a fixed
TTFT and ITL, output far longer than asked, so every response is exactly ``--tokens``
long). The simulator is started (granian, 1 worker); for each N, N sessions connect to
``/v1/realtime?model=bench-model`` (one WebSocket each, starts staggered evenly over
``--stagger`` seconds), switch to text output, add one user message and send
``response.create`` with ``max_output_tokens``. The client stamps when ``response.create``
was sent and the arrival of every ``response.output_text.delta`` (recognised by its type
string, without parsing the JSON), and reports what ``streams.py`` reports for SSE: mean
ITL, p99 |ITL - target|, TTFT p50/p99, end lateness, server and client CPU, and the
simulator's own ``emit_error`` (how late it released each token against its schedule).
``--api live`` drives Gemini Live sessions instead (``setup`` with ``maxOutputTokens``, one
``clientContent`` turn; each ``serverContent.modelTurn`` is a token, ``turnComplete`` the end).

The client is as cheap per message as ``streams.py``'s SSE client (``SessionClient``: a raw
asyncio protocol on uvloop, no WebSocket library, no JSON parse of server events), so its
share of the machine's cores stays small next to the server's.

``--baseline-src DIR`` runs another checkout's server in the same rounds (targets interleaved,
the order rotated each round) with the same client; ``--sse`` adds N SSE chat streams
(``streams.py``'s client) on the candidate's server each round, for the WebSocket/SSE ratio
of the same minute. The table shows medians over ``--rounds``.

Usage::

    python bench/ws_sessions.py                 # N = 100, 500; 1 run each
    python bench/ws_sessions.py --streams 200   # a smaller N on a loaded machine
    python bench/ws_sessions.py --streams 100 300 500 --rounds 5 --sse --baseline-src ../base
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import streams as s

# A close frame with status 1000, as a client sends it (masked, with an all-zero mask).
CLOSE_FRAME = b"\x88\x82\x00\x00\x00\x00\x03\xe8"


def client_frame(payload: dict[str, Any]) -> bytes:
    """One client text frame: FIN + text opcode, the masked length, an all-zero mask, the JSON.

    RFC 6455 requires a client to mask its frames but lets the key be any 4 bytes; a zero key
    leaves the payload as it is, so nothing is XORed per byte (the server unmasks anyway).
    """
    data = json.dumps(payload, separators=(",", ":")).encode()
    size = len(data)
    if size < 126:
        head = bytes([0x81, 0x80 | size])
    elif size < 1 << 16:
        head = bytes([0x81, 0xFE]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x81, 0xFF]) + size.to_bytes(8, "big")
    return head + b"\x00\x00\x00\x00" + data


def realtime_script(tokens: int) -> list[tuple[int, bytes]]:
    """A Realtime session, the client's side: (server messages to wait for, then the frame to send)."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": s.PROMPT}]}
    return [
        (1, client_frame({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})),
        (1, client_frame({"type": "conversation.item.create", "item": item})),  # after session.updated
        (2, client_frame({"type": "response.create", "response": {"max_output_tokens": tokens}})),  # item added/done
    ]


def live_script(tokens: int) -> list[tuple[int, bytes]]:
    """A Gemini Live session, the client's side: ``setup`` at once, the turn after ``setupComplete``."""
    config = {"responseModalities": ["TEXT"], "maxOutputTokens": tokens}
    turn = {"turns": [{"role": "user", "parts": [{"text": s.PROMPT}]}], "turnComplete": True}
    return [
        (0, client_frame({"setup": {"model": f"models/{s.MODEL}", "generationConfig": config}})),
        (1, client_frame({"clientContent": turn})),
    ]


@dataclass(frozen=True)
class Api:
    """One WebSocket API as the bench drives it: its path, the client's script, the markers it counts."""

    path: str
    script: Callable[[int], list[tuple[int, bytes]]]
    delta: bytes  # in a message that carries a token
    done: bytes  # in the message that ends the response


APIS = {
    "realtime": Api(
        f"/v1/realtime?model={s.MODEL}",
        realtime_script,
        b'"type":"response.output_text.delta"',
        b'"type":"response.done"',
    ),
    "live": Api(
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=sk-bench",
        live_script,
        b'"modelTurn"',
        b'"turnComplete"',
    ),
}
session_script = realtime_script  # the Realtime script under its first name (tests)


class SessionClient(asyncio.Protocol):
    """One WebSocket session over a raw connection: the handshake, the script, then timestamps.

    A bench client that costs little per message (the server's CPU is what is measured, and
    the client shares the machine): no WebSocket library, no JSON parse of server events.
    Each server frame is found by its header; a text delta is recognised by its type string
    inside the frame (``bytes.find`` within the frame's bounds, no copy) and stamped with the
    arrival time of the read that completed it, as ``streams.py`` stamps SSE events.
    """

    def __init__(
        self,
        request: bytes,
        script: list[tuple[int, bytes]],
        record: s.StreamRecord,
        finished: Any,
        api: Api = APIS["realtime"],
    ) -> None:
        self._request = request
        self._delta, self._done = api.delta, api.done
        self._script = list(reversed(script))
        self._record = record
        self._finished = finished
        self._buffer = b""
        self._upgraded = False
        self._waiting = 0  # server messages still due before the next scripted frame
        self._streaming = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the upgrade request."""
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport.write(self._request)
        self._waiting = self._script[-1][0]  # session.created

    def data_received(self, data: bytes) -> None:
        """Consume every whole frame in the buffer."""
        now = time.monotonic()
        buffer = self._buffer + data if self._buffer else data
        at = 0
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            if b" 101 " not in buffer[: buffer.find(b"\r\n")]:
                self._fail("handshake: " + buffer[: buffer.find(b"\r\n")].decode("latin-1"))
                return
            self._upgraded = True
            at = end + 4
            if self._waiting == 0:  # the client speaks first (Live's setup)
                self._next()
        size = len(buffer)
        record = self._record
        while size - at >= 2:
            length = buffer[at + 1] & 0x7F
            start = at + 2
            if length == 126:
                start += 2
                length = int.from_bytes(buffer[at + 2 : start], "big")
            elif length == 127:
                start += 8
                length = int.from_bytes(buffer[at + 2 : start], "big")
            end = start + length
            if end > size:
                break
            opcode = buffer[at] & 0x0F
            at = end
            if opcode != 1:
                continue  # pings and anything else: not a server event
            if self._streaming:
                if buffer.find(self._delta, start, end) >= 0:
                    record.arrivals.append(now)
                elif buffer.find(self._done, start, end) >= 0:
                    record.done = True
                    self._close()
                    return
                continue
            self._waiting -= 1
            if self._waiting == 0:
                self._next()
        self._buffer = buffer[at:]

    def _next(self) -> None:
        """Send the script's next frame (the last one starts the response)."""
        assert self._transport is not None
        _, frame = self._script.pop()
        self._transport.write(frame)
        if self._script:
            self._waiting = self._script[-1][0]
        else:
            self._record.sent = time.monotonic()
            self._record.status_ok = True
            self._streaming = True

    def connection_lost(self, exc: Exception | None) -> None:
        """The server closed (or the connection broke)."""
        if not self._record.done and self._record.error is None:
            self._record.error = f"connection lost: {exc!r}"
        self._close()

    def _fail(self, message: str) -> None:
        self._record.error = message
        self._close()

    def _close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(CLOSE_FRAME)
            self._transport.close()
        if not self._finished.done():
            self._finished.set_result(None)


def upgrade_request(port: int, path: str = APIS["realtime"].path) -> bytes:
    """The HTTP/1.1 upgrade request of one session (a fixed key: the server only echoes its hash)."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {c.HOST}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer sk-bench\r\n\r\n"
    ).encode()


async def one_session(port: int, tokens: int, record: s.StreamRecord, deadline_s: float, api: Api) -> None:
    """One session: one text response of ``tokens`` tokens, each token's message time-stamped."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    client = SessionClient(upgrade_request(port, api.path), api.script(tokens), record, finished, api)
    transport: asyncio.BaseTransport | None = None
    try:
        async with asyncio.timeout(10):
            transport, _ = await loop.create_connection(lambda: client, c.HOST, port)
        async with asyncio.timeout(deadline_s):
            await finished
    except (OSError, TimeoutError) as exc:
        record.error = "deadline exceeded" if transport is not None else f"connect: {exc!r}"
    finally:
        if transport is not None:
            transport.close()


async def run_sessions(
    port: int, n: int, tokens: int, stagger_s: float, ideal_s: float, api: Api = APIS["realtime"]
) -> list[s.StreamRecord]:
    """``n`` sessions of ``api`` with starts spread evenly over ``stagger_s``."""
    records = [s.StreamRecord() for _ in range(n)]
    start = time.monotonic()

    async def later(i: int) -> None:
        records[i].scheduled = start + stagger_s * i / n
        await asyncio.sleep(max(0.0, records[i].scheduled - time.monotonic()))
        await one_session(port, tokens, records[i], ideal_s + s.STREAM_SLACK_S, api)

    await asyncio.gather(*(later(i) for i in range(n)))
    return records


def measure(server: c.Server, n: int, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """One run of ``n`` sessions of API ``mode`` (``sse``: ``n`` SSE chat streams instead), with CPU accounting."""
    c.http_json(server.port, "/admin/stats/reset", method="POST")
    tree = c.process_tree(server.pid)
    ideal_s = (args.ttft_ms + args.itl_ms * (args.tokens - 1)) / 1000
    server_cpu0, client_cpu0, wall0 = c.cpu_seconds(tree), c.self_cpu_seconds(), time.monotonic()
    if mode == "sse":
        run = s.run_streams(server.port, n, args.tokens, args.stagger, ideal_s, s.WIRES["openai"])
    else:
        run = run_sessions(server.port, n, args.tokens, args.stagger, ideal_s, APIS[mode])
    records = asyncio.run(run)
    wall = time.monotonic() - wall0
    server_cpu = c.cpu_seconds(tree) - server_cpu0
    client_cpu = c.self_cpu_seconds() - client_cpu0
    stats = c.http_json(server.port, "/admin/stats")
    tokens = sum(len(r.arrivals) for r in records)
    return {
        "target": server.name,
        "mode": mode,
        "n": n,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / s.wall_span(records), 1),
        "server_cpu_pct": round(server_cpu / wall * 100, 1),
        "client_cpu_pct": round(client_cpu / wall * 100, 1),
        "server_cpu_us_per_token": round(server_cpu / tokens * 1e6, 1) if tokens else None,
        "emit_error": stats["emit_error"],
        **s.analyze(records, args.tokens, args.ttft_ms, args.itl_ms),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, nargs="+", default=[100, 500], help="values of N (sessions)")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per response (default 100)")
    parser.add_argument("--itl-ms", type=float, default=20.0, help="fixed inter-token latency (default 20)")
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="fixed time to first token (default 20)")
    parser.add_argument("--stagger", type=float, default=1.0, help="spread session starts over this many s")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; each runs every target at every N")
    parser.add_argument("--api", choices=sorted(APIS), default="realtime", help="the WebSocket API to drive")
    parser.add_argument("--sse", action="store_true", help="also N SSE chat streams on the candidate each round")
    parser.add_argument("--output", default="ws_sessions", help="results file under bench/results")
    parser.add_argument("--no-uvloop", action="store_true", help="client on the default asyncio loop")
    c.add_baseline_flags(parser)
    return parser.parse_args(argv)


def medians(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target, mode and N: the medians over rounds of CPU per token and p99 |ITL err|."""
    keys = sorted({(r["target"], r["mode"], r["n"]) for r in results}, key=lambda k: (k[2], k[1], k[0]))
    out = []
    for target, mode, n in keys:
        runs = [r for r in results if (r["target"], r["mode"], r["n"]) == (target, mode, n)]
        out.append(
            {
                "target": target,
                "mode": mode,
                "n": n,
                "rounds": len(runs),
                "server_cpu_us_per_token": statistics.median(r["server_cpu_us_per_token"] or 0 for r in runs),
                "itl_abs_error_p99_ms": statistics.median(r["itl_abs_error_p99_ms"] for r in runs),
                "ttft_p99_ms": statistics.median(r["ttft_p99_ms"] for r in runs),
                "client_cpu_pct": statistics.median(r["client_cpu_pct"] for r in runs),
                "complete_streams": min(r["complete_streams"] for r in runs),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the medians and write the JSON results."""
    args = parse_args(argv)
    checkouts = [c.candidate(), *c.baselines(args)]
    client_loop = s.use_uvloop(args.no_uvloop)
    if c.raise_fd_limit() < 2 * max(args.streams) + 64:
        sys.exit("the open-files limit is too low; raise `ulimit -n`")
    results = []
    text = s.CONFIG_TEMPLATE.format(profile=s.PROFILE, ttft=args.ttft_ms, itl=args.itl_ms, model=s.MODEL)
    with tempfile.TemporaryDirectory(prefix="llmsim-ws-") as tmp, contextlib.ExitStack() as stack:
        config = Path(tmp) / "bench.yaml"
        config.write_text(text)
        servers = []
        for checkout in checkouts:
            port = c.free_port()
            started = checkout.start(checkout.label, port, Path(tmp), "--config", str(config), server=args.server)
            servers.append(stack.enter_context(c.running(started, "/health")))
            asyncio.run(run_sessions(port, 10, 10, 0.1, 1.0, APIS[args.api]))  # warm-up
        for round_ in range(args.rounds):
            for n in args.streams:
                # Targets interleaved, the order rotated by one each round (neither always goes first).
                for server in servers[round_ % len(servers) :] + servers[: round_ % len(servers)]:
                    results.append(measure(server, n, args, args.api))
                if args.sse:
                    results.append(measure(servers[0], n, args, "sse"))
    payload = {
        "benchmark": "ws_sessions",
        "machine": c.machine_info(),
        "targets": [checkout.describe() for checkout in checkouts],
        "parameters": {k: v for k, v in vars(args).items() if k not in ("output", "baseline_specs")},
        "client_loop": client_loop,
        "medians": medians(results),
        "results": results,
    }
    path = c.write_results(args.output, payload)
    c.print_table(
        ["target", "mode", "N", "rounds", "complete", "srv µs/token", "p99 |ITL err|", "TTFT p99", "client CPU %"],
        [
            [
                m["target"],
                m["mode"],
                m["n"],
                m["rounds"],
                m["complete_streams"],
                m["server_cpu_us_per_token"],
                m["itl_abs_error_p99_ms"],
                m["ttft_p99_ms"],
                m["client_cpu_pct"],
            ]
            for m in medians(results)
        ],
    )
    print(f"\nresults written to {c.shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

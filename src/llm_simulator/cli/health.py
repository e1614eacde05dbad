"""``llm-simulator health``: probe a server's ``/health`` (or ``/ready``), once or in a loop.

Exit codes: 0 healthy (200), 1 unhealthy (any other status, e.g. 503 while draining),
2 unreachable. With ``--watch`` every probe prints a line (unreachable ones included, so a
server coming up can be watched) and the exit code is the last probe's.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from llm_simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    OperationFailed,
    Unreachable,
    UsageError,
    add_format_flag,
    print_json,
    print_json_line,
)
from llm_simulator.cli.remote import add_url_flag, parse_json, server_root, transport_errors

DEFAULT_INTERVAL_S = 2.0
DEFAULT_TIMEOUT_S = 5.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``health`` command."""
    health = subparsers.add_parser(
        "health",
        help="check a running server's health or readiness",
        description="GET /health (or /ready) and print the status and latency.\n"
        "Exit codes: 0 healthy, 1 unhealthy (not 200), 2 unreachable; with --watch, the last probe's.",
        epilog="examples:\n"
        "  llm-simulator health --url http://127.0.0.1:8080\n"
        "  llm-simulator health --ready --watch --interval 1",
    )
    health.set_defaults(handler=run)
    add_url_flag(health)
    health.add_argument("--ready", action="store_true", help="check /ready (readiness: 503 while draining)")
    health.add_argument("--watch", action="store_true", help="probe repeatedly until Ctrl-C (or --count)")
    health.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds between probes with --watch (default {DEFAULT_INTERVAL_S:g})",
    )
    health.add_argument("--count", type=int, metavar="N", help="stop after N probes (implies --watch)")
    health.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"per-probe limit (default {DEFAULT_TIMEOUT_S:g})",
    )
    add_format_flag(health, help_text="output format (default text; json: one object, one line per probe with --watch)")


@dataclass(frozen=True)
class Probe:
    """One probe's outcome: the HTTP status (None when unreachable), latency and body."""

    url: str
    status: int | None
    latency_ms: float | None
    body: Any = None
    error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 unhealthy, 2 unreachable."""
        if self.status is None:
            return EXIT_USAGE
        return EXIT_OK if self.status == 200 else EXIT_FAILED

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "url": self.url,
            "ok": self.status == 200,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "body": self.body,
            "error": self.error,
        }

    def text(self) -> str:
        """One human-readable line."""
        if self.status is None:
            return f"{self.url}: unreachable ({self.error})"
        verdict = "healthy" if self.status == 200 else "unhealthy"
        reason = self.body.get("reason") if isinstance(self.body, dict) else None
        extra = f", {reason}" if reason else ""
        return f"{self.url}: {self.status} {verdict}{extra} in {self.latency_ms:.1f} ms"


def probe(http: httpx.Client, url: str) -> Probe:
    """GET ``url`` once; a transport failure is an unreachable probe, not an exception."""
    started = time.perf_counter()
    try:
        with transport_errors(url):
            response = http.get(url)
    except Unreachable as exc:
        return Probe(url, None, None, error=str(exc).removeprefix(f"cannot reach {url}: "))
    except OperationFailed as exc:  # a read timeout or dropped connection: no answer either
        return Probe(url, None, None, error=str(exc).removeprefix(f"{url}: "))
    latency = round((time.perf_counter() - started) * 1000, 3)
    return Probe(url, response.status_code, latency, parse_json(response.content))


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``health`` command; returns the exit code."""
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError("--timeout must be positive")
    if not (math.isfinite(args.interval) and args.interval >= 0):
        raise UsageError("--interval must be a number, not negative")
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    url = server_root(args.url) + ("/ready" if args.ready else "/health")
    as_json = args.format == "json"
    with httpx.Client(timeout=args.timeout) as http:
        if not (args.watch or args.count):
            result = probe(http, url)
            if result.status is None:
                raise Unreachable(f"cannot reach {url}: {result.error}")
            if as_json:
                print_json(result.as_dict())
            else:
                print(result.text())
            return result.exit_code
        return _watch(http, url, args.interval, args.count, as_json)


def _watch(http: httpx.Client, url: str, interval: float, count: int | None, as_json: bool) -> int:
    code = EXIT_USAGE
    done = 0
    try:
        while True:
            result = probe(http, url)
            code = result.exit_code
            if as_json:
                print_json_line(result.as_dict())
            else:
                print(result.text())
                sys.stdout.flush()
            done += 1
            if count is not None and done >= count:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        # Ctrl-C is how a watch normally ends: report the last probe, not an interruption.
        pass
    return code

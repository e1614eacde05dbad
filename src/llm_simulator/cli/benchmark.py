"""``llm-simulator benchmark``: load-test any OpenAI/Anthropic/Gemini-compatible URL.

``llm-simulator benchmark --url URL …`` is one run (closed loop with ``--concurrency`` or open
loop with ``--rate``); ``llm-simulator benchmark run --url URL --output-dir DIR`` runs the
built-in BENCH-1 targets and writes their results. Exit codes: 0 done, 1 some request failed
and ``--fail-on-error`` was given, 2 bad arguments or an unreachable URL, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llm_simulator.loadgen.client import DEFAULT_PROMPT, RequestSpec, api_key_from_env, parse_headers
from llm_simulator.loadgen.plot import PlotError, check_plot_target, write_plot
from llm_simulator.loadgen.report import FORMATS, build_summary, render, to_text
from llm_simulator.loadgen.runner import LoadConfig, UnreachableError, progress_stream, run_load_sync
from llm_simulator.loadgen.suite import SUITE_DURATION_S, default_targets, markdown_summary, run_all_benchmarks
from llm_simulator.wire.defaults import LOAD_DEFAULT_MODELS, LOAD_PROVIDERS, LoadProvider

PROG = "llm-simulator benchmark"


class UsageError(Exception):
    """A bad argument combination, reported as one line and exit code 2."""


def _add_target_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """Flags shared by the single run and ``run``; ``default`` is SUPPRESS in the subcommand.

    The subcommand suppresses its defaults so ``benchmark --url X run`` keeps the URL given
    before ``run`` (argparse copies every subparser attribute over the parent's).
    """

    def d(value: Any) -> Any:
        return value if default is None else default

    parser.add_argument("--url", default=d(None), help="server root, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--provider", choices=LOAD_PROVIDERS, default=d("openai"), help="wire format to speak (default openai)"
    )
    parser.add_argument("--model", default=d(None), help="model id (default: a small model of the provider)")
    parser.add_argument(
        "--api-key",
        default=d(None),
        help="API key (default: the provider's variable, e.g. $OPENAI_API_KEY or $OLLAMA_API_KEY, else a dummy key)",
    )
    parser.add_argument(
        "--header", action="append", default=d([]), metavar="NAME:VALUE", help="extra request header (repeatable)"
    )
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", default=d(None), help="the user message sent with every request")
    prompt.add_argument("--prompt-file", type=Path, default=d(None), help="read the user message from a file")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=d(None),
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    parser.add_argument("--fail-on-error", action="store_true", default=d(False), help="exit 1 when any request failed")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``benchmark`` subcommand (a single run) and its ``run`` subcommand (the suite)."""
    bench = subparsers.add_parser(
        "benchmark",
        help="load-test an OpenAI/Anthropic/Gemini-compatible URL",
        description="Closed-loop (--concurrency) or open-loop (--rate) load with TTFT/ITL/E2E percentiles.",
    )
    _add_target_flags(bench, None)
    load = bench.add_argument_group("load")
    load.add_argument("--requests", "-n", type=int, help="requests to send (default 100 unless --duration)")
    load.add_argument("--duration", type=float, metavar="S", help="stop sending after S seconds")
    load.add_argument(
        "--concurrency", "-c", type=int, default=8, help="closed-loop workers (default 8); ignored with --rate"
    )
    load.add_argument("--rate", type=float, metavar="R", help="open loop: Poisson arrivals at R requests/s")
    load.add_argument(
        "--max-in-flight", type=int, default=512, help="open loop: cap on requests in flight (default 512)"
    )
    load.add_argument("--warmup", type=int, default=0, metavar="N", help="unmeasured requests first (default 0)")
    load.add_argument("--seed", type=int, default=0, help="seed of the arrival schedule (default 0)")
    load.add_argument("--timeout", type=float, default=60.0, metavar="S", help="per-request limit (default 60)")
    req = bench.add_argument_group("request")
    req.add_argument(
        "--stream", action=argparse.BooleanOptionalAction, default=True, help="stream responses (default on)"
    )
    req.add_argument("--max-tokens", type=int, default=64, help="output token limit per request (default 64)")
    req.add_argument(
        "--max-tokens-field",
        choices=["max_tokens", "max_completion_tokens"],
        default="max_tokens",
        help="OpenAI body field for --max-tokens (newer OpenAI models want max_completion_tokens)",
    )
    out = bench.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="text", help="report format (default text)")
    out.add_argument("--output", "-o", type=Path, help="write the report here (the text summary still prints)")
    out.add_argument("--plot", type=Path, metavar="FILE", help="charts: FILE.html (self-contained) or FILE.png")
    out.add_argument("--no-uvloop", action="store_true", help="use the plain asyncio event loop")

    sub = bench.add_subparsers(dest="benchmark_command", metavar="{run}")
    suite = sub.add_parser(
        "run",
        help="run the built-in benchmark targets and write JSON + Markdown results",
        description="Run the built-in targets (BENCH-1) against one URL; write <target>.json, latest.json, summary.md.",
    )
    _add_target_flags(suite, argparse.SUPPRESS)
    suite.add_argument("--output-dir", type=Path, default=Path("benchmark-results"), help="results directory")
    suite.add_argument(
        "--targets",
        help="comma-separated target ids (default all: " + ", ".join(t.target_id for t in default_targets()) + ")",
    )
    suite.add_argument(
        "--target-duration",
        type=float,
        default=SUITE_DURATION_S,
        metavar="S",
        help=f"seconds of sending per target (default {SUITE_DURATION_S:g})",
    )


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def _check_url(url: str | None) -> str:
    if not url:
        raise UsageError("--url is required (e.g. --url http://127.0.0.1:8080)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it validates the port)
    except ValueError as exc:
        raise UsageError(f"--url {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {url!r}: expected http(s)://host[:port][/path]")
    return url


def _prompt(args: argparse.Namespace) -> str:
    if args.prompt_file is not None:
        try:
            return str(args.prompt_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"--prompt-file {args.prompt_file}: {exc.strerror or exc}") from None
    return str(args.prompt) if args.prompt is not None else DEFAULT_PROMPT


def _base_spec(args: argparse.Namespace) -> RequestSpec:
    provider: LoadProvider = args.provider
    try:
        headers = parse_headers(args.header)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return RequestSpec(
        provider=provider,
        base_url=_check_url(args.url),
        model=args.model or LOAD_DEFAULT_MODELS[provider],
        prompt=_prompt(args),
        api_key=args.api_key or api_key_from_env(provider, os.environ),
        headers=headers,
    )


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``benchmark`` command; returns the exit code."""
    try:
        if getattr(args, "benchmark_command", None) == "run":
            return _run_suite(args)
        return _run_single(args)
    except UsageError as exc:
        return _fail(str(exc))
    except UnreachableError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130


def _run_single(args: argparse.Namespace) -> int:
    spec = replace(
        _base_spec(args), stream=args.stream, max_tokens=args.max_tokens, max_tokens_field=args.max_tokens_field
    )
    if spec.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    config = LoadConfig(
        requests=args.requests,
        duration=args.duration,
        concurrency=args.concurrency,
        rate=args.rate,
        max_in_flight=args.max_in_flight,
        warmup=args.warmup,
        seed=args.seed,
        timeout=args.timeout,
    )
    try:
        config.validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.plot is not None:
        try:
            check_plot_target(args.plot)
        except PlotError as exc:
            raise UsageError(str(exc)) from None
    for path in (args.output, args.plot):
        if path is not None and not path.resolve().parent.is_dir():
            raise UsageError(f"{path}: the directory does not exist")
    outcome = run_load_sync(spec, config, progress=progress_stream(args.progress), use_uvloop=not args.no_uvloop)
    summary = build_summary(outcome, spec, config)
    report = render(summary, outcome.results, args.format)
    if args.output is not None:
        args.output.write_text(report, encoding="utf-8")
        sys.stdout.write(to_text(summary))
    else:
        sys.stdout.write(report)
    if args.plot is not None:
        write_plot(args.plot, summary, outcome.results)
        print(f"plot written to {args.plot}", file=sys.stderr)
    failed = summary["requests"]["failed"]
    return 1 if failed and args.fail_on_error else 0


def _run_suite(args: argparse.Namespace) -> int:
    base = _base_spec(args)
    if args.target_duration <= 0:
        raise UsageError("--target-duration must be positive")
    targets = default_targets(args.target_duration)
    if args.targets:
        wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
        known = {t.target_id: t for t in targets}
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise UsageError(f"--targets: unknown {', '.join(unknown)} (known: {', '.join(known)})")
        targets = tuple(known[t] for t in wanted)
    results = run_all_benchmarks(
        targets,
        url=base.base_url,
        provider=base.provider,
        model=base.model,
        api_key=base.api_key,
        headers=base.headers,
        prompt=base.prompt,
        output_dir=args.output_dir,
        progress=progress_stream(args.progress),
    )
    sys.stdout.write(markdown_summary(results))
    print(f"results written to {args.output_dir}", file=sys.stderr)
    failed = any(r.metrics["failed"] for r in results)
    return 1 if failed and args.fail_on_error else 0

"""``llm-simulator simulate``: run the load-aware engine on a virtual clock and report per load point.

A workload (``--rate`` Poisson, ``--rates`` an open-loop sweep, ``--concurrency`` a
closed-loop sweep, ``--trace`` a replay of an Azure-format trace) goes through a deployment
(``--deployment`` preset plus overrides) exactly as the live engine would serve it, but on a
virtual clock: an hour of traffic takes seconds. With the same ``--seed``, the report is
byte-for-byte the same. Exit codes: 0 done, 2 bad arguments or input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from llm_simulator.cli.output import UsageError
from llm_simulator.cli.simulate_report import FORMATS, PointReport, charts, render, summarize_point
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.presets import PRESETS, preset_names
from llm_simulator.engine.load.router import ROUTERS
from llm_simulator.engine.load.virtual import (
    Arrival,
    NextArrival,
    RequestResult,
    closed_loop,
    lone_e2e_ms,
    simulate,
)
from llm_simulator.engine.load.workload import (
    LengthSpec,
    RequestShape,
    WorkloadError,
    closed_loop_requests,
    poisson_arrivals,
    read_trace,
    trace_arrivals,
)
from llm_simulator.infra.rng import derive_random
from llm_simulator.loadgen.plot import PlotError, check_plot_target, write_charts
from llm_simulator.loadgen.runner import progress_stream

# State samples (running, waiting, KV) every this many virtual ms: fine enough for queue
# and KV averages at step times of tens of ms, and 36,000 samples for an hour.
SAMPLE_MS = 100.0


# -- argument types: a bad value is a one-line usage error (exit 2) from argparse ------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def _ramp(text: str) -> float | None:
    """``auto`` (None: one lone request's lifetime) or a number of seconds ≥ 0."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither 'auto' nor a number of seconds") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _whole_number_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``, or a usage error naming the bound."""
    bound = "must not be negative" if minimum == 0 else f"must be at least {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} {bound}")
        return value

    return parse


_positive_int = _whole_number_at_least(1)
_non_negative_int = _whole_number_at_least(0)


def _float_list(text: str) -> list[float]:
    return [_positive_float(part) for part in text.split(",") if part.strip()] or [_positive_float("")]


def _int_list(text: str) -> list[int]:
    return [_positive_int(part) for part in text.split(",") if part.strip()] or [_positive_int("")]


def _length(text: str) -> LengthSpec:
    try:
        return LengthSpec.parse(text)
    except WorkloadError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _wrapped(text: str) -> str:
    """``text`` wrapped to the help width (docs/cli.md renders help at a fixed 100 columns)."""
    return textwrap.fill(text, width=96, break_on_hyphens=False)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` subcommand."""
    sim = subparsers.add_parser(
        "simulate",
        help="run a workload through a simulated deployment in virtual time",
        description="Run a workload through a simulated deployment (continuous batching, KV cache, queueing)\n"
        "on a virtual clock and report latency, throughput, queue and KV usage per load point.",
        epilog="examples:\n"
        "  llm-simulator simulate --deployment vllm-h100-7b-tp1 --rates 1,2,4,8 --duration 600\n"
        "  llm-simulator simulate --concurrency 1,8,32,128 --requests-per-point 500 --plot sweep.html\n"
        "  llm-simulator simulate --trace AzureLLMInferenceTrace_conv.csv --trace-speedup 2 --format json\n"
        + _wrapped("deployments: " + ", ".join(preset_names())),
    )
    work = sim.add_argument_group("workload (one of --rate, --rates, --concurrency, --trace)")
    kind = work.add_mutually_exclusive_group(required=True)
    kind.add_argument("--rate", type=_positive_float, metavar="R", help="open loop: Poisson arrivals at R requests/s")
    kind.add_argument("--rates", type=_float_list, metavar="R1,R2,…", help="open-loop sweep: one --rate run per value")
    kind.add_argument(
        "--concurrency",
        type=_int_list,
        metavar="C1,C2,…",
        help="closed-loop sweep: C clients, each sending again when answered",
    )
    kind.add_argument("--trace", type=Path, metavar="FILE", help="replay an Azure LLM inference trace CSV")
    work.add_argument(
        "--duration",
        type=_positive_float,
        metavar="S",
        help="open loop: seconds of arrivals per point (default 60); trace: replay only the first S seconds",
    )
    work.add_argument(
        "--requests-per-point",
        type=_positive_int,
        metavar="N",
        help="closed loop: requests per concurrency point (default 500)",
    )
    work.add_argument(
        "--ramp",
        type=_ramp,
        default="auto",
        metavar="S|auto",
        help="closed loop: start each client at a random moment within S seconds (default auto: one lone "
        "request's lifetime; 0 starts them all at once, which makes fixed-size requests queue in convoys)",
    )
    work.add_argument(
        "--prompt-tokens",
        type=_length,
        metavar="N|LOW:HIGH",
        help="prompt length: fixed or uniform (default 500)",
    )
    work.add_argument(
        "--output-tokens",
        type=_length,
        metavar="N|LOW:HIGH",
        help="output length: fixed or uniform (default 250)",
    )
    work.add_argument(
        "--shared-prefix-tokens",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="the first N prompt tokens are the same in every request (prefix caching shows; default 0)",
    )
    work.add_argument(
        "--trace-speedup",
        type=_positive_float,
        metavar="X",
        help="trace: divide arrival times by X (2 = twice the rate; default 1)",
    )
    work.add_argument("--max-requests", type=_positive_int, metavar="N", help="trace: replay at most N requests")
    work.add_argument("--seed", type=int, default=0, help="seed of arrivals, lengths and step noise (default 0)")

    dep = sim.add_argument_group("deployment")
    dep.add_argument(
        "--deployment",
        default="vllm-h100-7b-tp1",
        metavar="NAME",
        help="a built-in deployment (default vllm-h100-7b-tp1; listed below)",
    )
    dep.add_argument("--replicas", type=_positive_int, metavar="N", help="replicas behind the router")
    dep.add_argument("--router", choices=ROUTERS, help="how a replica is picked")
    dep.add_argument("--max-num-seqs", type=_positive_int, metavar="N", help="sequences per step and replica")
    dep.add_argument("--max-num-batched-tokens", type=_positive_int, metavar="N", help="token budget per step")
    dep.add_argument("--kv-blocks", type=_positive_int, metavar="N", help="KV-cache blocks per replica")
    dep.add_argument(
        "--prefix-caching",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reuse the KV of shared prompt prefixes (default: the deployment's)",
    )
    dep.add_argument(
        "--cold-start",
        action="store_true",
        help="start as a freshly launched server: the first step of each new shape pays the preset's warm-up "
        "cost (default: a server that has served before)",
    )
    dep.add_argument(
        "--max-waiting", type=_positive_int, metavar="N", help="requests allowed to wait per replica; more are rejected"
    )
    dep.add_argument(
        "--queue-timeout",
        type=_positive_float,
        metavar="S",
        help="a request waiting longer than S seconds for admission is timed out",
    )

    out = sim.add_argument_group("output")
    out.add_argument(
        "--format", choices=FORMATS, default="text", help="report format: text, json or csv (default text)"
    )
    out.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report here instead of stdout")
    out.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="charts (latency and throughput vs load, queue and KV over time): FILE.html or FILE.png",
    )
    out.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    sim.set_defaults(handler=run)


def check_workload_flags(args: argparse.Namespace) -> None:
    """Refuse flags that do not apply to the chosen workload (silently ignoring them misleads), then fill defaults."""
    trace, closed = args.trace is not None, args.concurrency is not None
    misplaced = [
        (not closed and args.requests_per_point is not None, "--requests-per-point applies to --concurrency only"),
        (not closed and args.ramp is not None, "--ramp applies to --concurrency only"),
        (closed and args.duration is not None, "--duration does not apply to --concurrency (see --requests-per-point)"),
        (not trace and args.trace_speedup is not None, "--trace-speedup applies to --trace only"),
        (not trace and args.max_requests is not None, "--max-requests applies to --trace only"),
        (
            trace and (args.prompt_tokens or args.output_tokens) is not None,
            "--prompt-tokens and --output-tokens do not apply to --trace (its rows carry their lengths)",
        ),
    ]
    for wrong, message in misplaced:
        if wrong:
            raise UsageError(f"simulate: {message}")
    defaults = {
        "requests_per_point": 500,
        "prompt_tokens": LengthSpec(500, 500),
        "output_tokens": LengthSpec(250, 250),
        "trace_speedup": 1.0,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def build_deployment(args: argparse.Namespace) -> DeploymentSpec:
    """The preset named by ``--deployment`` with the command line's overrides applied."""
    spec = PRESETS.get(args.deployment)
    if spec is None:
        raise UsageError(f"simulate: unknown deployment {args.deployment!r} (known: {', '.join(preset_names())})")
    settings = spec.settings
    changes: dict[str, Any] = {
        "max_num_seqs": args.max_num_seqs,
        "max_num_batched_tokens": args.max_num_batched_tokens,
        "kv_blocks": args.kv_blocks,
        "prefix_caching": args.prefix_caching,
        "max_waiting": args.max_waiting,
        "queue_timeout_ms": None if args.queue_timeout is None else args.queue_timeout * 1000.0,
    }
    settings = replace(settings, **{k: v for k, v in changes.items() if v is not None})
    return replace(
        spec,
        settings=settings,
        replicas=args.replicas if args.replicas is not None else spec.replicas,
        router=args.router if args.router is not None else spec.router,
        cold_start=args.cold_start,
    )


@dataclass(frozen=True)
class LoadPoint:
    """One run of a sweep: what load it is and how to build its workload."""

    kind: str  # rate, concurrency or trace
    value: float
    label: str
    # Returns (arrivals, closed-loop hook, expected end in virtual ms or requests to finish).
    build: Callable[[], tuple[Iterable[Arrival], NextArrival | None]]
    # For the progress bar: virtual ms the arrivals span (open loop) or requests to run (closed).
    span_ms: float = 0.0
    requests: int = 0


def build_points(args: argparse.Namespace, spec: DeploymentSpec) -> list[LoadPoint]:
    """The load points the arguments ask for, each with its own derived random stream."""
    shape = RequestShape(args.prompt_tokens, args.output_tokens, args.shared_prefix_tokens, spec.settings.block_size)
    seed = args.seed
    if args.trace is not None:
        try:
            rows = read_trace(args.trace)
            arrivals = trace_arrivals(
                rows,
                speedup=args.trace_speedup,
                max_requests=args.max_requests,
                duration_s=args.duration,
                shared_prefix_tokens=args.shared_prefix_tokens,
                block_size=spec.settings.block_size,
            )
        except WorkloadError as exc:
            raise UsageError(f"simulate: --trace {exc}") from None
        label = f"trace x{args.trace_speedup:g}"
        return [
            LoadPoint(
                "trace",
                args.trace_speedup,
                label,
                lambda: (arrivals, None),
                span_ms=arrivals[-1].time_ms if arrivals else 0.0,
            )
        ]
    if args.concurrency is not None:
        ramp_ms = (
            args.ramp * 1000.0
            if args.ramp is not None
            else lone_e2e_ms(
                spec,
                (args.prompt_tokens.low + args.prompt_tokens.high) // 2,
                (args.output_tokens.low + args.output_tokens.high) // 2,
                seed,
            )
        )
        points = []
        for c in args.concurrency:

            def closed(c: int = c) -> tuple[Iterable[Arrival], NextArrival | None]:
                make = closed_loop_requests(
                    args.requests_per_point, shape, derive_random(seed, "workload", "closed", c)
                )
                return closed_loop(c, make, ramp_ms=ramp_ms, rng=derive_random(seed, "workload", "ramp", c))

            points.append(
                LoadPoint("concurrency", float(c), f"concurrency {c}", closed, requests=args.requests_per_point)
            )
        return points
    duration = args.duration if args.duration is not None else 60.0
    rates = [args.rate] if args.rate is not None else args.rates
    points = []
    for r in rates:

        def open_loop(r: float = r) -> tuple[Iterable[Arrival], NextArrival | None]:
            return poisson_arrivals(r, duration, shape, derive_random(seed, "workload", "poisson", r)), None

        points.append(LoadPoint("rate", r, f"rate {r:g}/s", open_loop, span_ms=duration * 1000.0))
    return points


class VirtualProgress:
    r"""A one-line, ``\r``-rewritten progress display of a sweep (redrawn at most every 0.1 s of wall time)."""

    WIDTH = 24

    def __init__(self, stream: TextIO, points: int) -> None:
        self._stream = stream
        self._points = points
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_len = 0

    def update(self, index: int, point: LoadPoint, fraction: float, virtual_ms: float, force: bool = False) -> None:
        """Redraw: point ``index`` (0-based) is ``fraction`` done at virtual time ``virtual_ms``."""
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        total = (index + min(max(fraction, 0.0), 1.0)) / self._points
        filled = round(total * self.WIDTH)
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {index + 1}/{self._points} {point.label}  "
            f"virtual {virtual_ms / 1000.0:.1f} s  wall {now - self._start:.1f} s"
        )
        self._stream.write("\r" + line + " " * max(0, self._last_len - len(line)))
        self._last_len = len(line)
        self._stream.flush()

    def finish(self) -> None:
        """End the line."""
        self._stream.write("\n")
        self._stream.flush()


def run_points(
    spec: DeploymentSpec, points: list[LoadPoint], seed: int, bar: VirtualProgress | None
) -> list[PointReport]:
    """Simulate every point in order (each with the same engine seed) and summarise each."""
    reports: list[PointReport] = []
    for index, point in enumerate(points):
        arrivals, next_arrival = point.build()
        watch = _PointWatch(bar, index, point, next_arrival)
        run = simulate(
            spec,
            arrivals,
            seed=seed,
            next_arrival=watch.hook(),
            sample_every_ms=SAMPLE_MS,
            progress=watch.progress if bar is not None else None,
        )
        if bar is not None:
            bar.update(index, point, 1.0, run.duration_ms, force=True)
        reports.append(summarize_point(point.kind, point.value, point.label, run))
    if bar is not None:
        bar.finish()
    return reports


class _PointWatch:
    """Feeds one point's progress to the bar: virtual time (open loop) or requests ended (closed)."""

    def __init__(self, bar: VirtualProgress | None, index: int, point: LoadPoint, inner: NextArrival | None) -> None:
        self.bar = bar
        self.index = index
        self.point = point
        self.inner = inner
        self.ended = 0

    def hook(self) -> NextArrival | None:
        """The closed-loop hook, counting ended requests when a bar shows them."""
        if self.inner is None or self.bar is None:
            return self.inner
        return self._counted

    def _counted(self, result: RequestResult, now: float) -> Arrival | None:
        assert self.inner is not None
        self.ended += 1
        return self.inner(result, now)

    def progress(self, now: float) -> None:
        """The simulation's progress callback (virtual ms)."""
        if self.bar is None:
            return
        point = self.point
        fraction = self.ended / point.requests if point.requests else now / (point.span_ms or 1.0)
        self.bar.update(self.index, point, fraction, now)


def describe_workload(args: argparse.Namespace) -> dict[str, Any]:
    """The workload's parameters, for the report header."""
    lengths = {
        "prompt_tokens": str(args.prompt_tokens),
        "output_tokens": str(args.output_tokens),
        "shared_prefix_tokens": args.shared_prefix_tokens,
    }
    if args.trace is not None:
        return {
            "kind": "trace",
            "trace": args.trace.name,
            "speedup": args.trace_speedup,
            "max_requests": args.max_requests,
            "duration_s": args.duration,
            "shared_prefix_tokens": args.shared_prefix_tokens,
        }
    if args.concurrency is not None:
        return {
            "kind": "closed_loop",
            "concurrency": args.concurrency,
            "requests_per_point": args.requests_per_point,
            "ramp_s": "auto" if args.ramp is None else args.ramp,
            **lengths,
        }
    rates = [args.rate] if args.rate is not None else args.rates
    return {"kind": "poisson", "rates": rates, "duration_s": args.duration or 60.0, **lengths}


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``simulate`` command; returns the exit code."""
    check_workload_flags(args)
    spec = build_deployment(args)
    if args.plot is not None:
        try:
            check_plot_target(args.plot)
        except PlotError as exc:
            raise UsageError(f"simulate: {exc}") from None
    for path in (args.output, args.plot):
        if path is not None and not path.resolve().parent.is_dir():
            raise UsageError(f"simulate: {path}: the directory does not exist")
    points = build_points(args, spec)
    stream = progress_stream(args.progress, sys.stderr)
    bar = VirtualProgress(stream, len(points)) if stream is not None else None
    reports = run_points(spec, points, args.seed, bar)
    report_text = render(args.format, spec, describe_workload(args), args.seed, reports)
    if args.output is not None:
        args.output.write_text(report_text, encoding="utf-8")
    else:
        sys.stdout.write(report_text)
    if args.plot is not None:
        text = render("text", spec, describe_workload(args), args.seed, reports)
        write_charts(args.plot, f"llm-simulator simulate: {spec.name}", text, charts(reports))
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0

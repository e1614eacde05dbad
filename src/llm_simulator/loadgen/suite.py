"""The canonical benchmark interface (BENCH-1): named targets run against one URL.

``run_all_benchmarks(targets, url=…, output_dir=…)`` runs each target (a request shape and a
load shape), returns one ``BenchmarkResult`` per target — ``target_id``, flat ``metrics``, an
ISO 8601 UTC ``timestamp`` — and, given a directory, writes ``<target_id>.json`` (the full
summary), ``latest.json`` (every result of this call) and ``summary.md`` (a Markdown table).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import orjson

from llm_simulator.loadgen.client import DEFAULT_PROMPT, RequestSpec, api_key_from_env
from llm_simulator.loadgen.report import build_summary
from llm_simulator.loadgen.runner import LoadConfig, run_coroutine, run_load
from llm_simulator.loadgen.stats import flat_metrics
from llm_simulator.wire.defaults import LOAD_DEFAULT_MODELS, LoadProvider

# Each built-in target sends for 3 s; with warmup and the last requests' tails the whole
# suite takes ~20 s against the simulator's default latencies.
SUITE_DURATION_S = 3.0


@dataclass(frozen=True)
class Target:
    """One benchmark: an id, whether it streams, its output length and its load shape."""

    target_id: str
    description: str
    stream: bool
    config: LoadConfig
    max_tokens: int = 32


@dataclass
class BenchmarkResult:
    """The outcome of one target: the BENCH-1 triple plus the full summary behind it."""

    target_id: str
    metrics: dict[str, float | int | None]
    timestamp: str
    summary: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self, *, full: bool = False) -> dict[str, Any]:
        """``{target_id, metrics, timestamp}`` (and ``summary`` when ``full``)."""
        data: dict[str, Any] = {"target_id": self.target_id, "metrics": self.metrics, "timestamp": self.timestamp}
        if full:
            data["summary"] = self.summary
        return data


def default_targets(duration: float = SUITE_DURATION_S) -> tuple[Target, ...]:
    """The built-in set: non-streamed and streamed at concurrency 8, streamed at 20 req/s."""
    return (
        Target(
            "chat-nonstream-c8",
            "non-streamed chat, closed loop, 8 workers",
            stream=False,
            config=LoadConfig(duration=duration, concurrency=8, warmup=8),
        ),
        Target(
            "chat-stream-c8",
            "streamed chat, closed loop, 8 workers",
            stream=True,
            config=LoadConfig(duration=duration, concurrency=8, warmup=8),
        ),
        Target(
            "chat-stream-rate20",
            "streamed chat, open loop, Poisson arrivals at 20 req/s",
            stream=True,
            config=LoadConfig(duration=duration, rate=20.0, max_in_flight=256, warmup=4),
        ),
    )


def utc_timestamp() -> str:
    """Now as ISO 8601 UTC with a ``Z`` suffix, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def arun_all_benchmarks(
    targets: Sequence[Target] | None = None,
    *,
    url: str,
    provider: LoadProvider = "openai",
    model: str | None = None,
    api_key: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    prompt: str = DEFAULT_PROMPT,
    output_dir: Path | None = None,
    progress: TextIO | None = None,
) -> list[BenchmarkResult]:
    """``run_all_benchmarks`` on the caller's running event loop."""
    chosen = default_targets() if targets is None else targets
    base = RequestSpec(
        provider=provider,
        base_url=url,
        model=model or LOAD_DEFAULT_MODELS[provider],
        prompt=prompt,
        api_key=api_key or api_key_from_env(provider),
        headers=headers,
    )
    results: list[BenchmarkResult] = []
    for target in chosen:
        spec = replace(base, stream=target.stream, max_tokens=target.max_tokens)
        if progress is not None:
            progress.write(f"{target.target_id}: {target.description}\n")
        outcome = await run_load(spec, target.config, progress=progress)
        summary = build_summary(outcome, spec, target.config)
        summary["target_id"] = target.target_id
        results.append(BenchmarkResult(target.target_id, flat_metrics(summary), utc_timestamp(), summary))
    if output_dir is not None:
        write_results(results, output_dir)
    return results


def run_all_benchmarks(
    targets: Sequence[Target] | None = None,
    *,
    url: str,
    provider: LoadProvider = "openai",
    model: str | None = None,
    api_key: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    prompt: str = DEFAULT_PROMPT,
    output_dir: Path | None = None,
    progress: TextIO | None = None,
) -> list[BenchmarkResult]:
    """Run ``targets`` (default: ``default_targets()``) against ``url`` one after another.

    Returns one result per target in order; with ``output_dir`` also writes the raw JSON
    per target, ``latest.json`` and ``summary.md``. Raises ``UnreachableError`` when the URL
    cannot be reached. Runs its own event loop: from async code use ``arun_all_benchmarks``.
    """
    return run_coroutine(
        lambda: arun_all_benchmarks(
            targets,
            url=url,
            provider=provider,
            model=model,
            api_key=api_key,
            headers=headers,
            prompt=prompt,
            output_dir=output_dir,
            progress=progress,
        )
    )


def write_results(results: Sequence[BenchmarkResult], output_dir: Path) -> None:
    """Write ``<target_id>.json`` per result, ``latest.json`` and ``summary.md`` into ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    option = orjson.OPT_INDENT_2
    for result in results:
        (output_dir / f"{result.target_id}.json").write_bytes(orjson.dumps(result.as_dict(full=True), option=option))
    (output_dir / "latest.json").write_bytes(orjson.dumps([r.as_dict() for r in results], option=option))
    (output_dir / "summary.md").write_text(markdown_summary(results), encoding="utf-8")


def _cell(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def markdown_summary(results: Sequence[BenchmarkResult]) -> str:
    """A Markdown table of the headline metrics, one row per target (latencies in ms)."""
    lines = [
        "# Benchmark summary",
        "",
        "| target | requests | success | req/s | output tok/s | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 "
        "| E2E p50 | E2E p99 | client µs/req | timestamp |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        m = r.metrics
        success = m["success_rate"]
        lines.append(
            f"| {r.target_id} | {_cell(m['requests'])} "
            f"| {'–' if success is None else f'{success * 100:.1f} %'} "
            f"| {_cell(m['requests_per_s'])} | {_cell(m['output_tokens_per_s'])} "
            f"| {_cell(m['ttft_p50_ms'], 2)} | {_cell(m['ttft_p99_ms'], 2)} "
            f"| {_cell(m['itl_p50_ms'], 2)} | {_cell(m['itl_p99_ms'], 2)} "
            f"| {_cell(m['e2e_p50_ms'], 2)} | {_cell(m['e2e_p99_ms'], 2)} "
            f"| {_cell(m['client_cpu_per_request_us'], 0)} | {r.timestamp} |"
        )
    return "\n".join(lines) + "\n"

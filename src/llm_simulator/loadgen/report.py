"""Report formats: a text table for people, JSON for machines, CSV with one row per request."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from llm_simulator.loadgen.client import RequestResult, RequestSpec
from llm_simulator.loadgen.runner import LoadConfig
from llm_simulator.loadgen.stats import RunOutcome, summarize

FORMATS = ("text", "json", "csv")
CSV_COLUMNS = (
    "index",
    "start_s",
    "status",
    "ok",
    "ttft_ms",
    "e2e_ms",
    "output_tokens",
    "token_source",
    "content_events",
    "itl_mean_ms",
    "schedule_lag_ms",
    "error",
    "detail",
)


def parameters(spec: RequestSpec, config: LoadConfig) -> dict[str, Any]:
    """The run's parameters for the JSON report; header *names* only, never the API key."""
    return {
        "url": spec.base_url,
        "provider": spec.provider,
        "model": spec.model,
        "stream": spec.stream,
        "max_tokens": spec.max_tokens,
        "prompt_chars": len(spec.prompt),
        "headers": sorted({key.lower() for key, _ in spec.headers}),
        "mode": "open" if config.rate is not None else "closed",
        "concurrency": config.concurrency,
        "rate": config.rate,
        "max_in_flight": config.max_in_flight if config.rate is not None else None,
        "requests": config.request_limit,
        "duration_s": config.duration,
        "warmup": config.warmup,
        "seed": config.seed,
        "timeout_s": config.timeout,
    }


def build_summary(outcome: RunOutcome, spec: RequestSpec, config: LoadConfig) -> dict[str, Any]:
    """The full summary (``stats.summarize``) with this run's parameters."""
    return summarize(outcome, parameters(spec, config))


def to_json(summary: dict[str, Any]) -> str:
    """The summary as indented JSON."""
    return orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value * 1000.0:.3f}"


def to_csv(results: list[RequestResult]) -> str:
    """One row per request in send order; times in ms, the start as seconds into the run."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for index, r in enumerate(results):
        itl_mean = sum(r.itls) / len(r.itls) if r.itls else None
        writer.writerow(
            (
                index,
                f"{r.start:.6f}",
                r.status,
                int(r.ok),
                _ms(r.ttft),
                _ms(r.e2e),
                r.output_tokens,
                r.token_source,
                r.content_events,
                _ms(itl_mean),
                _ms(r.schedule_lag),
                r.error or "",
                r.detail,
            )
        )
    return buffer.getvalue()


_STAT_COLUMNS = ("p50", "p90", "p95", "p99", "max", "mean")


def _num(value: float) -> str:
    return f"{value:.2f}" if value < 1000 else f"{value:.0f}"


def to_text(summary: dict[str, Any]) -> str:
    """The summary as an aligned plain-text table."""
    p = summary["parameters"]
    req = summary["requests"]
    thr = summary["throughput"]
    tokens = summary["output_tokens"]
    mode = (
        f"open loop {p['rate']:g} req/s (max in flight {p['max_in_flight']})"
        if p["mode"] == "open"
        else f"closed loop, concurrency {p['concurrency']}"
    )
    lines = [
        f"benchmark: {p['provider']} {p['model']} at {p['url']} "
        f"({'stream' if p['stream'] else 'no stream'}, {mode}, max_tokens {p['max_tokens']})",
        "",
        f"requests      {req['total']} total, {req['succeeded']} ok, {req['failed']} failed "
        f"({req['success_rate'] * 100:.1f} % success)" + (f"; {req['warmup']} warmup" if req["warmup"] else ""),
        f"duration      {summary['duration_s']:.3f} s",
        f"throughput    {thr['requests_per_s']:.1f} req/s, {thr['output_tokens_per_s']:.1f} output tok/s "
        f"({tokens['mean_per_request']:.1f} tok/request; source {_sources(tokens['source'])})",
        "",
        f"{'latency (ms)':<14}" + "".join(f"{c:>10}" for c in _STAT_COLUMNS) + f"{'samples':>10}",
    ]
    for name, label in (("ttft", "TTFT"), ("itl", "ITL"), ("tpot", "TPOT"), ("e2e", "E2E")):
        dist = summary["latency_ms"][name]
        if dist is None:
            lines.append(f"  {label:<12}" + f"{'n/a':>10}" * len(_STAT_COLUMNS) + f"{0:>10}")
        else:
            lines.append(
                f"  {label:<12}" + "".join(f"{_num(dist[c]):>10}" for c in _STAT_COLUMNS) + f"{dist['count']:>10}"
            )
    lines.append("")
    lines.append("errors        " + _errors(summary["errors"]))
    open_loop = summary["open_loop"]
    if open_loop is not None:
        lag = open_loop["schedule_lag_ms"]
        lines.append(
            f"open loop     target {open_loop['target_rate']:g} req/s, "
            f"achieved {open_loop['achieved_rate']:.1f} req/s; "
            f"late {open_loop['late']} (> {open_loop['late_threshold_ms']:g} ms), "
            f"blocked by in-flight cap {open_loop['blocked_by_cap']}, "
            f"not sent when the duration ran out {open_loop.get('dropped_at_end', 0)}"
            + (f"; schedule lag p99 {lag['p99']:.2f} ms, max {lag['max']:.2f} ms" if lag else "")
        )
    lines.append("client        " + _client(summary["client"]))
    if summary["client"]["bottleneck_warning"]:
        lines.append(f"warning       {summary['client']['bottleneck_warning']}")
    return "\n".join(lines) + "\n"


def _sources(sources: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sources.items()) or "none"


def _errors(errors: dict[str, dict[str, int]]) -> str:
    if not errors["by_kind"]:
        return "none"
    statuses = ", ".join(f"{'no response' if s == '0' else 'HTTP ' + s}: {n}" for s, n in errors["by_status"].items())
    kinds = ", ".join(f"{k}: {n}" for k, n in errors["by_kind"].items())
    return f"{statuses} ({kinds})"


def _client(client: dict[str, Any]) -> str:
    text = (
        f"CPU {client['cpu_per_request_us']:.0f} µs/request, {client['cpu_utilization'] * 100:.0f} % of one core "
        f"({client['event_loop']} loop)"
    )
    lag = client["loop_lag_ms"]
    if lag is not None:
        text += f"; event-loop lag p50 {lag['p50']:.2f} ms, p99 {lag['p99']:.2f} ms, max {lag['max']:.2f} ms"
    return text


def render(summary: dict[str, Any], results: list[RequestResult], fmt: str) -> str:
    """The report in ``fmt`` (one of ``FORMATS``)."""
    if fmt == "json":
        return to_json(summary)
    if fmt == "csv":
        return to_csv(results)
    if fmt == "text":
        return to_text(summary)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")

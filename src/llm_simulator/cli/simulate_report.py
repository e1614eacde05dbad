"""The report of ``llm-simulator simulate``: per-point summaries as text, JSON or CSV, and charts.

Every number comes from the virtual run alone (no wall-clock time), and floats are rounded
to fixed decimals, so the same seed gives the same bytes. Latency percentiles are exact
(type 7 interpolation, ``infra.percentile.percentile``) over the requests that finished.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.cli.output import json_text
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.virtual import VirtualRun
from llm_simulator.infra.percentile import percentile
from llm_simulator.loadgen.plot import LineChart

FORMATS: tuple[str, ...] = ("text", "json", "csv")


def _r(value: float, digits: int = 3) -> float:
    return round(value, digits)


def _dist(values: list[float]) -> dict[str, float] | None:
    """p50/p90/p99/mean of ``values`` (ms), or None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    return {
        "p50": _r(percentile(ordered, 50.0)),
        "p90": _r(percentile(ordered, 90.0)),
        "p99": _r(percentile(ordered, 99.0)),
        "mean": _r(sum(ordered) / len(ordered)),
    }


@dataclass
class PointReport:
    """One load point: its summary (JSON-ready) and its state timeline (for charts)."""

    summary: dict[str, Any]
    times_s: list[float] = field(default_factory=list)
    waiting: list[float] = field(default_factory=list)
    running: list[float] = field(default_factory=list)
    kv_usage: list[float] = field(default_factory=list)


def summarize_point(kind: str, value: float, label: str, run: VirtualRun) -> PointReport:
    """Summarise one virtual run.

    Throughput is over the whole run (first arrival to last event, queue drained included):
    output tokens and requests of the requests that finished, divided by that time. Queue
    and KV figures are time averages of samples taken every ``SAMPLE_MS`` of virtual time.
    TPOT is each request's (E2E − TTFT) / (output tokens − 1), its mean inter-token latency.
    """
    outcomes = {"ok": 0, "rejected": 0, "timed_out": 0, "unfinished": 0}
    for r in run.results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    done = run.completed
    seconds = run.duration_ms / 1000.0
    output_tokens = sum(r.output_tokens for r in done)
    samples = run.samples
    replicas = run.replicas
    steps = sum(rep.counters.steps for rep in replicas)
    lookups = sum(rep.kv.lookups for rep in replicas)
    summary: dict[str, Any] = {
        "load": {"kind": kind, "value": value},
        "label": label,
        "requests": {
            "sent": len(run.results),
            "completed": outcomes["ok"],
            "rejected": outcomes["rejected"],
            "timed_out": outcomes["timed_out"],
            "unfinished": outcomes["unfinished"],
        },
        "ttft_ms": _dist([r.ttft_ms for r in done]),
        "tpot_ms": _dist([r.tpot_ms for r in done if r.output_tokens > 1]),
        "e2e_ms": _dist([r.e2e_ms for r in done]),
        "throughput": {
            "output_tokens_per_s": _r(output_tokens / seconds if seconds > 0 else 0.0, 1),
            "requests_per_s": _r(len(done) / seconds if seconds > 0 else 0.0),
        },
        "output_tokens": output_tokens,
        "virtual_duration_s": _r(seconds),
        "queue": {
            "waiting_mean": _r(sum(s.waiting for s in samples) / len(samples)) if samples else 0.0,
            "waiting_max": max((s.waiting for s in samples), default=0),
            "running_mean": _r(sum(s.running for s in samples) / len(samples)) if samples else 0.0,
            "running_max": max((s.running for s in samples), default=0),
        },
        "kv_usage": {
            "mean": _r(sum(s.kv_usage for s in samples) / len(samples), 4) if samples else 0.0,
            "max": _r(max((s.kv_usage for s in samples), default=0.0), 4),
        },
        "preemptions": sum(rep.counters.preemptions for rep in replicas),
        "prefix_cache_hit_rate": _r(sum(rep.kv.hits for rep in replicas) / lookups, 4) if lookups else 0.0,
        "steps": steps,
        "mean_batch_size": _r(sum(rep.counters.batch_size_sum for rep in replicas) / steps if steps else 0.0),
    }
    return PointReport(
        summary,
        [s.time_ms / 1000.0 for s in samples],
        [float(s.waiting) for s in samples],
        [float(s.running) for s in samples],
        [s.kv_usage * 100.0 for s in samples],
    )


def describe_deployment(spec: DeploymentSpec) -> dict[str, Any]:
    """The deployment's identity and limits, for the report header."""
    s = spec.settings
    return {
        "name": spec.name,
        "replicas": spec.replicas,
        "router": spec.router,
        "max_num_seqs": s.max_num_seqs,
        "max_num_batched_tokens": s.max_num_batched_tokens,
        "kv_blocks": s.kv_blocks,
        "block_size": s.block_size,
        "prefix_caching": s.prefix_caching,
        "max_waiting": s.max_waiting,
        "queue_timeout_s": s.queue_timeout_ms / 1000.0,
        "cold_start": spec.cold_start,
        "cold_shape_ms": spec.step.cold_shape_ms,
        **{k: v for k, v in spec.facts.items() if k in ("model", "gpu", "tp")},
    }


def render(fmt: str, spec: DeploymentSpec, workload: dict[str, Any], seed: int, reports: Sequence[PointReport]) -> str:
    """The report in ``fmt`` (text, json or csv)."""
    if fmt == "json":
        return (
            json_text(
                {
                    "deployment": describe_deployment(spec),
                    "workload": workload,
                    "seed": seed,
                    "points": [p.summary for p in reports],
                }
            )
            + "\n"
        )
    if fmt == "csv":
        return to_csv(reports)
    return to_text(spec, workload, seed, reports)


# CSV columns: (header, path into the summary).
_CSV_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("load_kind", ("load", "kind")),
    ("load_value", ("load", "value")),
    ("sent", ("requests", "sent")),
    ("completed", ("requests", "completed")),
    ("rejected", ("requests", "rejected")),
    ("timed_out", ("requests", "timed_out")),
    ("unfinished", ("requests", "unfinished")),
    *((f"{m}_{q}_ms", (f"{m}_ms", q)) for m in ("ttft", "tpot", "e2e") for q in ("p50", "p90", "p99", "mean")),
    ("output_tokens_per_s", ("throughput", "output_tokens_per_s")),
    ("requests_per_s", ("throughput", "requests_per_s")),
    ("waiting_mean", ("queue", "waiting_mean")),
    ("waiting_max", ("queue", "waiting_max")),
    ("running_mean", ("queue", "running_mean")),
    ("kv_usage_mean", ("kv_usage", "mean")),
    ("kv_usage_max", ("kv_usage", "max")),
    ("preemptions", ("preemptions",)),
    ("prefix_cache_hit_rate", ("prefix_cache_hit_rate",)),
    ("mean_batch_size", ("mean_batch_size",)),
    ("virtual_duration_s", ("virtual_duration_s",)),
)


def _get(summary: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = summary
    for key in path:
        if value is None:
            return ""
        value = value[key]
    return "" if value is None else value


def to_csv(reports: Sequence[PointReport]) -> str:
    """One header row, then one row per load point (empty cells where nothing finished)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in _CSV_COLUMNS])
    for report in reports:
        writer.writerow([_get(report.summary, path) for _, path in _CSV_COLUMNS])
    return out.getvalue()


def _ms(dist: dict[str, float] | None, key: str) -> str:
    if dist is None:
        return "-"
    value = dist[key]
    return f"{value / 1000.0:.2f}s" if value >= 10_000 else f"{value:.1f}"


def _plain(value: Any) -> str:
    """A header value: lists as ``1,2,4``, floats without a trailing ``.0``."""
    if isinstance(value, list):
        return ",".join(_plain(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def to_text(spec: DeploymentSpec, workload: dict[str, Any], seed: int, reports: Sequence[PointReport]) -> str:
    """A header and a fixed-width table, one row per load point (latencies in ms unless marked s)."""
    d = describe_deployment(spec)
    lines = [
        f"deployment {d['name']}: {d['replicas']} replica(s), router {d['router']}, "
        f"max_num_seqs {d['max_num_seqs']}, max_num_batched_tokens {d['max_num_batched_tokens']}, "
        f"{d['kv_blocks']} KV blocks of {d['block_size']}, prefix caching {'on' if d['prefix_caching'] else 'off'}",
        "workload " + ", ".join(f"{k} {_plain(v)}" for k, v in workload.items() if v is not None) + f", seed {seed}",
        "",
    ]
    header = (
        "load",
        "done",
        "rej",
        "t/o",
        "TTFT p50",
        "p90",
        "p99",
        "TPOT p50",
        "p99",
        "E2E p50",
        "p99",
        "tok/s",
        "req/s",
        "wait avg",
        "max",
        "KV avg",
        "max",
        "preempt",
        "prefix hit",
    )
    rows = [header]
    for report in reports:
        s = report.summary
        req = s["requests"]
        rows.append(
            (
                s["label"],
                str(req["completed"]),
                str(req["rejected"]),
                str(req["timed_out"]),
                _ms(s["ttft_ms"], "p50"),
                _ms(s["ttft_ms"], "p90"),
                _ms(s["ttft_ms"], "p99"),
                _ms(s["tpot_ms"], "p50"),
                _ms(s["tpot_ms"], "p99"),
                _ms(s["e2e_ms"], "p50"),
                _ms(s["e2e_ms"], "p99"),
                f"{s['throughput']['output_tokens_per_s']:.0f}",
                f"{s['throughput']['requests_per_s']:.2f}",
                f"{s['queue']['waiting_mean']:.1f}",
                str(s["queue"]["waiting_max"]),
                f"{s['kv_usage']['mean'] * 100:.0f}%",
                f"{s['kv_usage']['max'] * 100:.0f}%",
                str(s["preemptions"]),
                f"{s['prefix_cache_hit_rate'] * 100:.0f}%",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines.append(
        "latencies in ms (s where marked); TPOT = mean inter-token time per request; "
        "throughput over the whole run including the queue's drain"
    )
    return "\n".join(lines) + "\n"


def charts(reports: Sequence[PointReport]) -> list[LineChart]:
    """Latency and throughput vs load, then waiting requests and KV usage over time per point."""
    kind = reports[0].summary["load"]["kind"] if reports else "rate"
    x_label = {"rate": "offered load (requests/s)", "concurrency": "concurrent clients"}.get(kind, "trace speed-up")
    xs = [float(r.summary["load"]["value"]) for r in reports]

    def series(metric: str, quantiles: Sequence[str]) -> list[tuple[str, list[float], list[float]]]:
        out = []
        for q in quantiles:
            points = [(x, r.summary[metric][q]) for x, r in zip(xs, reports, strict=True) if r.summary[metric]]
            out.append((q, [p[0] for p in points], [p[1] for p in points]))
        return out

    return [
        LineChart("TTFT vs load", x_label, "ms", series("ttft_ms", ("p50", "p90", "p99"))),
        LineChart("TPOT (inter-token) vs load", x_label, "ms", series("tpot_ms", ("p50", "p90", "p99"))),
        LineChart("E2E vs load", x_label, "ms", series("e2e_ms", ("p50", "p90", "p99"))),
        LineChart(
            "Output throughput vs load",
            x_label,
            "tokens/s",
            [("output tok/s", xs, [r.summary["throughput"]["output_tokens_per_s"] for r in reports])],
        ),
        LineChart(
            "Waiting requests over time",
            "virtual seconds",
            "requests",
            [(r.summary["label"], r.times_s, r.waiting) for r in reports],
        ),
        LineChart(
            "KV-cache usage over time",
            "virtual seconds",
            "% of blocks",
            [(r.summary["label"], r.times_s, r.kv_usage) for r in reports],
        ),
    ]

"""Charts of a run: a self-contained HTML page with inline SVG, or a PNG via matplotlib.

The HTML page needs nothing from the network — no CDN, no JavaScript, no external fonts or
stylesheets — so it can be archived with the results and opened offline. SVG elements are
inlined in HTML5 without a namespace declaration (the HTML parser supplies it), which keeps
every ``http://`` reference out of the file.
"""

from __future__ import annotations

import html
import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_simulator.infra.percentile import percentile
from llm_simulator.loadgen.client import RequestResult
from llm_simulator.loadgen.report import to_text

PLOT_SUFFIXES = (".html", ".htm", ".png")
_W, _H = 560, 260
_ML, _MR, _MT, _MB = 60, 16, 30, 40
# Scatter plots above this many points are thinned (every k-th request) to keep pages light.
_MAX_POINTS = 4000


class PlotError(Exception):
    """The plot cannot be produced (unknown file type, matplotlib missing)."""


def check_plot_target(path: Path) -> None:
    """Fail early (before a run) when ``path`` cannot be plotted to."""
    suffix = path.suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise PlotError(f"--plot {path}: use a .html or .png file name")
    if suffix == ".png":
        _matplotlib()


def _matplotlib() -> Any:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise PlotError("PNG plots need matplotlib: pip install matplotlib (or use --plot FILE.html)") from None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def write_plot(path: Path, summary: dict[str, Any], results: Sequence[RequestResult]) -> None:
    """Write the charts to ``path``: HTML (``.html``/``.htm``) or PNG (``.png``)."""
    check_plot_target(path)
    if path.suffix.lower() == ".png":
        write_png(path, results)
    else:
        path.write_text(html_page(summary, results), encoding="utf-8")


def _samples(results: Sequence[RequestResult]) -> dict[str, list[float]]:
    ok = [r for r in results if r.ok]
    return {
        "TTFT": [r.ttft * 1000.0 for r in ok if r.ttft is not None],
        "ITL": [gap * 1000.0 for r in ok for gap in r.itls],
        "E2E": [r.e2e * 1000.0 for r in ok],
    }


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high] (steps of 1, 2 or 5 × 10^k)."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _frame(title: str, x_label: str, y_label: str, body: list[str]) -> str:
    parts = [
        f'<svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{_W / 2}" y="18" text-anchor="middle" class="t">{html.escape(title)}</text>',
        f'<line x1="{_ML}" y1="{_H - _MB}" x2="{_W - _MR}" y2="{_H - _MB}" class="ax"/>',
        f'<line x1="{_ML}" y1="{_MT}" x2="{_ML}" y2="{_H - _MB}" class="ax"/>',
        f'<text x="{_W / 2}" y="{_H - 6}" text-anchor="middle">{html.escape(x_label)}</text>',
        f'<text x="14" y="{_H / 2}" text-anchor="middle" transform="rotate(-90 14 {_H / 2})">'
        f"{html.escape(y_label)}</text>",
        *body,
        "</svg>",
    ]
    return "\n".join(parts)


def _axis_ticks(x0: float, x1: float, y0: float, y1: float) -> list[str]:
    """Tick marks and labels for data ranges [x0, x1] × [y0, y1] mapped onto the plot area."""
    out: list[str] = []
    for x in _ticks(x0, x1):
        px = _ML + (x - x0) / (x1 - x0 or 1) * (_W - _ML - _MR)
        out.append(f'<line x1="{px:.1f}" y1="{_H - _MB}" x2="{px:.1f}" y2="{_H - _MB + 4}" class="ax"/>')
        out.append(f'<text x="{px:.1f}" y="{_H - _MB + 16}" text-anchor="middle">{_fmt(x)}</text>')
    for y in _ticks(y0, y1):
        py = _H - _MB - (y - y0) / (y1 - y0 or 1) * (_H - _MT - _MB)
        out.append(f'<line x1="{_ML - 4}" y1="{py:.1f}" x2="{_W - _MR}" y2="{py:.1f}" class="grid"/>')
        out.append(f'<text x="{_ML - 6}" y="{py + 4:.1f}" text-anchor="end">{_fmt(y)}</text>')
    return out


def svg_histogram(samples: Sequence[float], title: str, color: str) -> str:
    """A histogram of ``samples`` (ms) with p50 and p99 marked.

    Bin count: ``clamp(⌈√n⌉, 5, 50)`` equal-width bins — the square-root rule, bounded so
    small samples still show a shape and large ones stay readable. The bins span
    [min, max], except when max > 3 × p99: then they span [min, p99] and the title says
    how many samples lie beyond, so one outlier cannot squash the whole shape into one bar.
    """
    if not samples:
        return _frame(title + " (no samples)", "ms", "requests", [])
    ordered = sorted(samples)
    low, high = ordered[0], ordered[-1]
    p99 = percentile(ordered, 99.0)
    beyond = 0
    if high > 3 * p99 and p99 > low:
        high = p99
        beyond = sum(1 for v in ordered if v > high)
    bins = min(50, max(5, math.ceil(math.sqrt(len(ordered)))))
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in ordered:
        if value <= high:
            counts[min(bins - 1, int((value - low) / width))] += 1
    top = max(counts) or 1
    span_x = (_W - _ML - _MR) / bins
    body = _axis_ticks(low, low + width * bins, 0, top)
    for i, count in enumerate(counts):
        h = count / top * (_H - _MT - _MB)
        x = _ML + i * span_x
        body.append(
            f'<rect x="{x:.1f}" y="{_H - _MB - h:.1f}" width="{max(span_x - 1, 1):.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{_fmt(low + i * width)}–{_fmt(low + (i + 1) * width)} ms: {count}</title></rect>'
        )
    for row, (p, dash) in enumerate(((50.0, "4 3"), (99.0, "2 2"))):
        value = percentile(ordered, p)
        px = _ML + (value - low) / (width * bins) * (_W - _ML - _MR)
        body.append(
            f'<line x1="{px:.1f}" y1="{_MT}" x2="{px:.1f}" y2="{_H - _MB}" stroke="#333" stroke-dasharray="{dash}"/>'
        )
        # Labels on separate rows, right-aligned near the right edge, so they never overlap.
        anchor, dx = ("end", -3) if px > _W - _MR - 90 else ("start", 3)
        body.append(
            f'<text x="{px + dx:.1f}" y="{_MT + 10 + 12 * row}" text-anchor="{anchor}">p{p:g} {_fmt(value)}</text>'
        )
    note = f", {beyond} above p99 not shown" if beyond else ""
    return _frame(f"{title} distribution (n={len(ordered)}{note})", "ms", "count", body)


def svg_over_time(results: Sequence[RequestResult]) -> str:
    """E2E (and TTFT) of every request against its start time; failures in red."""
    if not results:
        return _frame("Latency over time (no requests)", "s", "ms", [])
    step = max(1, math.ceil(len(results) / _MAX_POINTS))
    shown = list(results[::step])
    x1 = max(r.start for r in shown) or 1.0
    y1 = max(max(r.e2e for r in shown) * 1000.0, 1e-3)
    body = _axis_ticks(0.0, x1, 0.0, y1)

    def point(x: float, y: float) -> tuple[float, float]:
        return _ML + x / x1 * (_W - _ML - _MR), _H - _MB - y / y1 * (_H - _MT - _MB)

    for r in shown:
        px, py = point(r.start, r.e2e * 1000.0)
        color = "#1f77b4" if r.ok else "#d62728"
        body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="1.8" fill="{color}"/>')
        if r.ttft is not None and r.ok:
            px, py = point(r.start, r.ttft * 1000.0)
            body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="1.4" fill="#ff7f0e"/>')
    legend = [
        f'<circle cx="{_W - 190}" cy="{_MT - 6}" r="3" fill="#1f77b4"/><text x="{_W - 184}" y="{_MT - 2}">E2E</text>',
        f'<circle cx="{_W - 150}" cy="{_MT - 6}" r="3" fill="#ff7f0e"/><text x="{_W - 144}" y="{_MT - 2}">TTFT</text>',
        f'<circle cx="{_W - 105}" cy="{_MT - 6}" r="3" fill="#d62728"/><text x="{_W - 99}" y="{_MT - 2}">failed</text>',
    ]
    thinned = f", every {step}th request" if step > 1 else ""
    return _frame(f"Latency over time{thinned}", "seconds into the run (send time)", "ms", body + legend)


def svg_throughput(results: Sequence[RequestResult]) -> str:
    """Completions per one-second bucket of the run (by completion time)."""
    if not results:
        return _frame("Completions per second (no requests)", "s", "req/s", [])
    ends = [r.start + r.e2e for r in results]
    buckets = [0] * (int(max(ends)) + 1)
    for end in ends:
        buckets[int(end)] += 1
    top = max(buckets) or 1
    span = (_W - _ML - _MR) / len(buckets)
    body = _axis_ticks(0.0, float(len(buckets)), 0.0, float(top))
    for i, count in enumerate(buckets):
        h = count / top * (_H - _MT - _MB)
        body.append(
            f'<rect x="{_ML + i * span:.1f}" y="{_H - _MB - h:.1f}" width="{max(span - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#2ca02c"><title>{i}–{i + 1} s: {count}</title></rect>'
        )
    return _frame("Completions per second", "seconds into the run", "requests", body)


# Line colours, in order, for multi-series charts (matplotlib's default cycle).
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
# Dash patterns, in order, for charts that must read in grey too (``LineChart.dashed``).
_DASHES = ("", "6 3", "2 2", "8 2 2 2")


@dataclass(frozen=True)
class LineChart:
    """A chart of one or more named series of (x, y) points, drawn as lines with markers."""

    title: str
    x_label: str
    y_label: str
    series: list[tuple[str, list[float], list[float]]] = field(default_factory=list)
    # Thin every series to at most this many points (every k-th), so long timelines stay light.
    max_points: int = 1000
    # A dash pattern per series too, so the chart stays readable printed in grey.
    dashed: bool = False


def _thin(xs: Sequence[float], ys: Sequence[float], limit: int) -> tuple[list[float], list[float]]:
    step = max(1, math.ceil(len(xs) / limit))
    return list(xs[::step]), list(ys[::step])


def svg_lines(chart: LineChart) -> str:
    """``chart`` as an inline SVG: one polyline per series (a dot per point when few), a legend.

    Axes start at 0 when every value is positive, so a doubling looks like a doubling.
    """
    series = [(name, *_thin(xs, ys, chart.max_points)) for name, xs, ys in chart.series if xs]
    if not series:
        return _frame(chart.title + " (no data)", chart.x_label, chart.y_label, [])
    all_x = [x for _, xs, _ in series for x in xs]
    all_y = [y for _, _, ys in series for y in ys]
    x0, x1 = min(0.0, *all_x), max(all_x)
    y0, y1 = min(0.0, *all_y), max(all_y)
    if x1 <= x0:
        x1 = x0 + 1.0
    if y1 <= y0:
        y1 = y0 + 1.0
    body = _axis_ticks(x0, x1, y0, y1)

    def point(x: float, y: float) -> str:
        px = _ML + (x - x0) / (x1 - x0) * (_W - _ML - _MR)
        py = _H - _MB - (y - y0) / (y1 - y0) * (_H - _MT - _MB)
        return f"{px:.1f},{py:.1f}"

    # The legend sits inside the plot's top-right corner on a light box so lines under it stay legible.
    body_legend = [
        f'<rect x="{_W - _MR - 114}" y="{_MT - 8}" width="112" height="{12 * len(series) + 4}" '
        'fill="#fff" fill-opacity="0.85"/>'
    ]
    for i, (name, xs, ys) in enumerate(series):
        color = _PALETTE[i % len(_PALETTE)]
        dash = _DASHES[i % len(_DASHES)] if chart.dashed else ""
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        points = [point(x, y) for x, y in zip(xs, ys, strict=True)]
        body.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="1.5"{dash_attr}>'
            f"<title>{html.escape(name)}</title></polyline>"
        )
        if len(points) <= 50:
            for p in points:
                cx, cy = p.split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
        ly = _MT + 2 + 12 * i
        body_legend.append(
            f'<line x1="{_W - _MR - 110}" y1="{ly - 4}" x2="{_W - _MR - 96}" y2="{ly - 4}" '
            f'stroke="{color}" stroke-width="2"{dash_attr}/>'
        )
        body_legend.append(f'<text x="{_W - _MR - 92}" y="{ly}">{html.escape(name)}</text>')
    return _frame(chart.title, chart.x_label, chart.y_label, body + body_legend)


def charts_page(title: str, text: str, charts: Sequence[LineChart]) -> str:
    """A self-contained HTML page: ``text`` (preformatted) above ``charts`` as inline SVG."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
        f'<pre>{_inert(text)}</pre>\n<div class="charts">\n'
        + "\n".join(svg_lines(chart) for chart in charts)
        + "\n</div>\n</body></html>\n"
    )


def write_charts(path: Path, title: str, text: str, charts: Sequence[LineChart]) -> None:
    """Write ``charts`` to ``path``: an HTML page (``.html``/``.htm``) or a PNG grid (``.png``, matplotlib)."""
    check_plot_target(path)
    if path.suffix.lower() != ".png":
        path.write_text(charts_page(title, text, charts), encoding="utf-8")
        return
    plt = _matplotlib()
    cols = 2
    rows = max(1, math.ceil(len(charts) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(12, 4 * rows), squeeze=False)
    for ax, chart in zip(axes.flat, charts, strict=False):
        ax.set_title(chart.title)
        ax.set_xlabel(chart.x_label)
        ax.set_ylabel(chart.y_label)
        for name, xs, ys in chart.series:
            tx, ty = _thin(xs, ys, chart.max_points)
            ax.plot(tx, ty, marker="o" if len(tx) <= 50 else None, markersize=3, label=name)
        if chart.series:
            ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(charts) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


_STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; }
pre { background: #f6f6f6; padding: 12px; overflow-x: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
svg { background: #fff; border: 1px solid #ddd; font-size: 11px; }
svg .t { font-size: 13px; font-weight: bold; }
svg .ax { stroke: #444; }
svg .grid { stroke: #eee; }
"""


def svg_line_file(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]], title: str, x_label: str, y_label: str
) -> str:
    """A standalone SVG line chart of named series of (x, y) points, for a file embedded in Markdown.

    ``svg_lines`` with dashed series (readable in grey), points whose y is not finite left
    out, and the style and SVG namespace inside the file, since no page carries them.
    """
    chart = LineChart(title, x_label, y_label, dashed=True)
    for name, points in series:
        kept = [(x, y) for x, y in points if math.isfinite(y)]
        chart.series.append((name, [x for x, _ in kept], [y for _, y in kept]))
    svg = svg_lines(chart)
    head, rest = svg.split(">", 1)
    return head.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1) + f"><style>{_STYLE}</style>" + rest


def _inert(text: str) -> str:
    """HTML-escape ``text`` and write ``:`` of a URL scheme as ``&#58;``.

    The page shows the same characters, but contains no literal ``http://`` at all, so a
    scan for network references (or an overeager proxy rewriting links) finds nothing.
    """
    return html.escape(text).replace("://", "&#58;//")


def html_page(summary: dict[str, Any], results: Sequence[RequestResult]) -> str:
    """The self-contained report page: the text summary and five inline SVG charts."""
    samples = _samples(results)
    charts = [
        svg_histogram(samples["TTFT"], "TTFT", "#ff7f0e"),
        svg_histogram(samples["ITL"], "ITL", "#9467bd"),
        svg_histogram(samples["E2E"], "E2E", "#1f77b4"),
        svg_over_time(results),
        svg_throughput(results),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>llm-simulator benchmark</title>"
        f"<style>{_STYLE}</style></head><body>\n<h1>llm-simulator benchmark</h1>\n"
        f'<pre>{_inert(to_text(summary))}</pre>\n<div class="charts">\n'
        + "\n".join(charts)
        + "\n</div>\n</body></html>\n"
    )


def write_png(path: Path, results: Sequence[RequestResult]) -> None:
    """The same charts as a PNG (2×2 grid) with matplotlib, imported only here."""
    plt = _matplotlib()
    samples = _samples(results)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for ax, (name, values) in zip(axes.flat, samples.items(), strict=False):
        ax.set_title(f"{name} distribution (n={len(values)})")
        ax.set_xlabel("ms")
        if values:
            ax.hist(values, bins=min(50, max(5, math.ceil(math.sqrt(len(values))))))
    ax = axes.flat[3]
    ax.set_title("Latency over time")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("ms")
    ax.scatter([r.start for r in results], [r.e2e * 1000.0 for r in results], s=4, label="E2E")
    ax.scatter(
        [r.start for r in results if r.ttft is not None],
        [r.ttft * 1000.0 for r in results if r.ttft is not None],
        s=4,
        label="TTFT",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

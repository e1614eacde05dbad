"""Report formats and plots on a synthetic run."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from llm_simulator.loadgen.client import RequestResult, RequestSpec
from llm_simulator.loadgen.plot import PlotError, check_plot_target, html_page, write_plot
from llm_simulator.loadgen.report import CSV_COLUMNS, build_summary, render
from llm_simulator.loadgen.runner import LoadConfig
from llm_simulator.loadgen.stats import ClientOverhead, RunOutcome

SPEC = RequestSpec(
    provider="anthropic", base_url="http://h:1", model="m", api_key="sk-secret", headers=(("X-Secret", "v"),)
)
CONFIG = LoadConfig(requests=3, concurrency=2)


def _outcome() -> RunOutcome:
    results = [
        RequestResult(
            start=0.0,
            status=200,
            ttft=0.05,
            e2e=0.2,
            itls=[0.01, 0.02],
            output_tokens=3,
            token_source="usage",
            content_events=3,
        ),
        RequestResult(
            start=0.1,
            status=200,
            ttft=0.06,
            e2e=0.25,
            itls=[0.015],
            output_tokens=2,
            token_source="usage",
            content_events=2,
        ),
        RequestResult(start=0.2, status=529, e2e=0.01, error="overloaded_error", detail='Overloaded, "busy"'),
    ]
    overhead = ClientOverhead(cpu_s=0.003, wall_s=0.5, loop_lag_s=[0.0001] * 20, event_loop="uvloop")
    return RunOutcome(results=results, duration_s=0.5, overhead=overhead)


def test_json_has_summary_and_parameters_without_secrets() -> None:
    outcome = _outcome()
    summary = build_summary(outcome, SPEC, CONFIG)
    text = render(summary, outcome.results, "json")
    data = json.loads(text)
    assert data["parameters"]["provider"] == "anthropic"
    assert data["parameters"]["headers"] == ["x-secret"]
    assert data["requests"]["failed"] == 1
    assert data["errors"]["by_status"] == {"529": 1}
    assert data["latency_ms"]["ttft"]["p50"] == pytest.approx(55.0)
    assert data["client"]["event_loop"] == "uvloop"
    assert "sk-secret" not in text


def test_csv_one_row_per_request() -> None:
    outcome = _outcome()
    text = render(build_summary(outcome, SPEC, CONFIG), outcome.results, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3
    assert rows[0]["ttft_ms"] == "50.000"
    assert rows[0]["itl_mean_ms"] == "15.000"
    assert rows[2]["status"] == "529"
    assert rows[2]["ok"] == "0"
    assert rows[2]["ttft_ms"] == ""
    assert rows[2]["detail"] == 'Overloaded, "busy"'


def test_text_table() -> None:
    outcome = _outcome()
    text = render(build_summary(outcome, SPEC, CONFIG), outcome.results, "text")
    assert "3 total, 2 ok, 1 failed (66.7 % success)" in text
    assert "  TTFT" in text
    assert "p99" in text
    assert "HTTP 529: 1 (overloaded_error: 1)" in text
    assert "µs/request" in text
    with pytest.raises(ValueError, match="unknown format"):
        render({}, [], "xml")


def test_html_plot_is_self_contained(tmp_path: Path) -> None:
    outcome = _outcome()
    path = tmp_path / "report.html"
    write_plot(path, build_summary(outcome, SPEC, CONFIG), outcome.results)
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 5
    for forbidden in ("http://", "https://", "<script", "<link", "@import", "src="):
        assert forbidden not in page
    assert "http&#58;//h:1" in page


def test_html_plot_handles_no_samples() -> None:
    page = html_page(build_summary(RunOutcome([], 0.0, ClientOverhead(0, 0, [], "asyncio")), SPEC, CONFIG), [])
    assert "no samples" in page


def test_png_without_matplotlib_names_the_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotError, match="pip install matplotlib"):
        check_plot_target(tmp_path / "x.png")
    with pytest.raises(PlotError, match=r"\.html or \.png"):
        check_plot_target(tmp_path / "x.svg")

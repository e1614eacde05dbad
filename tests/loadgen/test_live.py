"""The load generator against a real simulator process, through the CLI entry points."""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_simulator.cli import benchmark
from llm_simulator.loadgen import LoadConfig, RequestSpec, Target, poisson_arrivals, run_all_benchmarks, run_load_sync
from llm_simulator.wire.defaults import LoadProvider
from tests.live import LiveServer, free_port, live_server


@pytest.fixture(scope="module")
def sim() -> Iterator[LiveServer]:
    with live_server("--latency-multiplier", "0.05") as live:
        yield live


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="llm-simulator")
    benchmark.add_parser(parser.add_subparsers(dest="command", required=True))
    return benchmark.run(parser.parse_args(["benchmark", *argv]))


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "ollama", "bedrock"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
def test_each_provider(sim: LiveServer, provider: LoadProvider, stream: bool) -> None:
    spec = RequestSpec(provider=provider, base_url=sim.url, model=_model(provider), stream=stream, max_tokens=16)
    outcome = run_load_sync(spec, LoadConfig(requests=12, concurrency=4))
    assert len(outcome.results) == 12
    for r in outcome.results:
        assert r.ok, (r.status, r.error, r.detail)
        assert r.status == 200
        assert r.output_tokens > 0
        assert r.token_source == "usage"
        if stream:
            assert r.ttft is not None
            assert 0 < r.ttft < r.e2e
            assert r.itls, "a streamed reply has gaps between content events"
        else:
            assert r.ttft is None
            assert not r.itls


def _model(provider: LoadProvider) -> str:
    return {
        "openai": "gpt-4o-mini",
        "anthropic": "claude-3-5-haiku-20241022",
        "gemini": "gemini-2.0-flash",
        "ollama": "llama3.2",
        "bedrock": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    }[provider]


@pytest.mark.parametrize(
    ("control", "error"),
    [
        ("fault=error_event; after=2; fault_error=rate_limit", "stream:throttlingException"),
        ("fault=malformed; after=2", "stream:malformed_chunk"),
        ("fault=no_terminator; after=2", "incomplete_stream"),
        ("error=overloaded", "ModelNotReadyException"),
    ],
)
def test_bedrock_failures_are_named(sim: LiveServer, control: str, error: str) -> None:
    spec = RequestSpec(
        provider="bedrock",
        base_url=sim.url,
        model=_model("bedrock"),
        max_tokens=16,
        headers=(("x-simulator-chaos", control),),
    )
    (result,) = run_load_sync(spec, LoadConfig(requests=1, concurrency=1)).results
    assert result.error == error, (result.status, result.detail)
    assert result.detail


def test_chaos_errors_are_counted_by_status(
    sim: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "chaos.json"
    args = ["--url", sim.url, "-n", "10", "-c", "5", "--no-progress", "--format", "json", "-o", str(out)]
    chaos = ["--header", "x-simulator-chaos: error=server_error"]
    assert cli(*args, *chaos) == 0
    data = json.loads(out.read_text())
    assert data["requests"]["failed"] == 10
    assert data["errors"] == {"by_status": {"500": 10}, "by_kind": {"server_error": 10}}
    assert "HTTP 500: 10 (server_error: 10)" in capsys.readouterr().out  # the text summary still prints
    assert cli(*args, *chaos, "--fail-on-error") == 1
    assert cli(*args, "--fail-on-error") == 0


def test_in_stream_fault_is_an_error(sim: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(
        "--url", sim.url, "--provider", "anthropic", "-n", "4", "-c", "2", "--no-progress", "--format", "json",
        "--header", "x-simulator-chaos: fault=error_event; after=2",
    )  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["errors"]["by_status"] == {"200": 4}
    assert list(data["errors"]["by_kind"]) == ["stream:overloaded_error"]


def test_ollama_in_stream_fault_and_rate_limit_through_the_cli(
    sim: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(
        "--url", sim.url, "--provider", "ollama", "-n", "4", "-c", "2", "--no-progress", "--format", "json",
        "--header", "x-simulator-chaos: fault=error_event; after=2",
    )  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"]["provider"] == "ollama"
    assert data["errors"]["by_status"] == {"200": 4}
    assert list(data["errors"]["by_kind"]) == ["stream:error"]
    assert cli("--url", sim.url, "--provider", "ollama", "-n", "3", "--no-progress", "--format", "json",
               "--header", "x-simulator-chaos: error=rate_limit") == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["errors"] == {"by_status": {"429": 3}, "by_kind": {"http_429": 3}}


def test_open_loop_rate(sim: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--url", sim.url, "--rate", "50", "--duration", "1", "--no-stream", "--no-progress", "--format", "json"]
    assert cli(*args, "--seed", "3") == 0
    data = json.loads(capsys.readouterr().out)
    arrivals = poisson_arrivals(50.0, random.Random(3))
    expected = sum(1 for _ in iter(lambda: next(arrivals) < 1.0, False))
    assert data["requests"]["total"] == expected
    assert 30 <= expected <= 70
    assert data["requests"]["failed"] == 0
    assert data["parameters"]["mode"] == "open"
    assert data["open_loop"]["scheduled"] == expected
    assert data["open_loop"]["target_rate"] == 50.0


def test_csv_output_and_html_plot(sim: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "x.html"
    assert cli("--url", sim.url, "-n", "8", "-c", "4", "--max-tokens", "8", "--no-progress", "--format", "csv",
               "--plot", str(plot)) == 0  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 8
    assert all(row["ok"] == "1" and float(row["ttft_ms"]) < float(row["e2e_ms"]) for row in rows)
    page = plot.read_text()
    assert "<svg" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page


def test_run_all_benchmarks_writes_results(sim: LiveServer, tmp_path: Path) -> None:
    targets = [
        Target("tiny-plain", "non-streamed", stream=False, config=LoadConfig(requests=4, concurrency=2)),
        Target("tiny-stream", "streamed", stream=True, config=LoadConfig(requests=4, concurrency=2), max_tokens=8),
        Target("tiny-rate", "open loop", stream=True, config=LoadConfig(requests=4, rate=40.0), max_tokens=8),
    ]
    results = run_all_benchmarks(targets, url=sim.url, output_dir=tmp_path)
    assert [r.target_id for r in results] == ["tiny-plain", "tiny-stream", "tiny-rate"]
    for r in results:
        assert r.metrics["requests"] == 4
        assert r.metrics["failed"] == 0
        assert r.timestamp.endswith("Z")
        raw = json.loads((tmp_path / f"{r.target_id}.json").read_text())
        assert raw["target_id"] == r.target_id
        assert raw["summary"]["requests"]["total"] == 4
    assert results[1].metrics["ttft_p50_ms"] is not None
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert [item["target_id"] for item in latest] == ["tiny-plain", "tiny-stream", "tiny-rate"]
    assert set(latest[0]) == {"target_id", "metrics", "timestamp"}
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("| tiny-") == 3


def test_run_subcommand(sim: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --url before "run" is kept: the subcommand must not reset it.
    code = cli("--url", sim.url, "run", "--output-dir", str(tmp_path), "--targets", "chat-stream-c8",
               "--target-duration", "0.3", "--no-progress")  # fmt: skip
    assert code == 0
    assert (tmp_path / "chat-stream-c8.json").exists()
    assert "| chat-stream-c8 |" in capsys.readouterr().out
    assert cli("run", "--url", sim.url, "--output-dir", str(tmp_path), "--targets", "nope") == 2
    assert "unknown nope" in capsys.readouterr().err


def test_bad_url_and_arguments_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli("--url", f"http://127.0.0.1:{free_port()}", "-n", "1", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "cannot reach" in err
    assert "Traceback" not in err
    assert cli("--url", "localhost:8080") == 2
    assert "expected http(s)://" in capsys.readouterr().err
    assert cli("--url", "http://127.0.0.1:1", "--header", "bad") == 2
    assert cli("--url", "http://127.0.0.1:1", "--concurrency", "0") == 2
    assert cli("--url", "http://127.0.0.1:1", "--prompt-file", str(tmp_path / "missing.txt")) == 2
    assert cli("--url", "http://127.0.0.1:1", "--output", str(tmp_path / "no" / "dir.json")) == 2
    assert cli() == 2
    assert "--url is required" in capsys.readouterr().err

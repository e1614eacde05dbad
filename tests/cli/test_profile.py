"""``llm-simulator profile fit`` / ``compare``: the documents they write, their reports, bad input,
and a fitted profile served for real (``serve --config``) timing a streamed request."""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

import openai
import orjson
import pytest
import yaml

from llm_simulator.cli.main import main
from llm_simulator.config.loader import load_config
from tests.live import live_server

SAMPLES = Path(__file__).resolve().parents[1] / "adapters" / "samples"


def test_fit_writes_a_loadable_config_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "profile.yaml"
    argv = ["profile", "fit", str(SAMPLES / "llmperf_individual_responses.json"), "--name", "endpoint-a"]
    assert main([*argv, "--model", "gpt-4o", "--default", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "wrote profile 'endpoint-a'" in err and "note: cold start" in err
    text = out.read_text()
    assert text.startswith("# Fitted by llm-simulator profile fit from llmperf")
    config = load_config(out)
    spec = config.latency.profiles["endpoint-a"]
    assert spec.ttft.type == "mixture"  # the sample's one 2.9 s request is a cold start
    assert config.latency.default_profile == "endpoint-a"
    assert config.models.add[0].id == "gpt-4o" and config.models.add[0].latency_profile == "endpoint-a"


def test_fit_json_to_stdout_and_pooled_files(capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = str(SAMPLES / "benchmark.csv")
    assert main(["profile", "fit", csv_file, csv_file, "--format", "json", "--no-cold-start"]) == 0
    document = orjson.loads(capsys.readouterr().out)
    ttft = document["latency"]["profiles"]["measured"]["ttft"]
    assert ttft["type"] == "log_normal" and ttft["p50_ms"] == pytest.approx(201.5, rel=0.01)


def test_fit_picks_a_load_point(capsys: pytest.CaptureFixture[str]) -> None:
    report = str(SAMPLES / "guidellm_benchmarks.json")
    assert main(["profile", "fit", report, "--point", "1", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "2 load points; using 1" in captured.err
    profile = orjson.loads(captured.out)["latency"]["profiles"]["measured"]
    assert profile["ttft"]["p50_ms"] == pytest.approx(110.0)
    assert main(["profile", "fit", report, "--point", "5"]) == 2
    assert "--point 5 is out of range (the file has 2 load points)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "empty file"), ('{"unrelated": true}', "not a known measurement format"), ("[1, 2", "invalid JSON")],
)
def test_fit_refuses_garbage_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["profile", "fit", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"llm-simulator: {bad}: ") and problem in err
    assert "\n" not in err  # one line, no traceback


def test_compare_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = str(SAMPLES / "profile_export_aiperf.json")
    assert main(["profile", "compare", data, "--profile", "gpt4"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("profile gpt4 vs aiperf") and "KS" in text and "p99" in text
    assert main(["profile", "compare", data, "--profile", "gpt4", "--format", "json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    ttft = report["metrics"]["ttft"]
    # gpt4's TTFT (about 300 ms + prefill) is far below the measured 788 ms median.
    median = next(q for q in ttft["quantiles"] if q["q"] == 0.5)
    assert median["log_error"] < -0.3 and ttft["ks"] > 0.3


def test_compare_a_fitted_profile_from_its_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(SAMPLES / "profile_export_aiperf.json")
    out = tmp_path / "p.yaml"
    assert main(["profile", "fit", data, "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["profile", "compare", data, "--profile", "measured", "--config", str(out), "--format", "json"]) == 0
    ttft = orjson.loads(capsys.readouterr().out)["metrics"]["ttft"]
    assert abs(next(q for q in ttft["quantiles"] if q["q"] == 0.5)["log_error"]) < 0.05
    assert main(["profile", "compare", data, "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_compare_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "cdf.png"
    argv = ["profile", "compare", str(SAMPLES / "benchmark.csv"), "--profile", "standard", "--plot", str(plot)]
    if importlib.util.find_spec("matplotlib") is None:
        assert main(argv) == 2
        assert "--plot needs matplotlib" in capsys.readouterr().err
    else:
        assert main(argv) == 0
        assert plot.read_bytes().startswith(b"\x89PNG")
    assert main([*argv[:-1], str(tmp_path / "cdf.svg")]) == 2


def test_fitted_profile_served_times_a_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fit from aiperf's summary (TTFT p50 ≈ 790 ms), serve with it, and stream: TTFT follows the fit."""
    out = tmp_path / "fitted.yaml"
    assert (
        main(["profile", "fit", str(SAMPLES / "profile_export_aiperf.json"), "--model", "gpt-4o-mini", "-o", str(out)])
        == 0
    )
    fitted = yaml.safe_load(out.read_text())["latency"]["profiles"]["measured"]
    assert fitted["ttft"]["p50_ms"] == pytest.approx(787.5, rel=0.01)
    with live_server("--config", str(out), "--seed", "5") as server:
        client = openai.OpenAI(base_url=server.openai_base, api_key="k", max_retries=0)
        ttfts = []
        for _ in range(3):
            start = time.monotonic()
            first = None
            for chunk in client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=3, stream=True
            ):
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.monotonic() - start
            assert first is not None
            ttfts.append(first)
    # The fitted body spans roughly 400–1200 ms; the default gpt4 profile would give ~300 ms.
    assert 0.35 <= statistics.median(ttfts) <= 4.0

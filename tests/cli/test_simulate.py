"""``llm-simulator simulate``: workloads, formats, plots, reproducibility and bad input (all tiny runs)."""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path

import orjson
import pytest

from llm_simulator.cli.main import main

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "azure-llm-inference-2023"
HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
# Small requests and short runs: every test here simulates well under a second of CPU.
SMALL = ["--prompt-tokens", "100:300", "--output-tokens", "20:60", "--no-progress"]


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["simulate", *argv, "--format", "json"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def points(data: dict[str, object]) -> list[dict[str, object]]:
    value = data["points"]
    assert isinstance(value, list)
    return value


def write_trace(tmp_path: Path, body: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_same_seed_same_bytes_other_seed_other_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--rates", "5,20", "--duration", "5", *SMALL, "--format", "json"]
    assert main([*argv, "--seed", "7"]) == 0
    first = capsys.readouterr().out
    assert main([*argv, "--seed", "7"]) == 0
    assert capsys.readouterr().out == first
    assert main([*argv, "--seed", "8"]) == 0
    assert capsys.readouterr().out != first


def test_poisson_sweep_reports_every_point(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(["--rates", "2,8", "--duration", "10", *SMALL], capsys)
    pts = points(data)
    assert [p["label"] for p in pts] == ["rate 2/s", "rate 8/s"]
    for p in pts:
        requests = p["requests"]
        assert isinstance(requests, dict)
        assert requests["completed"] == requests["sent"] > 0
        for metric in ("ttft_ms", "tpot_ms", "e2e_ms"):
            dist = p[metric]
            assert isinstance(dist, dict)
            assert 0 < dist["p50"] <= dist["p90"] <= dist["p99"]
    low, high = (p["requests"]["sent"] for p in pts)  # type: ignore[index]
    assert high > low


def test_load_makes_it_slower(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(["--concurrency", "1,64", "--requests-per-point", "128", *SMALL], capsys)
    one, many = points(data)
    assert many["ttft_ms"]["p50"] > one["ttft_ms"]["p50"]  # type: ignore[index]
    assert many["tpot_ms"]["p50"] > one["tpot_ms"]["p50"]  # type: ignore[index]
    assert many["throughput"]["output_tokens_per_s"] > one["throughput"]["output_tokens_per_s"]  # type: ignore[index]
    assert one["queue"]["running_max"] == 1  # type: ignore[index]


def test_closed_loop_sends_exactly_the_requests_per_point(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(["--concurrency", "4", "--requests-per-point", "30", *SMALL], capsys)
    (point,) = points(data)
    assert point["requests"] == {"sent": 30, "completed": 30, "rejected": 0, "timed_out": 0, "unfinished": 0}


def test_shared_prefix_hits_the_prefix_cache_only_when_caching_is_on(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rate", "10", "--duration", "5", "--shared-prefix-tokens", "256", *SMALL]
    on = points(run_json([*argv, "--prefix-caching"], capsys))[0]
    off = points(run_json([*argv, "--no-prefix-caching"], capsys))[0]
    assert on["prefix_cache_hit_rate"] > 0.3  # type: ignore[operator]
    assert off["prefix_cache_hit_rate"] == 0.0


def test_trace_replay_with_speedup_and_max_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"2023-11-16 18:17:{i:02d}.5000000,{200 + i},{10 + i}\n" for i in range(20))
    trace = write_trace(tmp_path, HEADER + rows)
    data = run_json(["--trace", str(trace), "--max-requests", "12", "--trace-speedup", "4", "--no-progress"], capsys)
    assert data["workload"]["speedup"] == 4.0  # type: ignore[index]
    (point,) = points(data)
    assert point["requests"]["sent"] == 12  # type: ignore[index]
    assert point["load"] == {"kind": "trace", "value": 4.0}
    assert data["workload"]["trace"] == "trace.csv"  # type: ignore[index]


def test_trace_duration_bounds_the_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"{i * 10},100,5\n" for i in range(10))  # numeric seconds are accepted too
    trace = write_trace(tmp_path, HEADER + rows)
    data = run_json(["--trace", str(trace), "--duration", "35", "--no-progress"], capsys)
    assert points(data)[0]["requests"]["sent"] == 4  # type: ignore[index]


@pytest.mark.skipif(not TRACES.is_dir(), reason=f"the shared traces are not checked out beside the repo ({TRACES})")
def test_the_azure_trace_replays(capsys: pytest.CaptureFixture[str]) -> None:
    trace = TRACES / "AzureLLMInferenceTrace_conv.csv"
    data = run_json(["--trace", str(trace), "--max-requests", "300", "--no-progress"], capsys)
    (point,) = points(data)
    assert point["requests"]["completed"] == 300  # type: ignore[index]


def test_text_and_csv_formats(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--concurrency", "1,4", "--requests-per-point", "10", *SMALL]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("deployment vllm-h100-7b-tp1: 1 replica(s)")
    assert "concurrency 1 " in text and "concurrency 4 " in text and "TTFT p50" in text
    assert main([*argv, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["load_value"] for r in rows] == ["1.0", "4.0"]
    assert all(float(r["ttft_p50_ms"]) > 0 and r["completed"] == "10" for r in rows)


def test_overrides_change_the_deployment(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--rate",
        "20",
        "--duration",
        "3",
        *SMALL,
        "--replicas",
        "2",
        "--router",
        "round_robin",
        "--max-num-seqs",
        "4",
        "--max-num-batched-tokens",
        "512",
        "--kv-blocks",
        "900",
    ]
    data = run_json(argv, capsys)
    dep = data["deployment"]
    assert isinstance(dep, dict)
    assert (dep["replicas"], dep["router"], dep["max_num_seqs"], dep["max_num_batched_tokens"], dep["kv_blocks"]) == (
        2,
        "round_robin",
        4,
        512,
        900,
    )
    assert points(data)[0]["queue"]["running_max"] <= 8  # type: ignore[index]


def test_rejections_and_timeouts_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--rate", "200", "--duration", "2", *SMALL, "--max-num-seqs", "2"]
    rejected = points(run_json([*base, "--max-waiting", "5"], capsys))[0]["requests"]
    timed_out = points(run_json([*base, "--queue-timeout", "0.2"], capsys))[0]["requests"]
    assert rejected["rejected"] > 0  # type: ignore[index]
    assert timed_out["timed_out"] > 0  # type: ignore[index]


def test_html_plot_is_written_and_self_contained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "sweep.html"
    argv = ["simulate", "--rates", "2,10", "--duration", "5", *SMALL, "--plot", str(plot)]
    assert main(argv) == 0
    page = plot.read_text(encoding="utf-8")
    assert page.count("<svg") == 6
    for title in ("TTFT vs load", "Output throughput vs load", "Waiting requests over time", "KV-cache usage"):
        assert title in page
    assert "http://" not in page and "https://" not in page
    assert f"plot written to {plot}" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_png_plot_is_written(tmp_path: Path) -> None:
    plot = tmp_path / "sweep.png"
    assert main(["simulate", "--rate", "5", "--duration", "3", *SMALL, "--plot", str(plot)]) == 0
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_output_file_and_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    argv = ["simulate", "--rates", "2,4", "--duration", "3", *SMALL, "--progress", "--format", "json", "-o", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(points(orjson.loads(out.read_bytes()))) == 2
    assert "2/2 rate 4/s" in captured.err and captured.err.endswith("\n")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--rate", "-1"], "argument --rate: '-1' must be a positive number"),
        (["--rate", "nan"], "must be a positive number"),
        (["--rates", "1,0"], "argument --rates: '0' must be a positive number"),
        (["--concurrency", "0"], "must be at least 1"),
        (["--rate", "1", "--duration", "0"], "argument --duration"),
        (["--rate", "1", "--prompt-tokens", "9:3"], "LOW <= HIGH"),
        (["--rate", "1", "--deployment", "nope"], "unknown deployment 'nope' (known: "),
        (["--rate", "1", "--plot", "x.svg"], "use a .html or .png file name"),
        (["--rate", "1", "--output", "/no/such/dir/r.json"], "the directory does not exist"),
        ([], "one of the arguments --rate --rates --concurrency --trace is required"),
        (["--rate", "1", "--concurrency", "2"], "not allowed with argument"),
        (["--rate", "1", "--requests-per-point", "9"], "--requests-per-point applies to --concurrency only"),
        (["--concurrency", "2", "--duration", "9"], "--duration does not apply to --concurrency"),
        (["--rate", "1", "--trace-speedup", "2"], "--trace-speedup applies to --trace only"),
        (["--rates", "1", "--max-requests", "2"], "--max-requests applies to --trace only"),
        (["--trace", "t.csv", "--prompt-tokens", "9"], "do not apply to --trace"),
        (["--rate", "1", "--ramp", "2"], "--ramp applies to --concurrency only"),
        (["--concurrency", "2", "--ramp", "-1"], "argument --ramp: '-1' must not be negative"),
        (["--concurrency", "2", "--ramp", "soon"], "argument --ramp: 'soon' is neither 'auto' nor a number"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("", "empty trace (no header, no requests)"),
        (HEADER, "empty trace (a header but no requests)"),
        ("time,prompt,output\n1,2,3\n", "missing column(s) TIMESTAMP, ContextTokens, GeneratedTokens"),
        (HEADER + "2023-11-16 18:15:46.6805900,374,44\nyesterday,1,2\n", "trace.csv:3: malformed row 'yesterday,1,2'"),
        (HEADER + "1.0,374\n", "trace.csv:2: malformed row"),
        (HEADER + "1.0,-5,3\n", "trace.csv:2: malformed row"),
        (HEADER + "1.0,12,x\n", "trace.csv:2: malformed row"),
    ],
)
def test_bad_traces_are_one_line_and_exit_2(
    tmp_path: Path, body: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path, body)
    assert main(["simulate", "--trace", str(trace)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llm-simulator: simulate: --trace ")
    assert fragment in err
    assert err.count("\n") == 1


def test_missing_trace_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--trace", str(tmp_path / "absent.csv")]) == 2
    err = capsys.readouterr().err
    assert "absent.csv: No such file or directory" in err and err.count("\n") == 1


def test_a_closed_loop_ramps_its_clients_in_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    # Fixed sizes: started at once, four clients queue behind each other's prefills in every
    # round (a convoy); the default ramp scatters their starts so the convoy never forms.
    fixed = [
        "--prompt-tokens",
        "3000",
        "--output-tokens",
        "60",
        "--no-progress",
        "--concurrency",
        "4",
        "--requests-per-point",
        "80",
        "--deployment",
        "nim-llama33-70b-2xh100-fp8",
    ]
    ramped = run_json(fixed, capsys)
    at_once = run_json([*fixed, "--ramp", "0"], capsys)
    assert ramped["workload"]["ramp_s"] == "auto" and at_once["workload"]["ramp_s"] == 0.0  # type: ignore[index]
    ttft = [points(d)[0]["ttft_ms"]["p50"] for d in (ramped, at_once)]  # type: ignore[index]
    assert ttft[1] > 1.5 * ttft[0]


def test_cold_start_slows_the_first_requests(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rate", "4", "--duration", "10", "--deployment", "vllm-h100-mixtral-8x7b-tp2", *SMALL]
    warm = run_json(argv, capsys)
    cold = run_json([*argv, "--cold-start"], capsys)
    assert warm["deployment"]["cold_start"] is False and cold["deployment"]["cold_start"] is True  # type: ignore[index]
    assert cold["deployment"]["cold_shape_ms"] > 0  # type: ignore[index]
    slowest = [points(d)[0]["ttft_ms"]["p99"] for d in (warm, cold)]  # type: ignore[index]
    assert slowest[1] > slowest[0] + cold["deployment"]["cold_shape_ms"]  # type: ignore[index]

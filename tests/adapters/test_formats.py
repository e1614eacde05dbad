"""Each measurement format's reader on a small hand-written sample, and garbage refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_simulator.adapters.latency.formats import parse, read_file
from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError

SAMPLES = Path(__file__).parent / "samples"


def one(name: str) -> Measurement:
    points = read_file(SAMPLES / name)
    assert len(points) == 1
    return points[0]


def test_llmperf_individual_responses() -> None:
    m = one("llmperf_individual_responses.json")
    assert m.format == "llmperf"
    assert m.errors == 1  # the 429 row
    assert m.ttft is not None and m.ttft.count == 20
    assert m.ttft.samples[0] == pytest.approx(198.7)
    assert m.ttft.samples[-1] == pytest.approx(2912.0)
    # ITL is the decode time per token (E2E − TTFT) / (out − 1), not llmperf's own field.
    assert m.itl_kind == "request_mean"
    assert m.itl is not None and m.itl.median == pytest.approx((3175.0 - 225.5) / 150, rel=0.02)
    assert m.mean_prompt_tokens == 550 and m.mean_output_tokens == 151
    assert len(m.prompt_ttft) == 20


def test_llmperf_summary_recentres_its_itl() -> None:
    m = one("llmperf_summary.json")
    assert m.format == "llmperf-summary"
    assert m.load == {"concurrency": 5}
    assert m.ttft is not None and m.ttft.quantiles[0.5] == pytest.approx(225.5)
    assert m.ttft.quantiles[0.99] == pytest.approx(2382.7)
    # Its ITL table includes the TTFT: re-centred on (E2E − TTFT) / (out − 1) of the means.
    expected = (3322.8 - 358.8) / 149
    assert m.itl is not None and m.itl.mean == pytest.approx(expected)


def test_inference_perf_stage_summary() -> None:
    m = one("inference_perf_stage_0_lifecycle_metrics.json")
    assert m.format == "inference-perf"
    assert m.load == {"rate": 5.0}
    assert m.ttft is not None
    assert m.ttft.quantiles[0.5] == pytest.approx(24.261)
    assert m.ttft.quantiles[0.999] == pytest.approx(67.068)  # "p99.9"
    assert m.ttft.quantiles[0.001] == pytest.approx(18.758)  # "p0.1"
    # The per-token table counts SSE events: re-centred on the decode time from E2E and TTFT.
    assert m.itl is not None and m.itl.mean == pytest.approx((1810.3 - 25.037) / 192.7, rel=1e-3)
    assert m.mean_prompt_tokens == pytest.approx(591.6)


def test_inference_perf_per_request_records() -> None:
    m = one("inference_perf_per_request_lifecycle_metrics.json")
    assert m.errors == 1  # the timed-out request
    assert m.ttft is not None and m.ttft.samples == pytest.approx((31.0, 37.0, 48.0))
    assert m.itl_kind == "gap"
    assert m.itl is not None and m.itl.count == 15 and m.itl.median == pytest.approx(13.0)
    assert [p for p, _ in m.prompt_ttft] == [120, 480, 960]


def test_aiperf_summary() -> None:
    m = one("profile_export_aiperf.json")
    assert m.format == "aiperf"
    assert m.load == {"concurrency": 10}
    assert m.ttft is not None and m.ttft.quantiles[0.5] == pytest.approx(787.54) and m.ttft.std == pytest.approx(119.99)
    assert m.itl is not None and m.itl.mean == pytest.approx(51.76)
    assert m.e2e is not None and m.e2e.quantiles[0.99] == pytest.approx(9381.63)
    assert m.mean_output_tokens == pytest.approx(96.85)


def test_aiperf_records_convert_units() -> None:
    m = one("profile_export.jsonl")
    assert m.errors == 1  # the cancelled request
    assert m.ttft is not None and m.ttft.samples == pytest.approx((255.9, 271.1))  # 0.2711 sec → ms
    assert m.itl_kind == "gap" and m.itl is not None and m.itl.count == 16


def test_genai_perf_raw_export() -> None:
    m = one("genai_perf_profile_export.json")
    assert m.format == "genai-perf"
    assert m.load == {"concurrency": 4}
    assert m.ttft is not None and m.ttft.samples == pytest.approx((100.0, 120.0, 140.0))
    assert m.itl is not None and m.itl.count == 9 and m.itl.min == pytest.approx(14.0)


def test_guidellm_report_has_one_point_per_benchmark() -> None:
    points = read_file(SAMPLES / "guidellm_benchmarks.json")
    assert len(points) == 2
    sync, constant = points
    assert sync.ttft is not None and sync.ttft.samples == pytest.approx((55.0, 58.0, 62.0, 70.0))
    assert sync.e2e is not None and sync.e2e.samples[0] == pytest.approx(1410.0)
    assert constant.load == {"rate": 8.0}
    assert constant.ttft is not None and not constant.ttft.samples
    # guidellm's p01 is the 1st percentile and p001 the 0.1th.
    assert constant.ttft.quantiles[0.01] == pytest.approx(75.0)
    assert constant.ttft.quantiles[0.001] == pytest.approx(70.0)
    assert constant.e2e is not None and constant.e2e.quantiles[0.5] == pytest.approx(2250.0)


def test_benchmark_json_and_csv() -> None:
    m = one("benchmark.json")
    assert m.format == "benchmark" and m.load == {"concurrency": 8}
    assert m.ttft is not None and m.ttft.quantiles[0.9] == pytest.approx(262.8)
    assert m.itl_kind == "gap" and m.itl is not None and m.itl.quantiles[0.5] == pytest.approx(29.6)
    rows = one("benchmark.csv")
    assert rows.format == "benchmark-csv" and rows.errors == 1
    assert rows.ttft is not None and rows.ttft.count == 5
    assert rows.itl is not None and rows.itl.median == pytest.approx((2092.118 - 201.512) / 63, rel=1e-3)


def test_seed_profile_document_with_cold_start() -> None:
    m = one("seed_latency_profile.yaml")
    assert m.format == "seed-profile"
    assert m.ttft is not None and m.ttft.quantiles == {0.5: 310.0, 0.95: 505.0, 0.99: 690.0}
    assert m.ttft.count == 1200
    assert m.cold_start is not None and m.cold_start.probability == 0.02
    assert m.cold_start.ttft.quantiles[0.5] == 4000.0
    assert m.e2e is not None and m.throughput["tokens_per_second"] == 41.5


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty file"),
        (b"\xff\xfe\x00garbage\x00", "not UTF-8"),
        (b'{"hello": "world"}', "not a known measurement format (fields: hello)"),
        (b'[{"foo": 1}]', "a list of records with unknown fields ['foo']"),
        (b'{"ttft_s": [1, 2', "invalid JSON: Expecting"),
        (b'{"a": 1}\n{"b": ', "line 2: invalid JSON lines record"),
        (b"key: [unclosed", "not JSON, JSON lines, CSV or YAML"),
        (b"just some words", "not a measurement document"),
        (b'[{"ttft_s": null, "end_to_end_latency_s": null, "error_code": 500}]', "no successful request"),
        (b'{"benchmarks": []}', "guidellm report without benchmarks"),
        (b'{"latency_ms": {"ttft": {"unit": 3}}}', "benchmark report without TTFT"),
        (b'{"ttft": {"p50": 1}, "cold_start": {"probability": 3, "ttft": {"p50": 9}}}', "cold_start.probability"),
    ],
)
def test_garbage_is_refused_naming_the_file(data: bytes, problem: str) -> None:
    with pytest.raises(MeasurementError) as caught:
        parse(data, "upload.json")
    assert str(caught.value).startswith("upload.json: ")
    assert problem in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MeasurementError, match=r"nope\.json: cannot read"):
        read_file(tmp_path / "nope.json")

"""``profile fit --engine``: recover a known engine's anchors from per-request latency it produced,
write a deployment the server loads and serves, and refuse data without load or lengths."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import httpx
import openai
import orjson
import pytest
import yaml

from llm_simulator.adapters.latency.engine_fit import EngineFitOptions, fit_engine
from llm_simulator.adapters.latency.formats import parse
from llm_simulator.adapters.latency.measurement import MeasurementError
from llm_simulator.cli.main import main
from llm_simulator.config.loader import load_config
from llm_simulator.engine.load.configured import build_deployments
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.virtual import Arrival, closed_loop, lone_e2e_ms, simulate
from tests.live import live_server

SAMPLES = Path(__file__).resolve().parent / "samples"
BASE = PRESETS["vllm-h100-7b-tp1"]
# The "real" endpoint: the 7B preset with a 1.5× slower weight read and a 40 ms front end.
TRUE = dataclasses.replace(
    BASE, step=dataclasses.replace(BASE.step, weights_ms=BASE.step.weights_ms * 1.5, front_ms=40.0, jitter_sigma=0.05)
)


def llmperf_rows(spec: DeploymentSpec, concurrency: int, seed: int, requests: int = 300) -> bytes:
    """llmperf individual responses of a closed-loop run of ``spec`` (prompts 100-900, 120 tokens out)."""
    rng = random.Random(seed)

    def make(k: int, now: float) -> Arrival | None:
        return Arrival(now, rng.randint(100, 900), 120) if k < requests else None

    ramp = lone_e2e_ms(spec, 500, 120, seed)
    first, after = closed_loop(concurrency, make, ramp_ms=ramp, rng=random.Random(seed + 1))
    run = simulate(spec, first, seed=seed, next_arrival=after)
    rows = [
        {
            "ttft_s": (r.first_token_ms - r.arrival_ms) / 1000,
            "end_to_end_latency_s": (r.finish_ms - r.arrival_ms) / 1000,
            "number_input_tokens": r.prompt_tokens,
            "number_output_tokens": r.output_tokens,
            "error_code": None,
        }
        for r in run.results[2 * concurrency :]  # past the ramp, as a benchmark's warm-up would be
        if r.outcome == "ok"
    ]
    return orjson.dumps(rows)


def test_fit_recovers_the_engine_that_produced_the_data() -> None:
    points = [parse(llmperf_rows(TRUE, c, seed=7 + c), f"c{c}.json")[0] for c in (1, 8)]
    result = fit_engine(points, EngineFitOptions(concurrency=(1, 8), max_evals=120))
    assert result.step["weights_ms"] == pytest.approx(TRUE.step.weights_ms, rel=0.10)
    assert result.step["front_ms"] == pytest.approx(40.0, rel=0.25)
    # The preset's start was 33 % off in weights and 7× off in front_ms: the fit moved both.
    assert abs(result.step["weights_ms"] / BASE.step.weights_ms - 1) > 0.3
    assert 0.002 <= result.step["jitter_sigma"] <= 0.3
    assert "prefill_ms_per_token" in result.step  # prompts span 100-900 tokens: separable
    for point, sim in zip(result.points, result.simulated, strict=True):
        assert sim["tpot_mean"] == pytest.approx(point.real["tpot_mean"], rel=0.08)


def test_cli_writes_a_deployment_the_server_serves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "c4_individual_responses.json"
    data.write_bytes(llmperf_rows(TRUE, 4, seed=3, requests=120))
    out = tmp_path / "engine.yaml"
    argv = ["profile", "fit", str(data), "--engine", "--concurrency", "4", "--name", "my-vllm", "--model", "gpt-4o"]
    assert main([*argv, "--max-evals", "40", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "wrote deployment 'my-vllm'" in err and "concurrency 4: ln(sim/real)" in err
    assert out.read_text().startswith("# Fitted by llm-simulator profile fit --engine from llmperf")
    document = yaml.safe_load(out.read_text())
    step = document["engine"]["deployments"]["my-vllm"]["step"]
    spec = build_deployments(load_config(out).engine)["my-vllm"]
    assert spec.step.weights_ms == pytest.approx(step["weights_ms"]) and spec.step.front_ms == step["front_ms"]
    with live_server("--config", str(out)) as live:
        client = openai.OpenAI(base_url=live.openai_base, api_key="k", max_retries=0)
        try:
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=5
            )
        finally:
            client.close()
        assert reply.choices[0].message.content
        engines = httpx.get(live.url + "/admin/engine").json()["deployments"]
        assert any(row["deployment"] == "my-vllm" for row in engines)


def test_cli_uses_the_rate_an_inference_perf_report_states(capsys: pytest.CaptureFixture[str]) -> None:
    report = str(SAMPLES / "inference_perf_stage_0_lifecycle_metrics.json")
    assert main(["profile", "fit", report, "--engine", "--max-evals", "12", "--format", "json"]) == 0
    captured = capsys.readouterr()
    deployment = orjson.loads(captured.out)["engine"]["deployments"]["measured"]
    assert deployment["preset"] == "vllm-h100-7b-tp1" and deployment["step"]["weights_ms"] > 0
    assert "rate 5: ln(sim/real)" in captured.err


def test_data_without_load_is_refused_with_the_flag_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    data = str(SAMPLES / "llmperf_individual_responses.json")
    assert main(["profile", "fit", data, "--engine"]) == 2
    err = capsys.readouterr().err
    assert "no load information" in err and "--concurrency N" in err
    assert main(["profile", "fit", data, "--engine", "--concurrency", "1", "--concurrency", "2"]) == 2
    assert "one per load point (1)" in capsys.readouterr().err
    assert main(["profile", "fit", data, "--engine", "--concurrency", "2", "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err


def test_a_measurement_without_output_lengths_is_refused() -> None:
    rows = orjson.dumps([{"ttft_s": 0.1, "end_to_end_latency_s": 1.0}] * 20)
    with pytest.raises(MeasurementError, match="no output length"):
        fit_engine(parse(rows, "short.json"), EngineFitOptions(concurrency=(2,)))

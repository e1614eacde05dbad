"""The fit recovers known distributions: log-normal bodies, cold-start mixtures, prefill slopes."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from llm_simulator.adapters.latency.fit import (
    FitError,
    FitOptions,
    LogNormal,
    fit_profile,
    fit_samples,
    fit_table,
    merge,
    split_cold,
)
from llm_simulator.adapters.latency.formats import read_file
from llm_simulator.adapters.latency.measurement import Measurement, Metric
from llm_simulator.config.distributions import LogNormalSpec, MixtureSpec
from llm_simulator.engine.latency.distributions import lognormal_params

SAMPLES = Path(__file__).parent / "samples"


def lognormal_samples(rng: random.Random, median: float, sigma: float, n: int) -> list[float]:
    return [rng.lognormvariate(math.log(median), sigma) for _ in range(n)]


def params(spec: object) -> tuple[float, float]:
    assert isinstance(spec, LogNormalSpec)
    return lognormal_params(spec)


def test_quantile_matching_recovers_a_lognormal() -> None:
    rng = random.Random(7)
    fitted = fit_samples(lognormal_samples(rng, 200.0, 0.4, 5000))
    assert fitted.median == pytest.approx(200.0, rel=0.04)
    assert fitted.sigma == pytest.approx(0.4, rel=0.08)


def test_table_fit_recovers_a_lognormal_from_its_quantiles() -> None:
    truth = LogNormal(math.log(80.0), 0.6)
    table = {q: truth.quantile(q) for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)}
    fitted = fit_table(Metric(quantiles=table))
    assert fitted.mu == pytest.approx(truth.mu, abs=1e-9)
    assert fitted.sigma == pytest.approx(0.6, abs=1e-6)
    # Mean and median only: σ from mean = e^(μ + σ²/2).
    mean = math.exp(truth.mu + 0.18)
    assert fit_table(Metric(quantiles={0.5: 80.0}, mean=mean)).sigma == pytest.approx(0.6)
    # Mean and std only: moments.
    by_moments = fit_table(Metric(mean=100.0, std=50.0))
    assert math.exp(by_moments.mu + by_moments.sigma**2 / 2) == pytest.approx(100.0)


def test_cold_start_mixture_is_recovered() -> None:
    rng = random.Random(11)
    warm = lognormal_samples(rng, 250.0, 0.35, 3960)
    cold = lognormal_samples(rng, 8000.0, 0.3, 40)
    samples = warm + cold
    rng.shuffle(samples)
    m = Measurement(
        source="synthetic",
        format="test",
        ttft=Metric.from_samples(samples),
        itl=Metric.from_samples(lognormal_samples(rng, 20.0, 0.2, 4000)),
    )
    result = fit_profile(m)
    assert isinstance(result.spec.ttft, MixtureSpec)
    body, tail = result.spec.ttft.components
    assert tail.weight == pytest.approx(0.01, abs=0.003)
    body_mu, body_sigma = params(body.dist)
    assert math.exp(body_mu) == pytest.approx(250.0, rel=0.05)
    assert body_sigma == pytest.approx(0.35, rel=0.1)
    tail_mu, _ = params(tail.dist)
    assert math.exp(tail_mu) == pytest.approx(8000.0, rel=0.2)
    itl_mu, itl_sigma = params(result.spec.itl)
    assert math.exp(itl_mu) == pytest.approx(20.0, rel=0.03) and itl_sigma == pytest.approx(0.2, rel=0.1)
    assert any("cold start" in note for note in result.notes)
    # Turned off, the same data gives one log-normal.
    assert isinstance(fit_profile(m, FitOptions(cold_start=False)).spec.ttft, LogNormalSpec)


def test_no_cold_start_in_clean_data_and_none_when_outliers_are_common() -> None:
    rng = random.Random(3)
    clean = lognormal_samples(rng, 100.0, 0.5, 2000)
    assert split_cold(clean)[1] == []
    # A third of the requests slow is not a rare cold start: no mixture.
    bimodal = clean + lognormal_samples(rng, 5000.0, 0.1, 1000)
    assert split_cold(bimodal)[1] == []


def test_prefill_slope_is_fitted_when_prompts_vary() -> None:
    rng = random.Random(5)
    pairs = []
    for _ in range(400):
        prompt = rng.randint(100, 4000)
        pairs.append((prompt, 0.08 * prompt + rng.lognormvariate(math.log(60.0), 0.2)))
    ttft = Metric.from_samples(t for _, t in pairs)
    assert ttft is not None
    # Measurement wants the pairs in the order of the sorted samples' count only (same length).
    m = Measurement(
        source="synthetic",
        format="test",
        ttft=ttft,
        itl=Metric.from_samples([10.0] * 10),
        prompt_ttft=tuple(pairs),
        mean_prompt_tokens=2050.0,
    )
    result = fit_profile(m)
    assert result.prefill_ms_per_token == pytest.approx(0.08, rel=0.05)
    body_mu, _ = params(result.spec.ttft)
    assert math.exp(body_mu) == pytest.approx(60.0, rel=0.08)
    # A fixed prefill cost is taken as given.
    fixed = fit_profile(m, FitOptions(prefill_ms_per_token=0.05))
    assert fixed.spec.prefill_ms_per_token == 0.05


def test_table_with_a_heavy_p99_gets_a_cold_tail() -> None:
    m = read_file(SAMPLES / "llmperf_summary.json")[0]
    result = fit_profile(m)
    assert isinstance(result.spec.ttft, MixtureSpec)
    assert result.spec.ttft.components[1].weight == pytest.approx(0.01)
    body_mu, _ = params(result.spec.ttft.components[0].dist)
    assert math.exp(body_mu) == pytest.approx(225.5, rel=0.01)


def test_seed_document_cold_start_is_used_as_stated() -> None:
    m = read_file(SAMPLES / "seed_latency_profile.yaml")[0]
    result = fit_profile(m)
    assert isinstance(result.spec.ttft, MixtureSpec)
    body, cold = result.spec.ttft.components
    assert cold.weight == pytest.approx(0.02)
    assert params(cold.dist)[0] == pytest.approx(math.log(4000.0))
    assert params(body.dist)[0] == pytest.approx(math.log(310.0))


def test_per_request_files_are_pooled_and_summaries_are_not() -> None:
    per_request = read_file(SAMPLES / "benchmark.csv")[0]
    pooled = merge([per_request, per_request])
    assert pooled.ttft is not None and pooled.ttft.count == 10
    with pytest.raises(FitError, match="cannot be pooled"):
        merge([per_request, read_file(SAMPLES / "benchmark.json")[0]])


def test_a_measurement_without_ttft_cannot_be_fitted() -> None:
    m = Measurement(source="x.json", format="test", e2e=Metric.from_samples([100.0, 120.0]))
    with pytest.raises(FitError, match=r"x\.json: no TTFT"):
        fit_profile(m)


@pytest.mark.parametrize(
    "name",
    [
        "llmperf_individual_responses.json",
        "inference_perf_stage_0_lifecycle_metrics.json",
        "inference_perf_per_request_lifecycle_metrics.json",
        "profile_export_aiperf.json",
        "profile_export.jsonl",
        "genai_perf_profile_export.json",
        "guidellm_benchmarks.json",
        "benchmark.json",
        "benchmark.csv",
    ],
)
def test_every_sample_fits_near_its_median(name: str) -> None:
    m = read_file(SAMPLES / name)[0]
    result = fit_profile(m)
    assert m.ttft is not None and m.ttft.median is not None
    body_mu, _ = params(
        result.spec.ttft.components[0].dist if isinstance(result.spec.ttft, MixtureSpec) else result.spec.ttft
    )
    assert math.exp(body_mu) == pytest.approx(m.ttft.median, rel=0.05)

"""Every latency distribution samples what its parameters say."""

from __future__ import annotations

import random
import statistics

import pytest

from llm_simulator.config.distributions import (
    EmpiricalSpec,
    ExponentialSpec,
    FixedSpec,
    LogNormalSpec,
    MixtureComponent,
    MixtureSpec,
    NormalSpec,
    ParetoSpec,
    UniformSpec,
)
from llm_simulator.engine.latency.distributions import build_sampler, spec_mean
from llm_simulator.engine.latency.profiles import BUILTIN_PROFILES

N = 30_000


def draw(spec: object) -> list[float]:
    sampler = build_sampler(spec)  # type: ignore[arg-type]
    rng = random.Random(11)
    return [sampler(rng) for _ in range(N)]


@pytest.mark.parametrize(
    "spec",
    [
        NormalSpec(mean_ms=200, std_dev_ms=50),
        LogNormalSpec(mean_ms=300, std_dev_ms=150),
        UniformSpec(min_ms=10, max_ms=30),
        ExponentialSpec(mean_ms=40),
        ParetoSpec(scale_ms=10, shape=3),
        EmpiricalSpec(values_ms=(1, 2, 3, 10)),
        MixtureSpec(
            components=(
                MixtureComponent(weight=3, dist=FixedSpec(value_ms=10)),
                MixtureComponent(weight=1, dist=FixedSpec(value_ms=50)),
            )
        ),
    ],
)
def test_sample_mean_matches_spec_mean(spec: object) -> None:
    values = draw(spec)
    assert min(values) >= 0
    assert statistics.fmean(values) == pytest.approx(spec_mean(spec), rel=0.05)  # type: ignore[arg-type]


def test_lognormal_by_moments_has_requested_std() -> None:
    values = draw(LogNormalSpec(mean_ms=300, std_dev_ms=150))
    assert statistics.pstdev(values) == pytest.approx(150, rel=0.1)


def test_normal_is_clamped_at_zero() -> None:
    assert min(draw(NormalSpec(mean_ms=1, std_dev_ms=10))) == 0.0


def test_uniform_stays_in_range() -> None:
    values = draw(UniformSpec(min_ms=10, max_ms=30))
    assert min(values) >= 10 and max(values) <= 30


def test_pareto_has_heavy_tail() -> None:
    values = sorted(draw(ParetoSpec(scale_ms=10, shape=1.5)))
    assert values[0] >= 10
    assert values[int(N * 0.999)] / values[N // 2] > 20


def test_seeded_sampling_is_reproducible_and_jittered() -> None:
    sampler = build_sampler(NormalSpec(mean_ms=30, std_dev_ms=8))
    a = [sampler(random.Random(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = random.Random(5)
    b = [sampler(rng) for _ in range(10)]
    assert len(set(b)) == 10


def test_builtin_profiles_have_reference_means() -> None:
    std = BUILTIN_PROFILES["standard"]
    assert spec_mean(std.ttft) == 200 and spec_mean(std.itl) == 30 and std.overhead_ms == 10
    assert spec_mean(BUILTIN_PROFILES["gpt4"].ttft) == pytest.approx(300)
    for name in ("instant", "fast", "slow", "claude", "gemini", "hosted-fast", "vllm-h100-70b"):
        assert name in BUILTIN_PROFILES

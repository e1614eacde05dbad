"""Samplers for the latency distribution specs (all values in milliseconds, never negative)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from llm_simulator.config.distributions import (
    DistributionSpec,
    EmpiricalSpec,
    ExponentialSpec,
    FixedSpec,
    LogNormalSpec,
    MixtureSpec,
    NormalSpec,
    ParetoSpec,
    UniformSpec,
)

Sampler = Callable[[random.Random], float]

# Standard-normal quantile at 0.99, used to turn a p50/p99 pair into a log-normal sigma.
Z_99 = 2.3263478740408408


def lognormal_params(spec: LogNormalSpec) -> tuple[float, float]:
    """The (mu, sigma) of the underlying normal for a log-normal spec.

    By moments: sigma² = ln(1 + s²/m²), mu = ln m − sigma²/2 (so the mean is exactly m).
    By quantiles: mu = ln p50, sigma = (ln p99 − ln p50) / z₀.₉₉.
    """
    if spec.p50_ms is not None and spec.p99_ms is not None:
        mu = math.log(spec.p50_ms)
        return mu, (math.log(spec.p99_ms) - mu) / Z_99
    assert spec.mean_ms is not None
    assert spec.std_dev_ms is not None
    sigma2 = math.log1p((spec.std_dev_ms / spec.mean_ms) ** 2)
    return math.log(spec.mean_ms) - sigma2 / 2, math.sqrt(sigma2)


def build_sampler(spec: DistributionSpec) -> Sampler:
    """A function drawing one sample (ms, >= 0) from ``spec`` with a given RNG."""
    if isinstance(spec, FixedSpec):
        value = spec.value_ms
        return lambda rng: value
    if isinstance(spec, NormalSpec):
        mean, std = spec.mean_ms, spec.std_dev_ms
        return lambda rng: max(0.0, rng.gauss(mean, std))
    if isinstance(spec, LogNormalSpec):
        mu, sigma = lognormal_params(spec)
        return lambda rng: rng.lognormvariate(mu, sigma)
    if isinstance(spec, UniformSpec):
        lo, hi = spec.min_ms, spec.max_ms
        return lambda rng: rng.uniform(lo, hi)
    if isinstance(spec, ExponentialSpec):
        rate = 1.0 / spec.mean_ms
        return lambda rng: rng.expovariate(rate)
    if isinstance(spec, ParetoSpec):
        # Inverse CDF of Pareto type I: x = scale · (1 − U)^(−1/shape).
        scale, shape = spec.scale_ms, spec.shape
        return lambda rng: scale * (1.0 - rng.random()) ** (-1.0 / shape)
    if isinstance(spec, EmpiricalSpec):
        values = spec.values_ms
        return lambda rng: values[rng.randrange(len(values))]
    if isinstance(spec, MixtureSpec):
        return _mixture(spec)
    raise TypeError(f"unknown distribution spec {spec!r}")  # pragma: no cover


def _mixture(spec: MixtureSpec) -> Sampler:
    samplers = [build_sampler(c.dist) for c in spec.components]
    total = sum(c.weight for c in spec.components)
    cumulative: list[float] = []
    acc = 0.0
    for component in spec.components:
        acc += component.weight / total
        cumulative.append(acc)

    def sample(rng: random.Random) -> float:
        u = rng.random()
        for edge, sampler in zip(cumulative, samplers, strict=True):
            if u <= edge:
                return sampler(rng)
        return samplers[-1](rng)

    return sample


def spec_mean(spec: DistributionSpec) -> float:
    """The mean of a distribution in ms (used to size expected durations and in docs)."""
    if isinstance(spec, FixedSpec):
        return spec.value_ms
    if isinstance(spec, NormalSpec):
        return spec.mean_ms
    if isinstance(spec, LogNormalSpec):
        mu, sigma = lognormal_params(spec)
        return math.exp(mu + sigma * sigma / 2)
    if isinstance(spec, UniformSpec):
        return (spec.min_ms + spec.max_ms) / 2
    if isinstance(spec, ExponentialSpec):
        return spec.mean_ms
    if isinstance(spec, ParetoSpec):
        return math.inf if spec.shape <= 1 else spec.shape * spec.scale_ms / (spec.shape - 1)
    if isinstance(spec, EmpiricalSpec):
        return sum(spec.values_ms) / len(spec.values_ms)
    total = sum(c.weight for c in spec.components)
    return sum(c.weight / total * spec_mean(c.dist) for c in spec.components)

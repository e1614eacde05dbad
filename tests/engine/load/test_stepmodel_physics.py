"""The step-time formula and the physics derivation, against hand-computed values."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from llm_simulator.engine.load.physics import (
    GIB,
    GPUS,
    MODELS,
    Hardware,
    PhysicsFactors,
    derive_step_model,
    kv_capacity_tokens,
)
from llm_simulator.engine.load.stepmodel import StepTimeModel

MODEL = StepTimeModel(
    step_ms=1.0,
    weights_ms=10.0,
    prefill_ms_per_token=0.1,
    kv_ms_per_token=0.001,
    seq_ms=0.01,
    overlap=0.5,
    attention_ms_per_token_pair=1e-6,
    jitter_sigma=0.0,
)


def test_memory_bound_decode_step() -> None:
    # C = 0.1·(0 + 4) = 0.4; M = 10 + 0.001·4000 = 14; step = 1 + 0.01·4 + 14 + 0.5·0.4
    assert MODEL.duration_ms(0, 4, 4, 4000) == pytest.approx(15.24)


def test_mixed_step() -> None:
    # C = 0.1·(100 + 4) = 10.4; M = 14; step = 1 + 0.05 + 14 + 0.5·10.4 = 20.25
    assert MODEL.duration_ms(100, 4, 5, 4000) == pytest.approx(20.25)


def test_compute_bound_prefill_with_attention() -> None:
    # C = 0.1·2000 + 1e-6·2_000_000 = 202; M = 10; step = 1 + 0.01 + 202 + 0.5·10 = 208.01
    assert MODEL.duration_ms(2000, 0, 1, 0, 2_000_000) == pytest.approx(208.01)


def test_noise_is_neutral_without_jitter_and_lognormal_with_it() -> None:
    assert MODEL.noise(random.Random(1)) == (1.0, 0.0)
    noisy = StepTimeModel(1.0, 1.0, 0.0, 0.0, jitter_sigma=0.1)
    rng = random.Random(7)
    logs = [math.log(noisy.noise(rng)[0]) for _ in range(20_000)]
    assert statistics.fmean(logs) == pytest.approx(0.0, abs=0.005)  # median 1
    assert statistics.stdev(logs) == pytest.approx(0.1, rel=0.03)
    stalled = StepTimeModel(1.0, 1.0, 0.0, 0.0, jitter_sigma=0.0, stall_probability=1.0, stall_ms=50.0)
    assert stalled.noise(rng) == (1.0, 50.0)


def test_70b_tp4_bf16_on_h100() -> None:
    shape, factors = MODELS["llama-2-70b"], PhysicsFactors()
    hw = Hardware(GPUS["h100"], tp=4)
    step = derive_step_model(shape, hw, factors)
    # weights: k_w · ~140 GB / (4 × 3.35 TB/s) ≈ 1.4 × 10.4 ms
    assert step.weights_ms == pytest.approx(factors.k_weights * 140e9 / (4 * 3.35e12) * 1e3, rel=0.02)
    assert step.weights_ms == pytest.approx(1.4 * 138e9 / 13.4e12 * 1e3)
    # prefill: 2 · 69e9 / (4 · 989.5e12 · 0.45) ≈ 0.0775 ms/token (the design notes' 0.078)
    assert step.prefill_ms_per_token == pytest.approx(0.0775, rel=0.01)
    # KV: 2 · 80 layers · 8 heads · 128 · 2 bytes = 327,680 B/token; ×0.5 / (4 · 3.35e12)
    assert shape.kv_bytes_per_token(2.0) == 327_680
    assert step.kv_ms_per_token == pytest.approx(0.5 * 327_680 / 13.4e12 * 1e3)
    assert step.step_ms == pytest.approx(0.6 + 80 * (0.02 + 0.012))
    free = 80 * GIB * 0.9 - 138e9 / 4 - 4 * GIB
    assert kv_capacity_tokens(shape, hw) == int(free * 4 / 327_680)


def test_tp1_has_no_allreduce_and_fp8_doubles_compute() -> None:
    shape, factors = MODELS["llama-2-7b"], PhysicsFactors()
    bf16 = derive_step_model(shape, Hardware(GPUS["h100"]), factors)
    fp8 = derive_step_model(shape, Hardware(GPUS["h100"], weight_dtype="fp8"), factors)
    assert bf16.step_ms == pytest.approx(0.6 + 32 * 0.02)
    assert fp8.prefill_ms_per_token == pytest.approx(bf16.prefill_ms_per_token / 2)
    assert fp8.weights_ms == pytest.approx(bf16.weights_ms / 2)


def test_a_model_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        kv_capacity_tokens(MODELS["llama-2-70b"], Hardware(GPUS["h100"], tp=1))

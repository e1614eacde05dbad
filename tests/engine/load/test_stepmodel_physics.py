"""The step-time formula and the physics derivation, against hand-computed values."""

from __future__ import annotations

import dataclasses
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


def test_decode_compute_and_tp_traffic_have_their_own_coefficients() -> None:
    split = dataclasses.replace(MODEL, decode_ms_per_token=0.02, comm_ms_per_token=0.005)
    # C = 0.1·100 + 0.02·4 = 10.08; M = 10 + 0.001·4000 = 14; comm = 0.005·4 decode tokens = 0.02
    # step = 1 + 0.01·5 + 0.02 + 14 + 0.5·10.08 = 20.11
    assert split.duration_ms(100, 4, 5, 4000) == pytest.approx(20.11)
    # A prefill-only step pays no decode all-reduce (its own is inside the prefill cost).
    assert split.duration_ms(100, 0, 1, 0) == pytest.approx(MODEL.duration_ms(100, 0, 1, 0))
    # Unset, a decode token costs a prefill token's compute (the formula before the split).
    assert MODEL.decode_ms_per_token is None
    assert dataclasses.replace(MODEL, decode_ms_per_token=0.1).duration_ms(100, 4, 5, 4000) == pytest.approx(
        MODEL.duration_ms(100, 4, 5, 4000)
    )


def test_allreduce_bytes_follow_layers_width_and_tp() -> None:
    shape = MODELS["llama-2-70b"]
    # 2 all-reduces per layer · 80 layers · 8192 wide · 2 bytes, a ring sends 2·(TP−1)/TP of it.
    assert shape.allreduce_bytes_per_token(4) == pytest.approx(2 * 80 * 8192 * 2 * 1.5)
    assert shape.allreduce_bytes_per_token(2) == pytest.approx(2 * 80 * 8192 * 2 * 1.0)
    assert shape.allreduce_bytes_per_token(1) == 0.0


def test_decode_cost_per_token_is_physical_across_mha_gqa_and_moe() -> None:
    factors = PhysicsFactors(mfu=0.3, mfu_decode=0.9, k_comm=2.0, k_kv=1.0)
    h100 = GPUS["h100"]
    mha = derive_step_model(MODELS["llama-2-7b"], Hardware(h100), factors)
    gqa = derive_step_model(MODELS["llama-2-70b"], Hardware(h100, tp=4), factors)
    moe = derive_step_model(MODELS["mixtral-8x7b"], Hardware(h100, tp=2), factors)
    # KV read: same k_kv, bytes per token from the KV layout (32 KV heads vs 8), split over TP.
    assert mha.kv_ms_per_token == pytest.approx(524_288 / 3.35e12 * 1e3)
    assert gqa.kv_ms_per_token == pytest.approx(327_680 / (4 * 3.35e12) * 1e3)
    # Decode compute: active parameters at the shared decode efficiency, whatever the prefill MFU.
    assert moe.decode_ms_per_token == pytest.approx(2 * 12.9e9 / (2 * 989.5e12 * 0.9) * 1e3)
    assert moe.prefill_ms_per_token == pytest.approx(2 * 12.9e9 / (2 * 989.5e12 * 0.3) * 1e3)
    # All-reduce: none on one GPU; 70B TP4 sends 3.9 MB per token over 450 GB/s NVLink, ×k_comm.
    assert mha.comm_ms_per_token == 0.0
    assert gqa.comm_ms_per_token == pytest.approx(2.0 * 3_932_160 / 450e9 * 1e3)

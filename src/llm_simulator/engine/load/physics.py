"""Step-time coefficients and KV capacity derived from a model's shape and its GPUs.

Public figures only: accelerator data sheets (dense tensor throughput, HBM bandwidth and
size) and model cards (parameters, layers, KV heads, head size). The dimensionless factors
(``k_*``, MFU) are what calibration fits; everything else is arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_simulator.engine.load.stepmodel import StepTimeModel

GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Gpu:
    """One accelerator: dense bf16 TFLOP/s, HBM TB/s, memory GiB, and GPU-to-GPU GB/s.

    The link bandwidth is one direction of NVLink (or PCIe where there is none).
    """

    name: str
    bf16_tflops: float
    hbm_tb_s: float
    memory_gib: float
    link_gb_s: float

    def tflops(self, dtype: str) -> float:
        """Dense throughput for ``dtype`` (fp8 doubles bf16 on Hopper-class tensor cores)."""
        return self.bf16_tflops * (2.0 if dtype == "fp8" else 1.0)


GPUS: dict[str, Gpu] = {
    "h100": Gpu("h100", bf16_tflops=989.5, hbm_tb_s=3.35, memory_gib=80, link_gb_s=450.0),
    "h200": Gpu("h200", bf16_tflops=989.5, hbm_tb_s=4.8, memory_gib=141, link_gb_s=450.0),
    "a100": Gpu("a100", bf16_tflops=312.0, hbm_tb_s=2.039, memory_gib=80, link_gb_s=300.0),
    "l40s": Gpu("l40s", bf16_tflops=362.0, hbm_tb_s=0.864, memory_gib=48, link_gb_s=32.0),
}


@dataclass(frozen=True, slots=True)
class ModelShape:
    """What sets a transformer's cost: parameters (total and active per token) and KV layout."""

    name: str
    params_b: float  # total parameters, billions (weights to hold and read)
    active_params_b: float  # parameters used per token, billions (MoE: less than total)
    layers: int
    kv_heads: int
    head_dim: int
    hidden: int  # model width: what each tensor-parallel all-reduce carries per token

    def allreduce_bytes_per_token(self, tp: int, act_bytes: float = 2.0) -> float:
        """Bytes each GPU sends per token for tensor parallelism; 0 on one GPU.

        Two all-reduces per layer (after attention and after the MLP) of ``hidden``
        activations, a ring moving 2 · (TP − 1) / TP of each message.
        """
        return 2.0 * self.layers * self.hidden * act_bytes * 2.0 * (tp - 1) / tp

    def kv_bytes_per_token(self, kv_dtype_bytes: float) -> float:
        """KV-cache bytes one token occupies: keys and values for every layer and KV head."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * kv_dtype_bytes


MODELS: dict[str, ModelShape] = {
    "llama-2-7b": ModelShape("llama-2-7b", 6.74, 6.74, 32, 32, 128, 4096),
    "llama-3.1-8b": ModelShape("llama-3.1-8b", 8.03, 8.03, 32, 8, 128, 4096),
    "codellama-34b": ModelShape("codellama-34b", 33.7, 33.7, 48, 8, 128, 8192),
    "llama-2-70b": ModelShape("llama-2-70b", 69.0, 69.0, 80, 8, 128, 8192),
    "llama-3.3-70b": ModelShape("llama-3.3-70b", 70.6, 70.6, 80, 8, 128, 8192),
    "mixtral-8x7b": ModelShape("mixtral-8x7b", 46.7, 12.9, 32, 8, 128, 4096),
}

DTYPE_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0}


@dataclass(frozen=True, slots=True)
class PhysicsFactors:
    """The dimensionless factors calibration fits (defaults: the 7B TP1 fit on vLLM traces)."""

    # Effective weight-read time ÷ ideal (bytes / bandwidth): real kernels reach ~70 % of peak BW.
    k_weights: float = 1.4
    # Effective KV-read time ÷ ideal (paged attention reads are less efficient than GEMMs).
    k_kv: float = 0.5
    # Model FLOP utilisation of prefill.
    mfu: float = 0.45
    # The same for decode tokens: skinny GEMMs under CUDA graphs, a property of the engine and
    # GPU shared by every model (fitted jointly), not of one model's prefill. None: ``mfu``.
    mfu_decode: float | None = None
    # Effective all-reduce time per decode token ÷ ideal (bytes / link bandwidth); small
    # messages reach a fraction of the link's peak. 0: no decode all-reduce term.
    k_comm: float = 0.0
    # Fixed per-step cost (ms) and per layer (ms); per layer per extra TP rank (all-reduce).
    step_base_ms: float = 0.6
    step_per_layer_ms: float = 0.02
    allreduce_per_layer_ms: float = 0.012
    seq_ms: float = 0.004
    overlap: float = 0.5


@dataclass(frozen=True, slots=True)
class Hardware:
    """Where a model runs: the GPU, the tensor-parallel degree and the dtypes."""

    gpu: Gpu
    tp: int = 1
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    memory_utilization: float = 0.9
    # Per GPU, memory not available to KV: activations, CUDA graphs, the allocator's slack.
    reserve_gib: float = 4.0


def derive_step_model(
    shape: ModelShape, hw: Hardware, factors: PhysicsFactors, jitter_sigma: float = 0.03, front_ms: float = 0.0
) -> StepTimeModel:
    """The step-time coefficients of ``shape`` served on ``hw``.

    - weights_ms = k_w · W / (TP · BW): every step reads each GPU's shard of the weights once;
    - prefill_ms_per_token = 2 · N_active / (TP · peak · MFU): two FLOPs per parameter per token;
    - decode_ms_per_token = 2 · N_active / (TP · peak · MFU_decode), MFU_decode defaulting to MFU;
    - kv_ms_per_token = k_kv · kv_bytes_per_token / (TP · BW): one token of context read, so a
      GQA model (8 KV heads) pays a quarter of an MHA model's (32) from the same k_kv;
    - comm_ms_per_token = k_comm · allreduce_bytes_per_token / link: TP traffic per decode token;
    - step_ms = base + L · (per_layer + allreduce · [TP > 1]) — launches and collectives per layer.
    """
    bw = hw.gpu.hbm_tb_s * 1e12  # bytes/s
    weight_bytes = shape.params_b * 1e9 * DTYPE_BYTES[hw.weight_dtype]
    flops = hw.gpu.tflops(hw.weight_dtype) * 1e12
    kv_bytes = shape.kv_bytes_per_token(DTYPE_BYTES[hw.kv_dtype])
    mfu_decode = factors.mfu if factors.mfu_decode is None else factors.mfu_decode
    per_layer = factors.step_per_layer_ms + (factors.allreduce_per_layer_ms if hw.tp > 1 else 0.0)
    return StepTimeModel(
        step_ms=factors.step_base_ms + shape.layers * per_layer,
        weights_ms=factors.k_weights * weight_bytes / (hw.tp * bw) * 1000.0,
        prefill_ms_per_token=2.0 * shape.active_params_b * 1e9 / (hw.tp * flops * factors.mfu) * 1000.0,
        decode_ms_per_token=2.0 * shape.active_params_b * 1e9 / (hw.tp * flops * mfu_decode) * 1000.0,
        kv_ms_per_token=factors.k_kv * kv_bytes / (hw.tp * bw) * 1000.0,
        comm_ms_per_token=factors.k_comm * shape.allreduce_bytes_per_token(hw.tp) / (hw.gpu.link_gb_s * 1e9) * 1000.0,
        seq_ms=factors.seq_ms,
        overlap=factors.overlap,
        jitter_sigma=jitter_sigma,
        front_ms=front_ms,
    )


def kv_capacity_tokens(shape: ModelShape, hw: Hardware) -> int:
    """Tokens of KV cache that fit: (memory · utilisation − weight shard − reserve) per GPU, summed.

    KV heads are split across TP ranks, so each rank holds 1/TP of every token's KV and the
    capacity in tokens is (free bytes per GPU · TP) / bytes per token.
    """
    free_per_gpu = (
        hw.gpu.memory_gib * GIB * hw.memory_utilization
        - shape.params_b * 1e9 * DTYPE_BYTES[hw.weight_dtype] / hw.tp
        - hw.reserve_gib * GIB
    )
    if free_per_gpu <= 0:
        raise ValueError(f"{shape.name} does not fit on {hw.tp}× {hw.gpu.name} with {hw.weight_dtype} weights")
    return int(free_per_gpu * hw.tp / shape.kv_bytes_per_token(DTYPE_BYTES[hw.kv_dtype]))

"""Built-in deployments: engine settings and step-time coefficients with their provenance.

Each preset is a model on its GPUs (engine/load/physics.py turns that into coefficients)
plus the dimensionless factors fitted on the calibration split of the project's trace set
(``bench/calibrate.py`` reproduces the fit; docs/fidelity.md reports the result).
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.physics import (
    GPUS,
    MODELS,
    Hardware,
    PhysicsFactors,
    derive_step_model,
    kv_capacity_tokens,
)
from llm_simulator.engine.load.replica import EngineSettings


@dataclass(frozen=True, slots=True)
class PresetRecipe:
    """How a preset is built: model, hardware, engine limits, fitted factors, provenance."""

    name: str
    model: str
    gpu: str
    tp: int
    weight_dtype: str
    kv_dtype: str
    max_num_seqs: int
    max_num_batched_tokens: int
    factors: PhysicsFactors
    front_ms: float
    jitter_sigma: float
    description: str
    provenance: str
    # KV capacity in tokens when the source states it; otherwise derived from memory.
    kv_tokens: int | None = None
    block_size: int = 16
    prefix_caching: bool = True
    replicas: int = 1
    router: str = "least_loaded"

    def build(self) -> DeploymentSpec:
        """The deployment spec this recipe describes."""
        shape = MODELS[self.model]
        hw = Hardware(GPUS[self.gpu], tp=self.tp, weight_dtype=self.weight_dtype, kv_dtype=self.kv_dtype)
        kv_tokens = self.kv_tokens if self.kv_tokens is not None else kv_capacity_tokens(shape, hw)
        step = derive_step_model(shape, hw, self.factors, jitter_sigma=self.jitter_sigma, front_ms=self.front_ms)
        settings = EngineSettings(
            max_num_seqs=self.max_num_seqs,
            max_num_batched_tokens=self.max_num_batched_tokens,
            kv_blocks=kv_tokens // self.block_size,
            block_size=self.block_size,
            prefix_caching=self.prefix_caching,
        )
        facts = {"model": self.model, "gpu": self.gpu, "tp": str(self.tp), "weights": self.weight_dtype,
                 "kv_cache": self.kv_dtype, "kv_tokens": str(kv_tokens)}
        return DeploymentSpec(self.name, settings, step, replicas=self.replicas, router=self.router,
                              description=self.description, provenance=self.provenance, facts=facts)


# The 7B TP1 fit of the design notes (k_w 1.4, k_kv 0.5, κ 0.5); replaced by bench/calibrate.py's output.
_VLLM_FACTORS = PhysicsFactors()

RECIPES: tuple[PresetRecipe, ...] = (
    PresetRecipe(
        name="vllm-h100-7b-tp1",
        model="llama-2-7b", gpu="h100", tp=1, weight_dtype="bf16", kv_dtype="bf16",
        max_num_seqs=128, max_num_batched_tokens=2048,
        factors=_VLLM_FACTORS, front_ms=8.0, jitter_sigma=0.03,
        description="vLLM, Llama-2-7B on one H100 SXM (bf16).",
        provenance="physics from the model card and H100 data sheet; factors from the design-note fit "
        "on inference-sim-training Llama-2-7B stage_0/stage_1 (calibration split)",
    ),
    PresetRecipe(
        name="vllm-h100-70b-tp4",
        model="llama-2-70b", gpu="h100", tp=4, weight_dtype="bf16", kv_dtype="bf16",
        max_num_seqs=128, max_num_batched_tokens=2048,
        factors=_VLLM_FACTORS, front_ms=8.0, jitter_sigma=0.03,
        description="vLLM, Llama-2-70B on four H100 SXM, tensor parallel (bf16).",
        provenance="physics from the model card and H100 data sheet; factors shared with the 7B fit",
    ),
    PresetRecipe(
        name="nim-llama33-70b-2xh100-fp8",
        model="llama-3.3-70b", gpu="h100", tp=2, weight_dtype="fp8", kv_dtype="fp8",
        max_num_seqs=256, max_num_batched_tokens=8192,
        factors=_VLLM_FACTORS, front_ms=15.0, jitter_sigma=0.03,
        description="NVIDIA NIM, Llama-3.3-70B on two H100 (fp8 weights and KV cache).",
        provenance="physics only; anchored on nothing but the stated engine limits",
    ),
    PresetRecipe(
        name="vllm-h100-codellama-34b-tp2",
        model="codellama-34b", gpu="h100", tp=2, weight_dtype="bf16", kv_dtype="bf16",
        max_num_seqs=128, max_num_batched_tokens=2048,
        factors=_VLLM_FACTORS, front_ms=8.0, jitter_sigma=0.03,
        description="vLLM, CodeLlama-34B on two H100 SXM, tensor parallel (bf16).",
        provenance="physics only",
    ),
    PresetRecipe(
        name="vllm-h100-mixtral-8x7b-tp2",
        model="mixtral-8x7b", gpu="h100", tp=2, weight_dtype="bf16", kv_dtype="bf16",
        max_num_seqs=128, max_num_batched_tokens=2048,
        factors=_VLLM_FACTORS, front_ms=8.0, jitter_sigma=0.03,
        description="vLLM, Mixtral-8x7B on two H100 SXM, tensor parallel (bf16).",
        provenance="physics only",
    ),
    *(
        PresetRecipe(
            name=f"{provider}-hosted",
            model="llama-3.3-70b", gpu="h100", tp=4, weight_dtype="bf16", kv_dtype="bf16",
            max_num_seqs=256, max_num_batched_tokens=8192, replicas=4,
            factors=_VLLM_FACTORS, front_ms=200.0, jitter_sigma=0.05,
            description=f"Shaped like the {provider} hosted API at low load.",
            provenance="shaped, not measured under load",
        )
        for provider in ("openai", "anthropic", "gemini")
    ),
)

PRESETS: dict[str, DeploymentSpec] = {recipe.name: recipe.build() for recipe in RECIPES}


def preset_names() -> list[str]:
    """The built-in deployment names, sorted."""
    return sorted(PRESETS)

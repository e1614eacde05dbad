"""Built-in named latency profiles.

The first group keeps the names and numbers other simulators settled on (so their configs
carry over). The second group is derived from measured traces (the calibration split of the
project's trace set; method and tables in docs/latency.md, "How the derived profiles were
fitted"): log-normal TTFT and ITL by p50/p99 plus a prefill cost per prompt token, with the
TTFT distribution holding the part of TTFT that does not depend on prompt length.
"""

from __future__ import annotations

from llm_simulator.config.distributions import (
    FixedSpec,
    LatencyProfileSpec,
    LogNormalSpec,
    MixtureComponent,
    MixtureSpec,
    NormalSpec,
)


def _normal(mean: float, std: float) -> NormalSpec:
    return NormalSpec(mean_ms=mean, std_dev_ms=std)


def _lognormal(mean: float, std: float) -> LogNormalSpec:
    return LogNormalSpec(mean_ms=mean, std_dev_ms=std)


def _lognormal_q(p50: float, p99: float) -> LogNormalSpec:
    return LogNormalSpec(p50_ms=p50, p99_ms=p99)


BUILTIN_PROFILES: dict[str, LatencyProfileSpec] = {
    "instant": LatencyProfileSpec(
        ttft=FixedSpec(value_ms=0), itl=FixedSpec(value_ms=0), description="No delay at all."
    ),
    "fast": LatencyProfileSpec(
        ttft=_normal(50, 10),
        itl=_normal(15, 3),
        overhead_ms=5,
        prefill_ms_per_token=0.01,
        description="A fast small model.",
    ),
    "standard": LatencyProfileSpec(
        ttft=_normal(200, 50),
        itl=_normal(30, 8),
        overhead_ms=10,
        prefill_ms_per_token=0.03,
        description="The default: a typical hosted model.",
    ),
    "slow": LatencyProfileSpec(
        ttft=_normal(500, 100),
        itl=_normal(60, 15),
        overhead_ms=20,
        prefill_ms_per_token=0.08,
        description="A large, busy model.",
    ),
    "gpt4": LatencyProfileSpec(
        ttft=_lognormal(300, 150),
        itl=_lognormal(40, 15),
        overhead_ms=15,
        prefill_ms_per_token=0.05,
        description="OpenAI GPT-4-class model.",
    ),
    "claude": LatencyProfileSpec(
        ttft=_lognormal(250, 100),
        itl=_lognormal(35, 12),
        overhead_ms=12,
        prefill_ms_per_token=0.05,
        description="Anthropic Claude-class model.",
    ),
    "gemini": LatencyProfileSpec(
        ttft=_lognormal(200, 80),
        itl=_lognormal(25, 10),
        overhead_ms=10,
        prefill_ms_per_token=0.03,
        description="Google Gemini-class model.",
    ),
    "embedding": LatencyProfileSpec(
        ttft=_lognormal_q(25, 90),
        itl=FixedSpec(value_ms=0),
        overhead_ms=5,
        prefill_ms_per_token=0.002,
        description="An embedding endpoint (one forward pass).",
    ),
    # Derived from traces (see the module docstring).
    "hosted-fast": LatencyProfileSpec(
        ttft=MixtureSpec(
            components=(
                MixtureComponent(weight=0.995, dist=_lognormal_q(196, 436)),
                MixtureComponent(weight=0.005, dist=_lognormal_q(10_000, 100_000)),
            )
        ),
        itl=_lognormal_q(8, 12),
        prefill_ms_per_token=0.026,
        description="Fast hosted open-model API (llmperf 7B/13B/70B fast endpoints, 2023), "
        "with a rare cold-start tail.",
    ),
    "hosted-standard": LatencyProfileSpec(
        ttft=_lognormal_q(355, 785),
        itl=_lognormal_q(22, 30),
        prefill_ms_per_token=0.081,
        description="Typical hosted 70B-class API (llmperf pooled 70B endpoints, 2023).",
    ),
    "vllm-h100-7b": LatencyProfileSpec(
        ttft=MixtureSpec(
            components=(
                MixtureComponent(weight=0.98, dist=_lognormal_q(11, 18)),
                MixtureComponent(weight=0.02, dist=_lognormal_q(25, 65)),
            )
        ),
        itl=_lognormal_q(7.5, 9.0),
        overhead_ms=0,
        prefill_ms_per_token=0.026,
        description="vLLM, Llama-2-7B on one H100 at low load.",
    ),
    "vllm-h100-70b": LatencyProfileSpec(
        ttft=MixtureSpec(
            components=(
                MixtureComponent(weight=0.98, dist=_lognormal_q(5, 20)),
                MixtureComponent(weight=0.02, dist=_lognormal_q(52, 152)),
            )
        ),
        itl=_lognormal_q(18, 23.5),
        overhead_ms=0,
        prefill_ms_per_token=0.081,
        description="vLLM, Llama-2-70B TP4 on H100 at low load.",
    ),
}

"""How long one engine step takes, from what the step holds.

A step of a continuous-batching engine runs every sequence in the batch through the model
once: decode sequences add one token each, prefilling sequences add a chunk of their prompt.
On a GPU that step is bounded by the larger of two costs — arithmetic on the tokens in the
step (compute) and reading the weights plus every decode sequence's KV cache from memory
(bandwidth) — plus a fixed per-step cost (scheduling, kernel launches, sampling) that does
not shrink with the batch. That roofline shape is what makes the inter-token latency grow
with batch size and context, and what makes a long prefill stall everyone's next token.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StepTimeModel:
    """The step-time formula's coefficients (all times in milliseconds).

    ``duration_ms`` (before noise)::

        C = prefill_ms_per_token · P + decode_ms_per_token · D + attention_ms_per_token_pair · Σ chunk·context
        M = weights_ms + kv_ms_per_token · Σ decode context
        step = step_ms + seq_ms · S + comm_ms_per_token · D + max(C, M) + overlap · min(C, M)

    where ``P`` is the prefill tokens in the step, ``D`` the decode tokens, ``S`` the
    sequences in the batch. ``overlap`` (κ, 0-1) says how much of the smaller cost is *not*
    hidden behind the larger one: 0 is a perfect roofline, 1 adds the two (BLIS's form).
    ``decode_ms_per_token`` defaults to ``prefill_ms_per_token``. A decode token's
    tensor-parallel all-reduce (``comm_ms_per_token``) is serial with the layer that waits for
    it, so it is added outside the roofline; a prefill chunk's all-reduces are large messages
    that run near the link's bandwidth, and their time is part of the measured prefill cost
    (``prefill_ms_per_token``, whose MFU is fitted on measured prefills).
    """

    # Fixed cost of every step (ms): scheduler, kernel launches, sampling, TP collectives.
    step_ms: float
    # Reading the model's weights once (ms); paid every step however small the batch.
    weights_ms: float
    # Compute per token processed in the step (ms/token), prefill or decode: 2·N/(TP·peak·MFU).
    prefill_ms_per_token: float
    # Reading one token of KV context for one decode sequence (ms/token).
    kv_ms_per_token: float
    # Compute per decode token (ms/token); None: prefill_ms_per_token. Decode GEMMs are skinny
    # (one row per sequence) and run under CUDA graphs, so their efficiency is the engine's,
    # not the prefill MFU of one model (an MoE's routed prefill is slow, its decode is not).
    decode_ms_per_token: float | None = None
    # Tensor-parallel all-reduce per decode token (ms/token); 0 on one GPU. Small messages:
    # latency-bound, well below the link's bandwidth.
    comm_ms_per_token: float = 0.0
    # Per sequence in the batch (ms): sampling, detokenising, bookkeeping.
    seq_ms: float = 0.0
    # Fraction (0-1) of the smaller of compute and memory time not hidden by the larger.
    overlap: float = 0.5
    # Quadratic attention cost of prefill (ms per chunk token × context token); matters past ~8k.
    attention_ms_per_token_pair: float = 0.0
    # Log-normal noise of a step's duration: σ of ln(factor); one factor shared by the batch.
    jitter_sigma: float = 0.03
    # A rare stall (a GC pause, a scheduler hiccup): its probability per step and length (ms).
    stall_probability: float = 0.0
    stall_ms: float = 0.0
    # Arrival → engine queue (ms): HTTP, tokenisation, API-server overhead; added to TTFT only.
    front_ms: float = 0.0
    # Warm-up (ms): added to the first step a replica runs with a token count in a power-of-two
    # bucket it has not run before. Kernels are compiled and autotuned for a shape on first
    # use (vLLM's fused-MoE Triton kernels compile per batch-size bucket), so a fresh server's
    # first minute has a few very slow steps and then none; see ``cold_bucket``.
    cold_shape_ms: float = 0.0

    def duration_ms(
        self, prefill_tokens: int, decode_tokens: int, sequences: int, decode_context: int, attention_pairs: int = 0
    ) -> float:
        """The step's duration without noise (ms); see the class docstring for the formula."""
        per_decode = self.prefill_ms_per_token if self.decode_ms_per_token is None else self.decode_ms_per_token
        compute = (
            self.prefill_ms_per_token * prefill_tokens
            + per_decode * decode_tokens
            + self.attention_ms_per_token_pair * attention_pairs
        )
        memory = self.weights_ms + self.kv_ms_per_token * decode_context
        big, small = (compute, memory) if compute >= memory else (memory, compute)
        comm = self.comm_ms_per_token * decode_tokens
        return self.step_ms + self.seq_ms * sequences + comm + big + self.overlap * small

    def noise(self, rng: random.Random) -> tuple[float, float]:
        """One step's (multiplicative factor, added stall ms), drawn from ``rng``.

        The factor is log-normal with median 1 (``exp(σ·z)``), so σ = 0.03 spreads step times
        by about ±3 %; a stall is added with ``stall_probability``.
        """
        factor = math.exp(self.jitter_sigma * rng.gauss(0.0, 1.0)) if self.jitter_sigma > 0 else 1.0
        stall = self.stall_ms if self.stall_probability > 0 and rng.random() < self.stall_probability else 0.0
        return factor, stall


def cold_bucket(tokens: int) -> int:
    """The warm-up bucket of a step of ``tokens`` tokens: ⌈log2⌉, so 1, 2, 3-4, 5-8, … share one each."""
    return max(0, tokens - 1).bit_length()

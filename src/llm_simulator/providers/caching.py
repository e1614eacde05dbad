"""Cached prompt tokens as each API reports them.

A load-aware engine with prefix caching tells the plan how many prompt tokens it found
cached (``GenerationPlan.cached_tokens``; always 0 without one). Each API reports hits by
its own rules: OpenAI only for prompts of at least 1024 tokens and in 128-token steps,
Gemini (implicit caching) only above a per-model minimum. Anthropic's explicit
``cache_control`` breakpoints are in ``providers.anthropic.caching``.
"""

from __future__ import annotations

from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator

# OpenAI caches prompts of 1024 tokens or more and reports hits in steps of 128 tokens
# (1024, 1152, 1280, …): its prompt-caching guide.
OPENAI_MIN_CACHED = 1024
OPENAI_CACHE_STEP = 128

# Gemini's implicit caching: the minimum prompt per model family, most specific first.
# Google's table says 2048 for both 2.5 Flash and Pro, but the API enforces 1024 for Flash
# and 2048 for Flash-Lite (its own error message); Pro is taken at the table's 2048.
# Gemini 1.x and 2.0 have no implicit caching.
_GEMINI_MINIMUM: tuple[tuple[str, int], ...] = (("flash-lite", 2048), ("flash", 1024), ("pro", 2048))
GEMINI_DEFAULT_MINIMUM = 1024
_GEMINI_WITHOUT_IMPLICIT = ("gemini-1.", "gemini-2.0")


def prefix_cache_block(sim: Simulator, spec: ModelSpec) -> int:
    """The block size of the prefix cache serving ``spec`` (0: none, cached tokens stay 0)."""
    engine = sim.engine_for(spec)
    if engine is None or not engine.spec.settings.prefix_caching:
        return 0
    return engine.spec.settings.block_size


def openai_cached_tokens(cached: int) -> int:
    """``cached_tokens`` as OpenAI reports a hit of ``cached`` prompt tokens."""
    reported = cached // OPENAI_CACHE_STEP * OPENAI_CACHE_STEP
    return reported if reported >= OPENAI_MIN_CACHED else 0


def gemini_minimum(model_id: str) -> int | None:
    """The least prompt Gemini's implicit cache holds for ``model_id`` (None: no implicit caching)."""
    if model_id.startswith(_GEMINI_WITHOUT_IMPLICIT):
        return None
    for marker, minimum in _GEMINI_MINIMUM:
        if marker in model_id:
            return minimum
    return GEMINI_DEFAULT_MINIMUM


def gemini_cached_tokens(model_id: str, cached: int) -> int:
    """``cachedContentTokenCount`` for a hit of ``cached`` tokens (0: the field is left out)."""
    minimum = gemini_minimum(model_id)
    return cached if minimum is not None and cached >= minimum else 0

"""Simulator.count_tokens: cached for short texts only, exact for all."""

from __future__ import annotations

from llm_simulator.config import load_config
from llm_simulator.engine.simulator import CACHED_TEXT_CHARS, Simulator


def test_long_texts_are_counted_but_not_cached() -> None:
    sim = Simulator(load_config())
    short, long = "hello world", "word " * (CACHED_TEXT_CHARS // 2)
    assert sim.count_tokens(short) == sim.tokenizer.count(short)
    assert sim.count_tokens(long) == sim.tokenizer.count(long)
    cached = sim._count_cached.cache_info()
    assert cached.currsize == 1  # only the short text stays in memory

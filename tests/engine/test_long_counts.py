"""Long texts' token counts: remembered within a character budget, least recently used first out."""

from __future__ import annotations

from llm_simulator.config.loader import load_config
from llm_simulator.engine.long_counts import LongTextCounts
from llm_simulator.engine.simulator import Simulator


def test_the_budget_bounds_what_is_kept_and_evicts_the_least_recently_used() -> None:
    cache = LongTextCounts(max_chars=100)
    a, b, c = "a" * 20, "b" * 20, "c" * 20
    for text, n in ((a, 1), (b, 2), (c, 3)):
        cache.put(text, n)
    assert cache.get(a) == 1  # a is now the most recently used
    cache.put("d" * 25, 4)
    cache.put("e" * 25, 5)  # 110 chars: b, the least recently used, goes
    assert cache.get(b) is None and cache.get(a) == 1 and cache.get(c) == 3
    assert cache.chars <= 100 and len(cache) == 4


def test_a_text_over_a_quarter_of_the_budget_is_never_kept() -> None:
    cache = LongTextCounts(max_chars=100)
    cache.put("x" * 26, 9)
    assert cache.get("x" * 26) is None and cache.chars == 0


def test_a_long_text_is_tokenised_once_and_counted_the_same() -> None:
    sim = Simulator(load_config())
    calls: list[int] = []
    real_count = sim.tokenizer.count

    class Counting:
        """The simulator's tokenizer, counting its calls."""

        max_token_bytes = sim.tokenizer.max_token_bytes

        def count(self, text: str) -> int:
            calls.append(len(text))
            return real_count(text)

    sim.tokenizer = Counting()  # type: ignore[assignment]
    text = " ".join(f"word{i} and some more text" for i in range(20_000))  # ~500 kB
    first = sim.count_tokens(text)
    again = sim.count_tokens("".join([text[:10], text[10:]]))  # equal, another object: found by value
    assert first == again == real_count(text) > 50_000
    assert calls == [len(text)]

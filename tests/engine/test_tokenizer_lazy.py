"""The tokenizer loads on first use, once, whichever threads ask first (start-up time).

Commands and tests that count nothing never load the vocabulary; a server loads it before
it listens. These tests pin that the counts are the same however the load was triggered,
and that concurrent first uses (a request's thread and the event loop) load it once.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_simulator.engine import tokenizer as tokenizer_module
from llm_simulator.engine.textgen.strategies import PieceCache, WordSalad
from llm_simulator.engine.textgen.words import LOREM_WORDS
from llm_simulator.engine.tokenizer import Tokenizer, get_tokenizer


def is_loaded(tok: Tokenizer) -> bool:
    """``tok.loaded`` read through a call (mypy would keep a narrowed property's value)."""
    return tok.loaded


TEXTS = ("Hello world, how are you?", "Grüße 🙂 日本語", "x" * 5000, "")


def test_a_lazy_tokenizer_loads_on_first_use_with_the_eager_counts() -> None:
    lazy = Tokenizer(lazy=True)
    assert not is_loaded(lazy)
    eager = get_tokenizer()
    assert [lazy.count(t) for t in TEXTS] == [eager.count(t) for t in TEXTS] == [7, 6, 625, 0]
    assert is_loaded(lazy)
    assert lazy.max_token_bytes == 128
    assert lazy.vocab_size == eager.vocab_size


@pytest.mark.parametrize("first", ["vocab_size", "max_token_bytes"])
def test_reading_a_loaded_attribute_first_loads_everything(first: str) -> None:
    lazy = Tokenizer(lazy=True)
    assert getattr(lazy, first) > 0
    assert is_loaded(lazy)
    assert lazy.encode("hello") == [24912]


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    lazy = Tokenizer(lazy=True)
    with pytest.raises(AttributeError):
        _ = lazy.no_such_attribute
    assert not is_loaded(lazy)  # asking for something else did not load the vocabulary


def test_threads_using_it_first_at_once_load_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    read = tokenizer_module._read_vocabulary

    def counted_read() -> bytes:
        reads.append(threading.get_ident())
        return read()

    monkeypatch.setattr(tokenizer_module, "_read_vocabulary", counted_read)
    lazy = Tokenizer(lazy=True)
    start = threading.Barrier(8)

    def first_use(i: int) -> int:
        start.wait()
        return lazy.count(TEXTS[i % len(TEXTS)])

    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(first_use, range(8)))
    assert len(reads) == 1
    assert counts == [[7, 6, 625, 0][i % 4] for i in range(8)]


def test_a_word_salad_pool_is_written_on_first_use_or_warm_up() -> None:
    tok = Tokenizer(lazy=True)
    salad = WordSalad(LOREM_WORDS, PieceCache(tok))
    assert not is_loaded(tok)  # building the strategy needs no vocabulary
    salad.warm()
    assert is_loaded(tok)
    units = salad.compose([], random.Random(1), 50)
    assert len(units) >= 50
    assert all(tok.count(unit) >= 1 for unit in units)

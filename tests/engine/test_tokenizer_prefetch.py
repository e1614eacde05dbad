"""The vocabulary read ahead by ``serve`` (``prefetch_vocabulary``), and the encoder built from tiktoken's core."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from llm_simulator.engine import tokenizer as tokenizer_module
from llm_simulator.engine.tokenizer import (
    Tokenizer,
    VocabularyError,
    drop_prefetch,
    get_tokenizer,
    prefetch_vocabulary,
)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that read the vocabulary, with a process tokenizer not loaded yet."""
    names: list[str] = []
    read = tokenizer_module._read_vocabulary

    def named_read() -> bytes:
        names.append(threading.current_thread().name)
        return read()

    monkeypatch.setattr(tokenizer_module, "_read_vocabulary", named_read)
    monkeypatch.setattr(tokenizer_module, "_PROCESS_TOKENIZER", Tokenizer(lazy=True))
    monkeypatch.setattr(tokenizer_module, "_PREFETCH", tokenizer_module._Prefetch())
    return names


def _loaded_counts() -> list[int]:
    loaded = tokenizer_module.get_tokenizer()
    return [loaded.count("Hello world, how are you?"), loaded.count("x" * 5000)]


def test_a_load_takes_the_vocabulary_read_ahead_in_its_thread(reads: list[str]) -> None:
    prefetch_vocabulary()
    prefetch_vocabulary()  # one read ahead at a time
    assert _loaded_counts() == [7, 625]
    assert reads == ["vocabulary-prefetch"]


def test_a_dropped_read_ahead_leaves_the_load_to_read_the_file(reads: list[str]) -> None:
    prefetch_vocabulary()
    drop_prefetch()
    assert _loaded_counts() == [7, 625]
    assert reads[-1] == threading.current_thread().name
    assert tokenizer_module._PREFETCH.take() is None  # nothing left for a later load


def test_nothing_is_read_ahead_for_a_loaded_tokenizer(reads: list[str]) -> None:
    tokenizer_module.get_tokenizer().load()
    prefetch_vocabulary()
    assert tokenizer_module._PREFETCH.take() is None
    assert reads == [threading.current_thread().name]


def _failing_in(thread_name: str, then: Callable[[], bytes]) -> Callable[[], bytes]:
    def read() -> bytes:
        if threading.current_thread().name == thread_name:
            raise VocabularyError("o200k_base vocabulary digest mismatch: (a test)")
        return then()

    return read


def test_a_failed_read_ahead_is_read_again_by_the_load(reads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        tokenizer_module, "_read_vocabulary", _failing_in("vocabulary-prefetch", tokenizer_module._read_vocabulary)
    )
    prefetch_vocabulary()
    assert _loaded_counts() == [7, 625]
    assert reads == [threading.current_thread().name]


def test_a_vocabulary_that_cannot_be_read_fails_the_load_with_its_error(
    reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> bytes:
        raise VocabularyError("o200k_base vocabulary digest mismatch: (a test)")

    monkeypatch.setattr(tokenizer_module, "_read_vocabulary", broken)
    prefetch_vocabulary()
    with pytest.raises(VocabularyError, match="digest mismatch"):
        tokenizer_module.get_tokenizer().load()


def test_a_shipped_file_that_is_not_gzip_is_a_vocabulary_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class NotGzip:
        def joinpath(self, _: str) -> NotGzip:
            return self

        def read_bytes(self) -> bytes:
            return b"plain text, not gzip"

    monkeypatch.setattr("llm_simulator.engine.tokenizer.resources.files", lambda _: NotGzip())
    with pytest.raises(VocabularyError, match="not gzip"):
        tokenizer_module._read_vocabulary()


def test_lone_surrogates_count_as_replacement_characters_at_every_length() -> None:
    tok = get_tokenizer()
    for text in ("ab\ud800cd", "ab\ud800cd " * 2000):  # the short path and the id-buffer path
        replaced = text.replace("\ud800", "\ufffd")
        assert tok.encode(text) == tok.encode(replaced)
        assert tok.count(text) == tok.count(replaced) == len(tok.encode(replaced))


def test_the_core_answers_as_tiktokens_encoding_did() -> None:
    tok = get_tokenizer()
    assert tok.vocab_size == 200_019  # tiktoken's ``n_vocab`` of o200k_base: its last special token + 1
    assert tok.decode(tok.encode("Grüße 🙂 日本語")) == "Grüße 🙂 日本語"
    first_byte_of_e_acute = next(i for i in range(256) if tok.token_bytes(i) == b"\xc3")
    assert tok.decode([first_byte_of_e_acute]) == "\ufffd"  # invalid UTF-8 is replaced, not raised
    assert tok.split_counted("🙂") == [("🙂", 1)]

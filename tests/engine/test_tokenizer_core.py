"""The encoder built straight from tiktoken's Rust core: what tiktoken's ``Encoding`` did, and the file's checks."""

from __future__ import annotations

import pytest

from llm_simulator.engine import tokenizer as tokenizer_module
from llm_simulator.engine.tokenizer import VocabularyError, get_tokenizer


def test_a_shipped_file_that_cannot_be_inflated_is_a_vocabulary_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class NotGzip:
        def joinpath(self, _: str) -> NotGzip:
            return self

        def read_bytes(self) -> bytes:
            return b"plain text, not gzip"

    monkeypatch.setattr("llm_simulator.engine.tokenizer.resources.files", lambda _: NotGzip())
    with pytest.raises(VocabularyError, match="cannot be inflated"):
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

